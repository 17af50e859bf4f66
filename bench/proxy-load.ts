/**
 * Load generators for bench/proxy and what they report, in one shape: requests/s, p50 and p99 in ms, errors.
 *  - wrk (-t1): closed-loop saturation load - the throughput figures;
 *  - hey (-q per worker x -c workers): a fixed offered load - latency without queueing at saturation;
 *  - autocannon: the fallback for both when wrk or hey is not installed (in this process: the bench does
 *    nothing else while it runs). Its latencies have a 1 ms resolution, hey's 0.1 ms, wrk's 10 us.
 */
import { runToEnd, which } from './proxy-processes.js'

export interface LoadResult {
  readonly rps: number
  /** Milliseconds. */
  readonly p50: number
  readonly p99: number
  /** Connection errors, timeouts and non-2xx answers. */
  readonly errors: number
  /** CPU time per request of the target's processes in microseconds (bench/proxy-cpu.ts), when measured. */
  readonly cpuUs?: number | undefined
}

export interface LoadSpec {
  readonly url: string
  readonly connections: number
  readonly durationS: number
  /** Send `Connection: close`: one connection per request. */
  readonly close: boolean
}

export type SaturationTool = 'wrk' | 'autocannon'
export type FixedRateTool = 'hey' | 'autocannon'

export function runSaturation(tool: SaturationTool, spec: LoadSpec): Promise<LoadResult> {
  return tool === 'wrk' ? runWrk(spec) : runAutocannon(spec, undefined)
}

export function runFixedRate(tool: FixedRateTool, spec: LoadSpec, rate: number): Promise<LoadResult> {
  return tool === 'hey' ? runHey(spec, rate) : runAutocannon(spec, rate)
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/** wrk prints times like 680.00us, 1.52ms, 2.01s. */
function wrkTime(text: string, label: string): number {
  const match = new RegExp(`^\\s*${label}%\\s+([\\d.]+)(us|ms|s|m|h)\\s*$`, 'm').exec(text)
  if (match === null) throw new Error(`wrk: no ${label}% latency in:\n${text}`)
  return Number(match[1]) * UNIT_MS[match[2]!]!
}

export async function runWrk(spec: LoadSpec): Promise<LoadResult> {
  const args = ['-t1', `-c${spec.connections}`, `-d${spec.durationS}s`, '--latency', '--timeout', '10s']
  if (spec.close) args.push('-H', 'Connection: close')
  const out = await runToEnd('wrk', which('wrk') ?? 'wrk', [...args, spec.url], { raiseFdLimit: true })
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(out)
  if (rps === null) throw new Error(`wrk: no Requests/sec in:\n${out}`)
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out)
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out)
  const errors = (socket === null ? 0 : socket.slice(1).reduce((a, b) => a + Number(b), 0)) + (non2xx === null ? 0 : Number(non2xx[1]))
  return { rps: Number(rps[1]), p50: wrkTime(out, '50'), p99: wrkTime(out, '99'), errors }
}

/** hey's -q is per worker: `rate` requests/s in total is -q rate/c with -c workers. */
export async function runHey(spec: LoadSpec, rate: number): Promise<LoadResult> {
  const perWorker = rate / spec.connections
  const args = ['-z', `${spec.durationS}s`, '-c', String(spec.connections), '-q', String(perWorker)]
  if (spec.close) args.push('-disable-keepalive')
  const out = await runToEnd('hey', which('hey') ?? 'hey', [...args, spec.url], { raiseFdLimit: true })
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out)
  const p = (label: string): number => {
    const match = new RegExp(`^\\s*${label}%+ in ([\\d.]+) secs`, 'm').exec(out)
    if (match === null) throw new Error(`hey: no ${label}% latency in:\n${out}`)
    return Number(match[1]) * 1000
  }
  if (rps === null) throw new Error(`hey: no Requests/sec in:\n${out}`)
  let errors = 0
  for (const m of out.matchAll(/^\s*\[(\d+)\]\s+(\d+) responses/gm)) if (m[1] !== '200') errors += Number(m[2])
  const errorSection = out.split('Error distribution:')[1]
  if (errorSection !== undefined) for (const m of errorSection.matchAll(/^\s*\[(\d+)\]/gm)) errors += Number(m[1])
  return { rps: Number(rps[1]), p50: p('50'), p99: p('99'), errors }
}

interface AutocannonResult {
  readonly requests: { readonly total: number }
  readonly latency: { readonly p50: number; readonly p99: number }
  readonly errors: number
  readonly timeouts: number
  readonly non2xx: number
  readonly duration: number
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>

let autocannon: Autocannon | undefined

/** True when the autocannon package can be loaded (a devDependency; absent in a production install). */
export async function hasAutocannon(): Promise<boolean> {
  try {
    await loadAutocannon()
    return true
  } catch {
    return false
  }
}

async function loadAutocannon(): Promise<Autocannon> {
  if (autocannon !== undefined) return autocannon
  // Through a variable: autocannon ships no types, and the bench declares the little it uses above.
  const name = 'autocannon'
  const mod = (await import(name)) as { default: Autocannon }
  autocannon = mod.default
  return autocannon
}

export async function runAutocannon(spec: LoadSpec, rate: number | undefined): Promise<LoadResult> {
  const run = await loadAutocannon()
  const result = await run({
    url: spec.url,
    connections: spec.connections,
    duration: spec.durationS,
    headers: spec.close ? { connection: 'close' } : {},
    ...(rate === undefined ? {} : { overallRate: rate }),
  })
  return {
    rps: result.requests.total / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
  }
}
