/**
 * Memory per idle client connection: a freshly started proxy, warmed with a few thousand requests, then 10,000
 * keep-alive client connections (one request each, then idle) from a child process. The proxy's resident memory
 * (VmRSS from /proc, with its workers for nginx) before and after, scaled to 10,000 connections. Freshly
 * started: the goal is "10,000 idle connections cost <= 100 MB more than idle start".
 */
import { fileURLToPath } from 'node:url'
import { Agent } from 'node:http'
import { httpRequest } from './proxy-http.js'
import { rssOfTree, sleep, startProcess } from './proxy-processes.js'
import { fmtCount, table } from './proxy-report.js'

const IDLE_CLIENTS = fileURLToPath(new URL('./proxy-idle-clients.js', import.meta.url))
const MB = 1024 * 1024

export interface MemoryRow {
  readonly target: string
  readonly before: number
  readonly after: number
  /** Connections answered, then still open when `after` was read. */
  readonly open: number
  readonly stillOpen: number
  readonly failed: number
  readonly openMs: number
}

async function warm(port: number): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 10 })
  await Promise.all(
    Array.from({ length: 10 }, async () => {
      for (let i = 0; i < 300; i++) await httpRequest(port, 'GET', '/small', { agent })
    }),
  )
  agent.destroy()
}

async function nextLine(read: () => string, event: string, timeoutMs: number): Promise<Record<string, number>> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const line = read()
      .split('\n')
      .find((l) => l.includes(`"event":"${event}"`))
    if (line !== undefined) return JSON.parse(line) as Record<string, number>
    if (Date.now() > deadline) throw new Error(`idle clients: no ${event} after ${timeoutMs} ms`)
    await sleep(100)
  }
}

export async function idleMemory(target: string, pid: number, port: number, count: number): Promise<MemoryRow> {
  await warm(port)
  await sleep(1500)
  const before = rssOfTree(pid)
  const clients = startProcess('idle-clients', process.execPath, [IDLE_CLIENTS, '--port', String(port), '--count', String(count)], { raiseFdLimit: true, stdin: true })
  try {
    const ready = await nextLine(clients.stdout, 'ready', 180_000)
    // Let the proxy settle (timers, lazily freed buffers) before reading its memory.
    await sleep(3000)
    const after = rssOfTree(pid)
    clients.child.stdin!.write('report\n')
    const report = await nextLine(clients.stdout, 'report', 10_000)
    return { target, before, after, open: ready.open!, stillOpen: report.open!, failed: ready.failed!, openMs: ready.ms! }
  } finally {
    clients.child.stdin!.end()
    await clients.stop(5000)
  }
}

export function memoryTable(rows: readonly MemoryRow[], count: number): string {
  return table(
    ['target', 'RSS idle', `RSS with ${fmtCount(count)} idle`, 'MB per 10k connections', 'answered', 'still open', 'failed'],
    rows.map((r) => [
      r.target,
      `${(r.before / MB).toFixed(1)} MB`,
      `${(r.after / MB).toFixed(1)} MB`,
      `${(((r.after - r.before) / MB) * (10_000 / Math.max(1, r.open))).toFixed(1)} MB`,
      fmtCount(r.open),
      fmtCount(r.stillOpen),
      fmtCount(r.failed),
    ]),
  )
}
