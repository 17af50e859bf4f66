/**
 * A release split (canary): the share of requests each version gets, whatever the number of servers of each.
 * Requests are spread by smooth weighted round-robin over the versions, so 10% means one request in ten, exactly.
 * For sticky assignment, versions also own ranges of [0, 100) in the order given (the new version first):
 * raising the new version's weight only widens its range, so clients only ever move from old to new.
 * Hand-written: it is the release core and runs per request.
 */
export interface SplitEntry {
  readonly release: string
  /** Share in percent (0-100); the entries' weights need not add up to 100. */
  readonly weight: number
}

export class ReleaseSplit {
  readonly entries: readonly SplitEntry[]
  private readonly current: Float64Array
  private readonly total: number

  constructor(entries: readonly SplitEntry[]) {
    this.entries = entries
    this.current = new Float64Array(entries.length)
    this.total = entries.reduce((sum, e) => sum + Math.max(0, e.weight), 0)
  }

  weightOf(release: string): number {
    return this.entries.find((e) => e.release === release)?.weight ?? 0
  }

  /**
   * The next version by smooth weighted round-robin among those for which `serve` finds a server; returns what
   * `serve` returned, or undefined when no version can serve. `serve` is tried for at most every entry once.
   */
  pick<T>(serve: (release: string) => T | undefined): T | undefined {
    const n = this.entries.length
    let excluded = 0 // bit i set: entry i has no server for this request
    for (let attempt = 0; attempt < n; attempt++) {
      let best = -1
      let eligibleTotal = 0
      for (let i = 0; i < n; i++) {
        const w = this.entries[i]!.weight
        if (w <= 0 || (excluded & (1 << i)) !== 0) continue
        eligibleTotal += w
        if (best < 0 || this.current[i]! + w > this.current[best]! + this.entries[best]!.weight) best = i
      }
      if (best < 0) return undefined
      const found = serve(this.entries[best]!.release)
      if (found === undefined) {
        excluded |= 1 << best
        continue
      }
      for (let i = 0; i < n; i++) {
        const w = this.entries[i]!.weight
        if (w > 0 && (excluded & (1 << i)) === 0) this.current[i]! += w
      }
      this.current[best]! -= eligibleTotal
      return found
    }
    return undefined
  }

  /** The version whose range holds `point` (0 <= point < 100, e.g. from a client key's hash). */
  releaseAt(point: number): string | undefined {
    if (this.total <= 0) return undefined
    const scaled = (point / 100) * this.total
    let upper = 0
    for (const entry of this.entries) {
      upper += Math.max(0, entry.weight)
      if (scaled < upper) return entry.release
    }
    return this.entries[this.entries.length - 1]?.release
  }
}
