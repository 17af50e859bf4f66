import http from 'node:http'
import { LatencyHistogram } from '../metrics/latency-histogram.js'

export interface LoadCounters {
  readonly sent: number
  readonly failed: number
}

/**
 * Open-loop load for the demo and the benchmarks: `rate` requests per second (one in four on a new connection),
 * each answer's latency recorded on the client side, failures (status >= 500 or transport errors) counted.
 * Bounded: it stops by itself after `maxDurationMs` even if nobody calls stop().
 */
export class SteadyLoad {
  sent = 0
  failed = 0
  readonly latency = new LatencyHistogram()
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 64 })
  private timer: NodeJS.Timeout | undefined
  private stopTimer: NodeJS.Timeout | undefined
  private inFlight = 0
  private idle: (() => void) | undefined

  constructor(
    private readonly url: string,
    private readonly rate: number,
    private readonly maxDurationMs = 10 * 60_000,
  ) {}

  start(): void {
    const perTick = Math.max(1, Math.round(this.rate / 100))
    this.timer = setInterval(() => {
      for (let i = 0; i < perTick; i++) this.send()
    }, 10)
    this.stopTimer = setTimeout(() => void this.stop(), this.maxDurationMs)
  }

  private send(): void {
    const started = performance.now()
    const n = this.sent++
    this.inFlight++
    const req = http.get(this.url, { agent: n % 4 === 0 ? false : this.agent }, (res) => {
      res.resume()
      res.on('end', () => this.settle((res.statusCode ?? 0) < 500, started))
      res.on('error', () => this.settle(false, started))
    })
    req.on('error', () => this.settle(false, started))
    req.setTimeout(30_000, () => req.destroy())
  }

  private settle(ok: boolean, started: number): void {
    if (!ok) this.failed++
    else this.latency.record(performance.now() - started)
    this.inFlight--
    if (this.inFlight === 0) this.idle?.()
  }

  /** Copy of the counters now. */
  snapshot(): LoadCounters {
    return { sent: this.sent, failed: this.failed }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer)
    clearTimeout(this.stopTimer)
    if (this.inFlight > 0) await new Promise<void>((resolve) => (this.idle = resolve))
    this.agent.destroy()
  }
}
