/**
 * Durations ("500ms", "2s", "1m", "1h", "1m30s") and sizes ("64kb", "1mb", "512") as written in configuration.
 * Hand-written: the grammar is ours (documented in docs/configuration.md) and tiny; a library would accept
 * forms we do not want to promise (e.g. "2 days").
 */
const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
const SIZE_UNITS: Readonly<Record<string, number>> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }

const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/y

/** Milliseconds for a duration string, or undefined when it is not one. A bare 0 is accepted. */
export function parseDuration(text: string): number | undefined {
  const input = text.trim()
  if (input === '0') return 0
  if (input === '') return undefined
  let total = 0
  DURATION_PART.lastIndex = 0
  while (DURATION_PART.lastIndex < input.length) {
    const m = DURATION_PART.exec(input)
    if (m === null) return undefined
    total += Number(m[1]) * (DURATION_UNITS[m[2]!] ?? 0)
  }
  return Math.round(total)
}

/** Bytes for a size string ("64kb", "1mb", "512"), or undefined when it is not one. Units are powers of 1024. */
export function parseSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?$/i.exec(text.trim())
  if (m === null) return undefined
  return Math.round(Number(m[1]) * (SIZE_UNITS[(m[2] ?? 'b').toLowerCase()] ?? 1))
}

/** "1.5s" style text for logs and status output. */
export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`
  if (ms % 1000 === 0 && ms > 0) return `${ms / 1000}s`
  return `${ms}ms`
}
