/**
 * Medians, ratios and tables of bench/proxy. A ratio to the reference (HAProxy) is the median of the per-round
 * ratios: rounds are interleaved A/B/A/B, so each round's two figures were measured under the same machine
 * noise, and dividing within a round cancels most of it.
 */
import type { LoadResult } from './proxy-load.js'

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!
}

/** Per target, one result per round (same order of rounds for every target). */
export type Rounds = ReadonlyMap<string, readonly LoadResult[]>

/** The ratio target / reference of each round. */
export function roundRatios(rounds: Rounds, target: string, reference: string, pick: (r: LoadResult) => number): number[] {
  const mine = rounds.get(target) ?? []
  const theirs = rounds.get(reference) ?? []
  const ratios: number[] = []
  for (let i = 0; i < Math.min(mine.length, theirs.length); i++) ratios.push(pick(mine[i]!) / pick(theirs[i]!))
  return ratios
}

export function medianRatio(rounds: Rounds, target: string, reference: string, pick: (r: LoadResult) => number): number {
  return median(roundRatios(rounds, target, reference, pick))
}

export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return '-'
  return ms < 1 ? `${ms.toFixed(3)} ms` : ms < 10 ? `${ms.toFixed(2)} ms` : `${ms.toFixed(1)} ms`
}

export function fmtUs(us: number): string {
  return Number.isFinite(us) ? `${us.toFixed(1)} us` : '-'
}

export function fmtRatio(x: number): string {
  return Number.isFinite(x) ? `${x.toFixed(2)}x` : '-'
}

export function fmtCount(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-'
}

/** A Markdown table: the first `left` columns left-aligned (names), the others right-aligned (numbers). */
export function table(head: readonly string[], body: readonly (readonly string[])[], left = 1): string {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)))
  const line = (cells: readonly string[]): string => `| ${cells.map((c, i) => (i < left ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`
  const rule = `|${widths.map((w, i) => (i < left ? `${'-'.repeat(w + 2)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`
  return [line(head), rule, ...body.map(line)].join('\n')
}

/**
 * The table of one load scenario: medians over the rounds and the ratios to the reference. The column after the
 * ratios shows the spread of the throughput ratio over the rounds: how far the machine's noise moved it. Where
 * CPU time was measured, the last two columns give it per request (the target's processes only; for `direct`,
 * the backend's) and its ratio.
 */
export function loadTable(rounds: Rounds, targets: readonly string[], reference: string | undefined): string {
  const ref = reference === undefined ? '-' : reference
  const withCpu = [...rounds.values()].some((results) => results.some((r) => r.cpuUs !== undefined))
  const head = ['target', 'requests/s', 'p50', 'p99', 'errors', `req/s vs ${ref}`, `p50 vs ${ref}`, `p99 vs ${ref}`, 'req/s ratio, rounds']
  if (withCpu) head.push('CPU/request', `CPU vs ${ref}`)
  const body = targets.map((t) => {
    const results = rounds.get(t) ?? []
    const ratio = (pick: (r: LoadResult) => number): string => (reference === undefined ? '-' : fmtRatio(medianRatio(rounds, t, reference, pick)))
    const spread = reference === undefined ? [] : roundRatios(rounds, t, reference, (r) => r.rps)
    const cpu = (r: LoadResult): number => r.cpuUs ?? NaN
    const cpuCells = withCpu ? [fmtUs(median(results.map(cpu))), ratio(cpu)] : []
    return [
      t,
      fmtCount(median(results.map((r) => r.rps))),
      fmtMs(median(results.map((r) => r.p50))),
      fmtMs(median(results.map((r) => r.p99))),
      fmtCount(results.reduce((a, r) => a + r.errors, 0)),
      ratio((r) => r.rps),
      ratio((r) => r.p50),
      ratio((r) => r.p99),
      spread.length === 0 ? '-' : `${Math.min(...spread).toFixed(2)}-${Math.max(...spread).toFixed(2)}`,
      ...cpuCells,
    ]
  })
  return table(head, body)
}
