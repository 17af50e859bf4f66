import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { formatHostPort } from '../config/address.js'
import { loadConfigFile } from '../config/load-config.js'
import type { DeploymentRecord } from '../deploy/deployment-record.js'
import { formatDuration } from '../deploy/format-report.js'
import { LoadBalancer } from '../load-balancer.js'
import { SteadyLoad, type LoadCounters } from './steady-load.js'
import { sampleServiceConfig } from './sample-service.js'

/** The releases the demo runs, one per strategy. */
const RELEASES = [
  { strategy: 'rolling', version: 'v2' },
  { strategy: 'surge', version: 'v3' },
  { strategy: 'bluegreen', version: 'v4' },
] as const

interface Row {
  readonly record: DeploymentRecord
  readonly load: LoadCounters
}

function demoConfig(): string {
  return `# Written by switchyard demo: a balancer in front of two instances of the sample app.\n${sampleServiceConfig({
    strategy: 'rolling',
    instances: 2,
    startDelayMs: 500,
    health: '{ type: http, path: /healthz, interval: 500ms, fast_interval: 100ms, rise: 1, fall: 2, timeout: 500ms }',
    strategy_lines: ['healthy_deadline: 20s', 'drain_timeout: 10s', 'keep_previous: 1s'],
  })}`
}

/**
 * `switchyard demo`: a balancer and two sample-app instances on free ports in a temporary folder, steady load,
 * then a rolling, a surge and a blue/green release, and a table of what each cost. Cleans up after itself.
 * Returns the exit code: 0 when every release succeeded without a failed request.
 */
export async function runDemo(write: (line: string) => void): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-demo-'))
  const file = join(dir, 'switchyard.yaml')
  writeFileSync(file, demoConfig())
  let lb: LoadBalancer | undefined
  let load: SteadyLoad | undefined
  try {
    write(`Switchyard demo (working folder ${dir})`)
    lb = await LoadBalancer.start(await loadConfigFile(file), { configFile: file })
    const web = `http://${formatHostPort(lb.addresses('web')[0]!)}`
    const admin = `http://${formatHostPort(lb.adminListen!)}`
    write(`  balancer on ${web}; stats page on ${admin}/stats (live while the demo runs)`)
    write('  starting v1 (2 instances of examples/app)...')
    await lb.services.settled()
    await waitUntil(() => lb!.state().backends[0]!.servers.filter((s) => s.state === 'UP').length === 2, 30_000)
    load = new SteadyLoad(web, 200)
    load.start()
    write('  steady load: 200 requests/s, one in four on a new connection')
    await sleep(1000)
    const rows: Row[] = []
    for (const { strategy, version } of RELEASES) {
      const before = load.snapshot()
      const started = lb.deploy('app', version, strategy)
      write(`  ${strategy.padEnd(9)} ${started.from} -> ${version} ...`)
      await lb.services.settled()
      // Blue/green keeps the previous release warm for keep_previous (1 s here): that is part of its cost.
      await waitUntil(() => !lb!.state().backends[0]!.servers.some((s) => s.release === started.from), 30_000)
      await sleep(300)
      const after = load.snapshot()
      const record = await lb.deployment(started.id)
      rows.push({ record, load: { sent: after.sent - before.sent, failed: after.failed - before.failed } })
      write(`            ${record.status} in ${formatDuration(record.summary?.duration_ms ?? 0)}`)
    }
    await load.stop()
    write('')
    for (const line of table(rows)) write(line)
    const total = load.snapshot()
    write('')
    write(`  ${total.sent} requests during the demo, ${total.failed} failed.`)
    const good = rows.every((r) => r.record.status === 'succeeded') && total.failed === 0
    return good ? 0 : 1
  } finally {
    await load?.stop()
    await lb?.stop(2000)
    rmSync(dir, { recursive: true, force: true })
  }
}

function table(rows: readonly Row[]): string[] {
  const head = ['strategy', 'release', 'duration', 'requests', 'failed', 'peak instances', 'extra instance-s']
  const body = rows.map(({ record, load }) => [
    record.strategy,
    `${record.from} -> ${record.to}`,
    formatDuration(record.summary?.duration_ms ?? 0),
    String(load.sent),
    String(load.failed),
    String(record.summary?.peak_instances ?? 0),
    String(record.summary?.extra_instance_seconds ?? 0),
  ])
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)))
  const line = (cells: readonly string[]) => `  ${cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')}`
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)]
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('the demo service did not come up in time')
    await sleep(50)
  }
}
