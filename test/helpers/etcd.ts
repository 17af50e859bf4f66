import { spawn, type ChildProcess } from 'node:child_process'
import { accessSync, constants, openSync, closeSync } from 'node:fs'
import net from 'node:net'
import { delimiter, join } from 'node:path'
import { tempDir } from './balancer.js'

/** The etcd binary on PATH (Debian's etcd-server installs /usr/bin/etcd), or undefined. */
export function etcdBinary(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue
    const candidate = join(dir, 'etcd')
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {
      // not here
    }
  }
  return undefined
}

/** A free TCP port on 127.0.0.1 (free when asked; etcd binds it right after). */
async function freePort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

export interface EtcdServer {
  /** The client URL, e.g. http://127.0.0.1:41234. */
  readonly url: string
  readonly dataDir: string
  /** The running process's id (undefined while killed). */
  readonly pid: number | undefined
  /** SIGKILL: etcd is gone at once, as in a crash. */
  kill(): Promise<void>
  /** Starts it again on the same ports and data dir; resolves once it answers. */
  restart(): Promise<void>
  /** The store's current revision. */
  revision(): Promise<number>
  /** Compacts history up to the current revision; resolves with it. */
  compact(): Promise<number>
  /** Puts or reads raw keys (test checks). */
  call(path: string, body: unknown): Promise<Record<string, unknown>>
}

/**
 * A real single-member etcd on 127.0.0.1 with free ports and a data dir in a temporary folder; resolves once a
 * range request answers (a leader is elected). Short heartbeat and election timeouts keep starts quick. The
 * caller registers `kill` as a cleanup; the process is also killed by PID when the test process exits.
 */
export async function startEtcd(binary: string): Promise<EtcdServer> {
  const dir = tempDir('switchyard-etcd-')
  const dataDir = join(dir, 'data')
  const [clientPort, peerPort] = [await freePort(), await freePort()]
  const url = `http://127.0.0.1:${clientPort}`
  const peer = `http://127.0.0.1:${peerPort}`
  const args = [
    '--name', 'test',
    '--data-dir', dataDir,
    '--listen-client-urls', url,
    '--advertise-client-urls', url,
    '--listen-peer-urls', peer,
    '--initial-advertise-peer-urls', peer,
    '--initial-cluster', `test=${peer}`,
    '--initial-cluster-state', 'new',
    '--heartbeat-interval', '50',
    '--election-timeout', '500',
  ]
  let proc: ChildProcess | undefined
  let exited: Promise<void> = Promise.resolve()
  const onExit = () => proc?.kill('SIGKILL')
  process.once('exit', onExit)

  const call = async (path: string, body: unknown): Promise<Record<string, unknown>> => {
    const res = await fetch(`${url}${path}`, { method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(2000) })
    const json = (await res.json()) as Record<string, unknown>
    if (!res.ok) throw new Error(`etcd ${path}: ${res.status} ${JSON.stringify(json)}`)
    return json
  }

  const launch = async (): Promise<void> => {
    const log = openSync(join(dir, 'etcd.log'), 'a')
    const child = spawn(binary, args, { stdio: ['ignore', log, log] })
    closeSync(log)
    proc = child
    exited = new Promise((resolve) => child.once('exit', () => resolve()))
    const deadline = Date.now() + 15_000
    for (;;) {
      if (child.exitCode !== null) throw new Error(`etcd exited with ${child.exitCode} at start (log: ${join(dir, 'etcd.log')})`)
      try {
        await call('/v3/kv/range', { key: Buffer.from('ready?').toString('base64') })
        return
      } catch {
        if (Date.now() > deadline) throw new Error(`etcd did not answer within 15 s (log: ${join(dir, 'etcd.log')})`)
        await new Promise((r) => setTimeout(r, 50))
      }
    }
  }

  const revision = async (): Promise<number> => {
    const res = await call('/v3/kv/range', { key: Buffer.from('any').toString('base64') })
    return Number((res.header as { revision: string }).revision)
  }

  await launch()
  return {
    url,
    dataDir,
    get pid() {
      return proc?.exitCode === null ? proc.pid : undefined
    },
    kill: async () => {
      if (proc !== undefined && proc.exitCode === null && proc.signalCode === null) {
        process.kill(proc.pid!, 'SIGKILL')
        await exited
      }
    },
    restart: launch,
    revision,
    compact: async () => {
      const at = await revision()
      await call('/v3/kv/compaction', { revision: String(at), physical: true })
      return at
    },
    call,
  }
}
