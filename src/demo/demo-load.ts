import http from 'node:http'

export interface LoadCounters {
  sent: number
  ok: number
  failed: number
}

/**
 * The demo's steady load: `rate` requests per second against `url`, one in four on a fresh connection, the rest
 * on kept-alive ones, until stop(). A failure is a status of 500 or more, or a transport error.
 */
export class DemoLoad {
  readonly counters: LoadCounters = { sent: 0, ok: 0, failed: 0 }
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 32 })
  private timer: NodeJS.Timeout | undefined
  private inFlight = 0
  private idle: (() => void) | undefined

  constructor(
    private readonly url: string,
    private readonly rate: number,
  ) {}

  start(): void {
    const perTick = Math.max(1, Math.round(this.rate / 50))
    this.timer = setInterval(() => {
      for (let i = 0; i < perTick; i++) this.send()
    }, 20)
  }

  private send(): void {
    const n = this.counters.sent++
    this.inFlight++
    const req = http.get(this.url, { agent: n % 4 === 0 ? false : this.agent }, (res) => {
      res.resume()
      res.on('end', () => this.settle((res.statusCode ?? 0) < 500))
      res.on('error', () => this.settle(false))
    })
    req.on('error', () => this.settle(false))
    req.setTimeout(15_000, () => req.destroy())
  }

  private settle(ok: boolean): void {
    if (ok) this.counters.ok++
    else this.counters.failed++
    this.inFlight--
    if (this.inFlight === 0) this.idle?.()
  }

  /** Copy of the counters now. */
  snapshot(): LoadCounters {
    return { ...this.counters }
  }

  /** Stops sending and waits for the requests in flight. */
  async stop(): Promise<void> {
    clearInterval(this.timer)
    if (this.inFlight > 0) await new Promise<void>((resolve) => (this.idle = resolve))
    this.agent.destroy()
  }
}
