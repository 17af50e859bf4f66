/** The request rate of one row: requests per second over the last interval, and the highest such rate seen. */
export interface Rate {
  readonly current: number
  readonly max: number
}

export interface RateLookup {
  rate(key: string): Rate | undefined
}

/**
 * Samples cumulative request counters once per interval and keeps the rate of the last interval and its maximum
 * per key. Counters are read, never hooked: nothing is added to the request path. A counter that went down (its
 * server was replaced by a reload) counts as a fresh start.
 */
export class RequestRates implements RateLookup {
  private previous: { readonly at: number; readonly counts: ReadonlyMap<string, number> } | undefined
  private readonly rates = new Map<string, Rate>()
  private timer: NodeJS.Timeout | undefined

  constructor(
    private readonly read: () => ReadonlyMap<string, number>,
    private readonly intervalMs = 1000,
  ) {}

  start(): void {
    if (this.timer !== undefined) return
    this.sample()
    this.timer = setInterval(() => this.sample(), this.intervalMs)
    this.timer.unref()
  }

  stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  rate(key: string): Rate | undefined {
    return this.rates.get(key)
  }

  sample(now = Date.now()): void {
    let counts: ReadonlyMap<string, number>
    try {
      counts = this.read()
    } catch {
      // The balancer may not be able to tell yet (still starting) or any more (stopping): try at the next tick.
      return
    }
    const previous = this.previous
    this.previous = { at: now, counts }
    if (previous === undefined || now <= previous.at) return
    for (const key of this.rates.keys()) if (!counts.has(key)) this.rates.delete(key)
    for (const [key, count] of counts) {
      const before = previous.counts.get(key)
      const delta = before === undefined || count < before ? 0 : count - before
      const current = Math.round((delta * 1000) / (now - previous.at))
      this.rates.set(key, { current, max: Math.max(current, this.rates.get(key)?.max ?? 0) })
    }
  }
}
