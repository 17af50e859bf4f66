/** Runs examples/app/server.js as a real process, and small HTTP and process probes for the tests that use it. */
import { spawn, type ChildProcess } from 'node:child_process'
import http from 'node:http'
import net from 'node:net'
import type { TestContext } from 'node:test'
import { fileURLToPath } from 'node:url'
import { waitFor } from './wait.js'

/** Absolute path of the sample app (tests run from dist/test/...). */
export const SAMPLE_APP = fileURLToPath(new URL('../../../examples/app/server.js', import.meta.url))

export interface SampleApp {
  readonly child: ChildProcess
  readonly pid: number
  readonly port: number
  readonly address: string
  /** Everything it printed so far. */
  output(): string
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/**
 * Starts the sample app on a system-chosen port (PORT=0) with `env` and resolves once it listens, or with
 * `waitListening: false` right after spawn. It is killed when the test ends.
 */
export async function startSampleApp(
  t: TestContext,
  env: Record<string, string>,
  options: { waitListening?: boolean } = {},
): Promise<SampleApp> {
  const child = spawn(process.execPath, [SAMPLE_APP], { env: { ...process.env, PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  const pid = child.pid
  if (pid === undefined) throw new Error('could not spawn the sample app')
  t.after(() => killTree(pid))
  let text = ''
  child.stdout.on('data', (c: Buffer) => (text += c.toString()))
  child.stderr.on('data', (c: Buffer) => (text += c.toString()))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  )
  let port = 0
  if (options.waitListening !== false) {
    port = await waitFor('the sample app to listen', () => {
      const match = /listening on http:\/\/[^\s]+:(\d+)/.exec(text)
      return match === null ? undefined : Number(match[1])
    })
  }
  return { child, pid, port, address: `127.0.0.1:${port}`, output: () => text, exited }
}

export interface Reply {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly body: string
}

/** GET over a fresh connection (no pooled keep-alive socket outlives the test). */
export function get(address: string, path = '/'): Promise<Reply> {
  const colon = address.lastIndexOf(':')
  return new Promise((resolve, reject) => {
    const req = http.get({ host: address.slice(0, colon), port: Number(address.slice(colon + 1)), path, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => (body += c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
      res.on('error', reject)
    })
    req.on('error', reject)
  })
}

/** Polls until `address` answers `path` (any status); rejects after `timeoutMs`. */
export async function waitAnswering(address: string, path = '/healthz', timeoutMs = 5000): Promise<Reply> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return await get(address, path)
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${address} did not answer within ${timeoutMs} ms: ${String(err)}`)
      await new Promise((r) => setTimeout(r, 25))
    }
  }
}

/** Whether a TCP connection to `address` is refused. */
export function refuses(address: string): Promise<boolean> {
  const colon = address.lastIndexOf(':')
  return new Promise((resolve) => {
    const socket = net.connect(Number(address.slice(colon + 1)), address.slice(0, colon))
    socket.once('connect', () => {
      socket.destroy()
      resolve(false)
    })
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'))
  })
}

/** SIGKILL to the group led by `pid` and to `pid` itself; nothing when they are gone. */
export function killTree(pid: number): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL')
    } catch {
      // ESRCH: already gone.
    }
  }
}
