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

/** What one connection of a tcp frontend leaves in the access log, once it is closed. */
export interface TcpAccessRecord {
  readonly frontend: string
  readonly backend: string
  /** The server that carried the connection (undefined when none did). */
  readonly server: string | undefined
  readonly client: string
  readonly clientPort: number
  /** Bytes from the client to the server. */
  readonly bytesIn: number
  /** Bytes from the server to the client. */
  readonly bytesOut: number
  /** Time from accepting the connection to its close, in ms. */
  readonly durationMs: number
  /** Time spent waiting in the backend's queue, in ms. */
  readonly queueMs: number
  /** Time to connect to the server that carried the connection (retries included), in ms (-1 when none did). */
  readonly connectMs: number
  readonly retries: number
  /**
   * What ended it: client-closed / server-closed (that side's FIN came first), idle-timeout, go-away, connect-failed,
   * queue-full, queue-timeout, client-gone (before a server was connected), client-error:CODE, server-error:CODE.
   */
  readonly termination: string
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
 * A tcp frontend writes one line per connection (`mode: "tcp"` in JSON); its `httplog` line follows HAProxy's
 * tcplog in spirit:
 *   client:port [time] frontend backend/server queue_ms/connect_ms/total_ms bytes_out bytes_in retries termination
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

  writeTcp(r: TcpAccessRecord): void {
    if (this.format === 'httplog') {
      this.sink.write(`${tcplogLine(r, new Date())}\n`)
      return
    }
    this.log.info({
      mode: 'tcp',
      frontend: r.frontend,
      backend: r.backend,
      server: r.server,
      client: r.client,
      client_port: r.clientPort,
      bytes_in: r.bytesIn,
      bytes_out: r.bytesOut,
      duration_ms: round(r.durationMs),
      queue_ms: round(r.queueMs),
      connect_ms: round(r.connectMs),
      retries: r.retries,
      termination: r.termination,
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

export function tcplogLine(r: TcpAccessRecord, at: Date): string {
  const timing = `${Math.round(r.queueMs)}/${r.connectMs < 0 ? -1 : Math.round(r.connectMs)}/${Math.round(r.durationMs)}`
  const client = r.client.includes(':') ? `[${r.client}]` : r.client
  return `${client}:${r.clientPort} [${httplogTime(at)}] ${r.frontend} ${r.backend}/${r.server ?? '-'} ${timing} ${r.bytesOut} ${r.bytesIn} ${r.retries} ${r.termination}`
}
