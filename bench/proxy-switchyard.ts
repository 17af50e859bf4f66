/**
 * Switchyard for bench/proxy: the compiled CLI (`switchyard run -c FILE`) as a child process, like an operator
 * runs it - the bench measures the shipped program, not an in-process LoadBalancer sharing the bench's event
 * loop. Ready when the admin listener's /healthz says so.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { httpRequest, type Answer } from './proxy-http.js'
import { freePort, sleep, startProcess, type Managed } from './proxy-processes.js'

/** dist/bench/proxy-switchyard.js -> dist/src/cli/main.js */
export const SWITCHYARD_MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url))
export const ADMIN_TOKEN = 'bench-token'

export interface Switchyard {
  readonly proc: Managed
  readonly port: number
  readonly adminPort: number
  /** An admin API call with the bench's token. */
  admin(method: string, path: string, body?: unknown): Promise<Answer>
}

export interface SwitchyardConfig {
  /** The `backends:` section's entries, indented by 2 spaces. */
  readonly backends: string
  /** Extra top-level sections (services), unindented. */
  readonly extra?: string
  /** `workers:` (default 1: the balancer's own process serves). */
  readonly workers?: number
}

/** Servers as a `servers:` block of backend `app`. */
export function appBackend(servers: Readonly<Record<string, number>>): string {
  return ['  app:', '    servers:', ...Object.entries(servers).map(([name, port]) => `      ${name}: { address: 127.0.0.1:${port} }`)].join('\n')
}

export async function startSwitchyard(dir: string, name: string, config: SwitchyardConfig, nodeArgs: readonly string[] = []): Promise<Switchyard> {
  const port = await freePort()
  const adminPort = await freePort()
  const file = join(dir, `${name}.yaml`)
  writeFileSync(
    file,
    [
      // Benchmarks measure the data path: an access line per request would be a second workload.
      'access_log: false',
      `workers: ${config.workers ?? 1}`,
      `state_dir: ${JSON.stringify(join(dir, `${name}-state`))}`,
      `admin: { listen: 127.0.0.1:${adminPort}, token: ${ADMIN_TOKEN} }`,
      'frontends:',
      '  web:',
      `    listen: 127.0.0.1:${port}`,
      '    default_backend: app',
      // The memory scenario holds 10,000 idle keep-alive clients for longer than the 10 s default.
      '    timeouts: { keep_alive: 10m, client: 10m }',
      'backends:',
      config.backends,
      config.extra ?? '',
      '',
    ].join('\n'),
  )
  const proc = startProcess(name, process.execPath, [...nodeArgs, SWITCHYARD_MAIN, 'run', '-c', file], {
    cwd: dir,
    raiseFdLimit: true,
    // A stop waits this long for requests in flight: short, the bench stops it only when the load is over.
    env: { ...process.env, SWITCHYARD_STOP_GRACE_MS: '2000' },
  })
  const admin = (method: string, path: string, body?: unknown): Promise<Answer> =>
    httpRequest(adminPort, method, path, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, body })
  const deadline = Date.now() + 20_000
  let dead = false
  void proc.exited.then(() => (dead = true))
  for (;;) {
    if (dead) throw new Error(`${name} exited at start:\n${proc.stderr().slice(-3000)}\n${proc.stdout().slice(-3000)}`)
    const ready = await admin('GET', '/healthz').then(
      (a) => a.status === 200,
      () => false,
    )
    if (ready) break
    if (Date.now() > deadline) throw new Error(`${name} not ready after 20 s:\n${proc.stderr().slice(-3000)}\n${proc.stdout().slice(-3000)}`)
    await sleep(50)
  }
  return { proc, port, adminPort, admin }
}

/** Resolves once every server of backend `app` is UP (services start their instances after /healthz is ready). */
export async function waitAllUp(sy: Switchyard, count: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const state = JSON.parse((await sy.admin('GET', '/api/v1/state')).body) as { backends: { name: string; servers: { state: string }[] }[] }
    const servers = state.backends.find((b) => b.name === 'app')?.servers ?? []
    if (servers.filter((s) => s.state === 'UP').length >= count) return
    if (Date.now() > deadline) throw new Error(`servers of app not UP after ${timeoutMs} ms: ${JSON.stringify(servers)}`)
    await sleep(100)
  }
}
