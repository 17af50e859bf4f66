import type { Logger } from '../log.js'

/** What one request leaves in the access log. */
export interface AccessRecord {
  readonly frontend: string
  readonly backend: string | undefined
  readonly server: string | undefined
  readonly client: string
  readonly method: string
  readonly path: string
  readonly status: number
  /** Response body bytes sent to the client. */
  readonly bytes: number
  /** Request body bytes received (known for buffered bodies; declared length otherwise). */
  readonly bytesIn: number
  /** Total time from the request's arrival to the end of its response, in ms. */
  readonly durationMs: number
  /** Time spent waiting in the backend's queue, in ms. */
  readonly queueMs: number
  /** Time from sending to the chosen server to its response headers, in ms (-1 when none answered). */
  readonly upstreamMs: number
  readonly retries: number
  readonly requestId: string
  /** SY_ERR_* code when the balancer answered with an error itself. */
  readonly error: string | undefined
}

/**
 * One JSON line per request. Uses a pino child logger (asynchronous writes, off the request path) with a
 * fixed `type: "access"` so that access lines and event lines can be told apart in one stream.
 */
export class AccessLog {
  private readonly log: Logger

  constructor(log: Logger) {
    this.log = log.child({ type: 'access' })
  }

  write(r: AccessRecord): void {
    this.log.info({
      frontend: r.frontend,
      backend: r.backend,
      server: r.server,
      client: r.client,
      method: r.method,
      path: r.path,
      status: r.status,
      bytes: r.bytes,
      bytes_in: r.bytesIn,
      duration_ms: round(r.durationMs),
      queue_ms: round(r.queueMs),
      upstream_ms: round(r.upstreamMs),
      retries: r.retries,
      request_id: r.requestId,
      error: r.error,
    })
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100
}
