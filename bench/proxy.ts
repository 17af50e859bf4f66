/**
 * bench/proxy: Switchyard against HAProxy and nginx on the same machine, in the same run (issue 11).
 * One backend (nginx, else a Node server), then the same load directly, through Switchyard, through HAProxy
 * (one thread) and through nginx (one worker), interleaved A/B/A/B for several rounds; medians, and each
 * figure's ratio to HAProxy. Then memory per idle connection and the time admin changes take to apply.
 * Run: npm run bench (= npm run bench:proxy). Options:
 *   --rounds N        rounds per scenario (3)          --duration S   seconds per measurement (5)
 *   --scenarios LIST  comma-separated, from: keepalive, close, 1mb, c1000, latency, memory, release, profile
 *                     (default: all but profile)
 *   --rate N          offered load of the latency scenario, requests/s (5000)
 *   --idle N          idle connections of the memory scenario (10000)
 *   --trials N        trials per admin change of the release scenario (20)
 *   --without LIST    act as if not installed: nginx, haproxy, wrk, hey (to check the fallbacks)
 *   --workers LIST    Switchyard `workers:` values to measure, e.g. 1,2 (1); HAProxy runs nbthread N beside each
 * Docs: docs/performance.md
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, mkdirSync } from 'node:fs'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { startBackend, type Backend } from './proxy-backend.js'
import { startHaproxy } from './proxy-haproxy.js'
import { cpuMs } from './proxy-cpu.js'
import { hasAutocannon, runFixedRate, runSaturation, type FixedRateTool, type LoadResult, type LoadSpec, type SaturationTool } from './proxy-load.js'
import { idleMemory, memoryTable, type MemoryRow } from './proxy-memory.js'
import { startNginxProxy } from './proxy-nginx.js'
import { freePort, onExit, stopAll, which, type Managed } from './proxy-processes.js'
import { topSelfTime } from './proxy-profile.js'
import { releaseTable, releaseTimes } from './proxy-release.js'
import { loadTable } from './proxy-report.js'
import { appBackend, startSwitchyard } from './proxy-switchyard.js'

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback
}
function numberOption(name: string, fallback: number): number {
  const value = Number(option(name, String(fallback)))
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`)
  return value
}

const ROUNDS = numberOption('rounds', 3)
const DURATION_S = numberOption('duration', 5)
const RATE = numberOption('rate', 5000)
const IDLE = numberOption('idle', 10_000)
const TRIALS = numberOption('trials', 20)
/** JIT warm-up per target before a scenario's first round; not counted. */
const WARMUP_S = 1
const ALL_SCENARIOS = ['keepalive', 'close', '1mb', 'c1000', 'latency', 'memory', 'release', 'profile'] as const
type Scenario = (typeof ALL_SCENARIOS)[number]
const SCENARIOS = option('scenarios', ALL_SCENARIOS.filter((s) => s !== 'profile').join(','))
  .split(',')
  .map((s) => s.trim())
  .filter((s) => s !== '') as Scenario[]
for (const s of SCENARIOS) if (!ALL_SCENARIOS.includes(s)) throw new Error(`unknown scenario '${s}' (known: ${ALL_SCENARIOS.join(', ')})`)
const WITHOUT = new Set(option('without', '').split(','))
/** Switchyard `workers:` values to measure (and HAProxy `nbthread` beside each one above 1). */
const WORKERS = [...new Set(option('workers', '1').split(',').map((n) => Number(n.trim())))]
for (const n of WORKERS) if (!Number.isInteger(n) || n < 1) throw new Error('--workers takes a list of positive integers, e.g. 1,2')
if (!WORKERS.includes(1)) WORKERS.unshift(1)

/** The throughput scenarios: closed-loop load at saturation. */
const LOADS: Partial<Record<Scenario, { title: string; path: string; connections: number; close: boolean }>> = {
  keepalive: { title: 'small responses (12 bytes), keep-alive', path: '/small', connections: 50, close: false },
  close: { title: 'a new connection per request (Connection: close), 12 bytes', path: '/small', connections: 50, close: true },
  '1mb': { title: '1 MB responses, keep-alive', path: '/1mb', connections: 50, close: false },
  c1000: { title: '1000 concurrent connections, 12 bytes, keep-alive', path: '/small', connections: 1000, close: false },
}

interface Target {
  readonly name: string
  readonly port: number
  readonly proc: Managed
}

function installed(program: string): boolean {
  return !WITHOUT.has(program) && which(program) !== undefined
}

function version(command: string, args: readonly string[], pattern: RegExp): string {
  // nginx -v and wrk -v print to stderr (and wrk exits 1): look at both streams whatever the exit code.
  const out = spawnSync(which(command) ?? command, args, { encoding: 'utf8' })
  return pattern.exec(`${out.stdout ?? ''}${out.stderr ?? ''}`)?.[1] ?? '?'
}

function cpuModel(): string {
  try {
    return /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '?'
  } catch {
    return '?'
  }
}

function say(text: string): void {
  process.stdout.write(`${text}\n`)
}
function progress(text: string): void {
  process.stderr.write(`${text}\n`)
}

