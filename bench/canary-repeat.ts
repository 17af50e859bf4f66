/**
 * bench/canary-repeat: ten good canary releases of the sample app in a row under steady load, with the built-in
 * analysis on; counts aborts (false alarms) and failed requests. Run: npm run bench:canary
 * (options: --releases N, default 10; --rate N requests/s, default 200).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { formatHostPort } from '../src/config/address.js'
import { loadConfigFile } from '../src/config/load-config.js'
import { sampleServiceConfig } from '../src/demo/sample-service.js'
import { LoadBalancer } from '../src/load-balancer.js'
import { SteadyLoad } from '../src/demo/steady-load.js'

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}

const RELEASES = option('releases', 10)
const RATE = option('rate', 200)

const yaml = sampleServiceConfig({
  strategy: 'canary',
  instances: 2,
  startDelayMs: 200,
  strategy_lines: [
    'healthy_deadline: 30s',
    'steps: [{ weight: 10, pause: 2s }, { weight: 50, pause: 2s }]',
    'analysis: { interval: 500ms, min_requests: 10, failure_limit: 2 }',
  ],
})

const dir = mkdtempSync(join(tmpdir(), 'switchyard-bench-'))
const file = join(dir, 'switchyard.yaml')
writeFileSync(file, yaml)
const lb = await LoadBalancer.start(await loadConfigFile(file), { configFile: file })
const statuses: Record<string, number> = {}
let failed = 0
let sent = 0
try {
  await lb.services.settled()
  const load = new SteadyLoad(`http://${formatHostPort(lb.addresses('web')[0]!)}`, RATE)
  load.start()
  for (let n = 2; n < RELEASES + 2; n++) {
    const record = lb.deploy('app', `v${n}`)
    await lb.services.settled()
    const final = await lb.deployment(record.id)
    statuses[final.status] = (statuses[final.status] ?? 0) + 1
    process.stderr.write(`v${n}: ${final.status}${final.error === undefined ? '' : ` (${final.error})`}\n`)
  }
  await load.stop()
  failed = load.failed
  sent = load.sent
} finally {
  await lb.stop(2000)
  rmSync(dir, { recursive: true, force: true })
}
const aborts = RELEASES - (statuses.succeeded ?? 0)
process.stdout.write(`${RELEASES} good canary releases at ${RATE} requests/s: ${statuses.succeeded ?? 0} succeeded, ${aborts} aborted or failed; ${sent} requests, ${failed} failed\n`)
process.exit(aborts === 0 && failed === 0 ? 0 : 1)
