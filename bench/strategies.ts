/**
 * bench/strategies: the same v1 -> v2 release of the sample app (examples/app, 4 instances, 500 ms start-up)
 * under the same steady load, once per strategy, and one table of what each cost. Run: npm run bench:strategies
 * (options: --rate N requests/s, default 200; --instances N, default 4).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { formatHostPort } from '../src/config/address.js'
import { loadConfigFile } from '../src/config/load-config.js'
import type { DeploymentRecord } from '../src/deploy/deployment-record.js'
import { releaseTotals } from '../src/deploy/deployment-summary.js'
import { sampleServiceConfig } from '../src/demo/sample-service.js'
import { LoadBalancer } from '../src/load-balancer.js'
import { subtractSnapshots, snapshotQuantile } from '../src/metrics/latency-histogram.js'
import { SteadyLoad } from '../src/demo/steady-load.js'

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}

const RATE = option('rate', 200)
const INSTANCES = option('instances', 4)
const STRATEGIES = ['rolling', 'surge', 'bluegreen', 'canary'] as const

function config(strategy: string): string {
  return sampleServiceConfig({
    strategy,
    instances: INSTANCES,
    startDelayMs: 500,
    strategy_lines: [
      'healthy_deadline: 30s',
      'drain_timeout: 10s',
      'keep_previous: 5s',
      'batch: 1',
      'max_surge: 1',
      'canary_instances: 1',
      'steps: [{ weight: 10, pause: 3s }, { weight: 50, pause: 3s }]',
      'analysis: { interval: 1s, min_requests: 10, failure_limit: 2 }',
    ],
  })
}

interface Row {
  readonly strategy: string
  readonly record: DeploymentRecord
  readonly sent: number
  readonly failed: number
  readonly p50: number
  readonly p99: number
}

async function measure(strategy: string): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-bench-'))
  const file = join(dir, 'switchyard.yaml')
  writeFileSync(file, config(strategy))
  const lb = await LoadBalancer.start(await loadConfigFile(file), { configFile: file })
  try {
    await lb.services.settled()
    while (lb.state().backends[0]!.servers.filter((s) => s.state === 'UP').length < INSTANCES) await sleep(50)
    const load = new SteadyLoad(`http://${formatHostPort(lb.addresses('web')[0]!)}`, RATE)
    load.start()
    await sleep(2000)
    const before = { sent: load.sent, failed: load.failed, latency: load.latency.snapshot() }
    const started = lb.deploy('app', 'v2')
    await lb.services.settled()
    const after = { sent: load.sent, failed: load.failed, latency: load.latency.snapshot() }
    // Blue/green keeps v1 warm for keep_previous: its cost is part of the record once v1 is gone.
    while (lb.state().backends[0]!.servers.some((s) => s.release === 'v1')) await sleep(100)
    await sleep(200)
    await load.stop()
    const during = subtractSnapshots(after.latency, before.latency)
    return {
      strategy,
      record: await lb.deployment(started.id),
      sent: after.sent - before.sent,
      failed: after.failed - before.failed,
      p50: snapshotQuantile(during, 0.5),
      p99: snapshotQuantile(during, 0.99),
    }
  } finally {
    await lb.stop(2000)
    rmSync(dir, { recursive: true, force: true })
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

function table(rows: readonly Row[]): string {
  const head = ['strategy', 'result', 'duration', 'requests', 'failed', 'on v2', 'peak inst.', 'extra inst.', 'extra inst.-s', 'p50', 'p99']
  const body = rows.map((r) => {
    const s = r.record.summary
    const v2 = releaseTotals(r.record).find((t) => t.version === 'v2')?.share_of_requests ?? 0
    return [
      r.strategy,
      r.record.status,
      `${((s?.duration_ms ?? 0) / 1000).toFixed(1)} s`,
      String(r.sent),
      String(r.failed),
      `${(v2 * 100).toFixed(1)}%`,
      String(s?.peak_instances ?? 0),
      String(s?.extra_instances ?? 0),
      (s?.extra_instance_seconds ?? 0).toFixed(1),
      `${r.p50.toFixed(1)} ms`,
      `${r.p99.toFixed(1)} ms`,
    ]
  })
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)))
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n')
}

const rows: Row[] = []
for (const strategy of STRATEGIES) {
  process.stderr.write(`${strategy}...\n`)
  rows.push(await measure(strategy))
}
process.stdout.write(`v1 -> v2 of examples/app, ${INSTANCES} instances (500 ms start-up), ${RATE} requests/s, one in four on a new connection\n\n`)
process.stdout.write(`${table(rows)}\n`)
process.exit(rows.every((r) => r.record.status === 'succeeded') ? 0 : 1)
