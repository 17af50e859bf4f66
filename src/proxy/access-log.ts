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

export type AccessLogFormat = 'json' | 'httplog'

/** Where text lines go: a stream that buffers and writes asynchronously (pino's destination for stdout). */
export interface LineSink {
  write(line: string): unknown
}

/**
 * One line per request. `json` (default) goes through a pino child logger (asynchronous writes, off the
 * request path) with a fixed `type: "access"`, so that access lines and event lines can be told apart in one
 * stream. `httplog` writes a text line in the spirit of HAProxy's httplog format:
 *   client [time] frontend backend/server queue_ms/upstream_ms/total_ms status bytes retries request_id "METHOD path"
 * ("-" where there is no value, e.g. no server for a 404).
 */
export class AccessLog {
  private readonly log: Logger

  constructor(
    log: Logger,
    private readonly format: AccessLogFormat = 'json',
    private readonly sink: LineSink = process.stdout,
  ) {
    this.log = log.child({ type: 'access' })
  }

  write(r: AccessRecord): void {
    if (this.format === 'httplog') {
      this.sink.write(`${httplogLine(r, new Date())}\n`)
      return
    }
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

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0')
}

/** HAProxy's date form, in UTC: 21/Nov/2026:22:40:00.123 */
function httplogTime(d: Date): string {
  return `${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}`
}

export function httplogLine(r: AccessRecord, at: Date): string {
  const timing = `${Math.round(r.queueMs)}/${r.upstreamMs < 0 ? -1 : Math.round(r.upstreamMs)}/${Math.round(r.durationMs)}`
  // The request line is quoted: a quote or control character in the path cannot break the line apart.
  const request = JSON.stringify(`${r.method} ${r.path}`)
  return `${r.client} [${httplogTime(at)}] ${r.frontend} ${r.backend ?? '-'}/${r.server ?? '-'} ${timing} ${r.status} ${r.bytes} ${r.retries} ${r.requestId} ${request}`
}