/** Every target once for warm-up, then `ROUNDS` rounds, each in a rotated order so no target always goes first. */
async function interleaved(targets: readonly Target[], label: string, run: (t: Target, seconds: number) => Promise<LoadResult>): Promise<Map<string, LoadResult[]>> {
  for (const t of targets) await run(t, WARMUP_S)
  const results = new Map<string, LoadResult[]>(targets.map((t) => [t.name, []]))
  for (let r = 0; r < ROUNDS; r++) {
    for (let k = 0; k < targets.length; k++) {
      const t = targets[(r + k) % targets.length]!
      const before = cpuMs(t.proc.pid)
      const measured = await run(t, DURATION_S)
      const after = cpuMs(t.proc.pid)
      const requests = measured.rps * DURATION_S
      const cpuUs = before === undefined || after === undefined || requests <= 0 ? undefined : ((after - before) * 1000) / requests
      const result = { ...measured, cpuUs }
      results.get(t.name)!.push(result)
      progress(`  ${label} round ${r + 1}/${ROUNDS}: ${t.name.padEnd(10)} ${Math.round(result.rps).toString().padStart(7)} req/s  p50 ${result.p50.toFixed(3)} ms  p99 ${result.p99.toFixed(3)} ms${result.errors > 0 ? `  errors ${result.errors}` : ''}`)
    }
  }
  return results
}

