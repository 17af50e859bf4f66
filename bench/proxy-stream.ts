/**
 * A steady stream of requests for the release-time scenario: a few closed loops on keep-alive connections, each
 * recording when a request was sent and which server answered it (the `x-server` header of the bench's named
 * servers, `x-app-version` of the sample app). The gap between two requests sent (a fraction of a millisecond)
 * is the resolution of "the first request sent after the admin call that obeys the change".
 */
import { Agent } from 'node:http'
import { performance } from 'node:perf_hooks'
import { httpRequest } from './proxy-http.js'

export interface Sent {
  /** performance.now() just before the request was handed to the socket. */
  readonly t: number
  /** Who answered: a server name or a release; '!' for a failed request. */
  readonly who: string
}

export class RequestStream {
  private running = false
  private loops: Promise<void>[] = []
  private readonly agent: Agent
  records: Sent[] = []
  failures = 0

  constructor(
    private readonly port: number,
    private readonly concurrency = 4,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets: concurrency })
  }

  start(): void {
    this.running = true
    this.loops = Array.from({ length: this.concurrency }, () => this.loop())
  }

  async stop(): Promise<void> {
    this.running = false
    await Promise.all(this.loops)
    this.agent.destroy()
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const t = performance.now()
      try {
        const answer = await httpRequest(this.port, 'GET', '/', { agent: this.agent, timeoutMs: 5000 })
        const who = answer.headers['x-server'] ?? answer.headers['x-app-version']
        this.records.push({ t, who: answer.status === 200 && typeof who === 'string' ? who : '!' })
      } catch {
        this.failures++
        this.records.push({ t, who: '!' })
      }
    }
  }
}
