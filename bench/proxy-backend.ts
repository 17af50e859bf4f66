/**
 * The backend every target forwards to: nginx when installed (it answers far faster than any proxy in front of
 * it, so the proxy is the bottleneck), else the bench's own Node server - which is slower and makes every
 * proxy look closer to the direct figure; the output says which one ran.
 */
import { fileURLToPath } from 'node:url'
import { startNginxBackend } from './proxy-nginx.js'
import { freePort, startProcess, waitForPort, type Managed } from './proxy-processes.js'

/** dist/bench/proxy-backend.js -> dist/bench/proxy-node-server.js */
export const NODE_SERVER = fileURLToPath(new URL('./proxy-node-server.js', import.meta.url))

export interface Backend {
  readonly kind: 'nginx' | 'node'
  readonly port: number
  readonly proc: Managed
}

export async function startBackend(dir: string, useNginx: boolean): Promise<Backend> {
  const port = await freePort()
  if (useNginx) return { kind: 'nginx', port, proc: await startNginxBackend(dir, port) }
  return { kind: 'node', port, proc: await startNodeServer(port) }
}

/** The bench's Node server on `port`; with `name`, it answers its name (release-time scenario). */
export async function startNodeServer(port: number, name?: string): Promise<Managed> {
  const args = [NODE_SERVER, '--port', String(port), ...(name === undefined ? [] : ['--name', name])]
  const proc = startProcess(name ?? 'node-backend', process.execPath, args, { raiseFdLimit: true })
  await waitForPort(port, proc)
  return proc
}