const started = Date.now()
const dir = mkdtempSync(join(tmpdir(), 'switchyard-bench-proxy-'))
// Also on SIGINT, which exits without passing the finally below.
onExit(() => rmSync(dir, { recursive: true, force: true }))
let failed = false
try {
  const saturation: SaturationTool | undefined = installed('wrk') ? 'wrk' : (await hasAutocannon()) ? 'autocannon' : undefined
  const fixedRate: FixedRateTool | undefined = installed('hey') ? 'hey' : (await hasAutocannon()) ? 'autocannon' : undefined
  const haveHaproxy = installed('haproxy')
  const haveNginx = installed('nginx')

  const backend: Backend = await startBackend(dir, haveNginx)
  const targets: Target[] = [{ name: 'direct', port: backend.port, proc: backend.proc }]
  for (const n of WORKERS) {
    const name = n === 1 ? 'switchyard' : `switchyard-w${n}`
    const sy = await startSwitchyard(dir, name, { backends: appBackend({ s1: backend.port }), workers: n })
    targets.push({ name, port: sy.port, proc: sy.proc })
  }
  if (haveHaproxy) {
    for (const n of WORKERS) {
      const port = await freePort()
      const name = n === 1 ? 'haproxy' : `haproxy-t${n}`
      targets.push({ name, port, proc: await startHaproxy(dir, port, backend.port, name, n) })
    }
  }
  if (haveNginx) {
    const port = await freePort()
    targets.push({ name: 'nginx', port, proc: await startNginxProxy(dir, port, backend.port) })
  }
  const reference = haveHaproxy ? 'haproxy' : 'direct'

  say('# bench/proxy')
  say('')
  say(`- machine: ${availableParallelism()} cores, ${cpuModel()}, Node ${process.version}, load average at start ${loadavg()[0]!.toFixed(2)}`)
  say(`- backend: ${backend.kind === 'nginx' ? `nginx ${version('nginx', ['-v'], /nginx\/(\S+)/)} (1 worker)` : 'the bench\'s Node server (nginx not installed)'}`)
  say(`- load: ${saturation === 'wrk' ? `wrk ${version('wrk', ['-v'], /wrk (\S+)/)} -t1` : saturation === 'autocannon' ? 'autocannon (wrk not installed)' : 'none (neither wrk nor autocannon)'}; fixed rate: ${fixedRate === 'hey' ? 'hey' : fixedRate === 'autocannon' ? 'autocannon (hey not installed)' : 'none'}`)
  say(`- targets: direct (the backend itself), switchyard (1 process${WORKERS.length > 1 ? `; switchyard-wN: workers: N` : ''}), ${haveHaproxy ? `haproxy ${version('haproxy', ['-v'], /version (\S+)/)} (nbthread 1${WORKERS.length > 1 ? '; haproxy-tN: nbthread N' : ''}, http-reuse always)` : 'haproxy not installed'}, ${haveNginx ? 'nginx proxy (1 worker, upstream keepalive)' : 'nginx not installed'}`)
  say(`- ${ROUNDS} rounds x ${DURATION_S} s per target, interleaved (order rotated each round), after ${WARMUP_S} s warm-up; figures are medians over the rounds, ratios the median of the per-round ratios to ${reference}`)

  for (const scenario of SCENARIOS) {
    try {
      await runScenario(scenario)
    } catch (err) {
      // One scenario failing (a tool's odd output, a busy machine) must not lose the others' figures.
      failed = true
      say(`\n## ${scenario}: failed - ${err instanceof Error ? err.message : String(err)}`)
      process.stderr.write(`${scenario} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
    }
  }
  say(`\ntotal time: ${((Date.now() - started) / 60_000).toFixed(1)} min, load average at the end ${loadavg()[0]!.toFixed(2)}`)

  async function runScenario(scenario: Scenario): Promise<void> {
    const load = LOADS[scenario]
    if (load !== undefined) {
      if (saturation === undefined) {
        say(`\n## ${scenario}: skipped (no load tool: install wrk, or run npm install for autocannon)`)
        return
      }
      progress(`${scenario}: ${load.title}`)
      const results = await interleaved(targets, scenario, (t, seconds) =>
        runSaturation(saturation, { url: `http://127.0.0.1:${t.port}${load.path}`, connections: load.connections, durationS: seconds, close: load.close }),
      )
      say(`\n## ${scenario}: ${load.title} - ${saturation}${saturation === 'wrk' ? ' -t1' : ''} -c${load.connections}\n`)
      say(loadTable(results, targets.map((t) => t.name), reference))
    } else if (scenario === 'latency') {
      if (fixedRate === undefined) {
        say(`\n## latency: skipped (neither hey nor autocannon)`)
        return
      }
      const connections = 50
      progress(`latency: ${RATE} requests/s offered`)
      const results = await interleaved(targets, 'latency', (t, seconds) => {
        const spec: LoadSpec = { url: `http://127.0.0.1:${t.port}/small`, connections, durationS: seconds, close: false }
        return runFixedRate(fixedRate, spec, RATE)
      })
      const how = fixedRate === 'hey' ? `hey -c ${connections} -q ${RATE / connections} (per worker)` : `autocannon -c ${connections} --overallRate ${RATE}`
      say(`\n## latency: a fixed ${RATE} requests/s offered, 12 bytes, keep-alive - ${how}\n`)
      say(loadTable(results, targets.map((t) => t.name), reference))
    } else if (scenario === 'memory') {
      progress(`memory: ${IDLE} idle keep-alive connections`)
      const rows: MemoryRow[] = []
      // Each proxy freshly started, measured, and stopped even when the measurement fails.
      const measure = async (name: string, start: () => Promise<{ pid: number; port: number; stop: () => Promise<void> }>): Promise<void> => {
        const proxy = await start()
        try {
          rows.push(await idleMemory(name, proxy.pid, proxy.port, IDLE))
        } finally {
          await proxy.stop()
        }
      }
      await measure('switchyard', async () => {
        const fresh = await startSwitchyard(dir, 'switchyard-memory', { backends: appBackend({ s1: backend.port }) })
        return { pid: fresh.proc.pid, port: fresh.port, stop: () => fresh.proc.stop() }
      })
      if (haveHaproxy) {
        await measure('haproxy', async () => {
          const port = await freePort()
          const h = await startHaproxy(dir, port, backend.port, 'haproxy-memory')
          return { pid: h.pid, port, stop: () => h.stop() }
        })
      }
      if (haveNginx) {
        await measure('nginx', async () => {
          const port = await freePort()
          const n = await startNginxProxy(dir, port, backend.port, 'nginx-memory')
          return { pid: n.pid, port, stop: () => n.stop() }
        })
      }
      say(`\n## memory: ${IDLE.toLocaleString('en-US')} idle keep-alive client connections (one request each), freshly started proxies, VmRSS\n`)
      say(memoryTable(rows, IDLE))
    } else if (scenario === 'release') {
      for (const n of WORKERS) {
        progress(`release: ${TRIALS} trials per admin change, workers: ${n}`)
        const rows = await releaseTimes(dir, TRIALS, n)
        const which = n === 1 ? '' : `, workers: ${n}`
        say(`\n## release: time from an admin call's answer to its change applying to new requests (${TRIALS} trials each${which})\n`)
        say(releaseTable(rows))
      }
    } else if (scenario === 'profile') {
      if (saturation === undefined) return
      const profiles = join(tmpdir(), 'switchyard-bench-profiles')
      mkdirSync(profiles, { recursive: true })
      const before = new Set(readdirSync(profiles))
      progress('profile: switchyard --cpu-prof under the keepalive load')
      const p = await startSwitchyard(dir, 'switchyard-profile', { backends: appBackend({ s1: backend.port }) }, ['--cpu-prof', '--cpu-prof-dir', profiles])
      await runSaturation(saturation, { url: `http://127.0.0.1:${p.port}/small`, connections: 50, durationS: WARMUP_S, close: false })
      const result = await runSaturation(saturation, { url: `http://127.0.0.1:${p.port}/small`, connections: 50, durationS: DURATION_S * 2, close: false })
      // SIGTERM: a graceful stop, so that Node writes the profile on exit.
      await p.proc.stop(15_000)
      const file = readdirSync(profiles).find((f) => f.endsWith('.cpuprofile') && !before.has(f))
      say(`\n## profile: switchyard under ${saturation} -c50 keep-alive (${Math.round(result.rps)} req/s while profiled), top self time\n`)
      say(file === undefined ? 'no profile written' : `${join(profiles, file)}\n\n${topSelfTime(join(profiles, file), 25)}`)
    }
  }
} catch (err) {
  failed = true
  process.stderr.write(`bench/proxy failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
} finally {
  await stopAll()
  rmSync(dir, { recursive: true, force: true })
}
process.exit(failed ? 1 : 0)
