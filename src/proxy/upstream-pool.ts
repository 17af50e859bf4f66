/**
 * The balancer's own HTTP/1.1 client toward one server: a pool of keep-alive connections, one request at a time
 * on each (UpstreamConnection), with a hand-written response parser (ResponseParser).
 *
 * Why not undici's Pool, which this replaced: a load balancer needs a small part of a general HTTP client - one
 * request per connection, no pipelining, no redirects, no decompression, no request objects to validate again
 * headers that node's parser already checked. In profiles, undici's general machinery (request objects, queues,
 * diagnostics channels, per-request timers, its wasm copy of llhttp) cost about 35 % of the request path. Here a
 * request is a method call on a reused connection object: the head goes out as one latin1 string in one write, the
 * response is parsed in place, and the socket's listeners and timer are set once per connection.
 */
import { formatHostPort, type HostPort } from '../config/address.js'
import type { UpstreamTlsConfig } from '../config/schema.js'
import type { UpstreamTarget } from './upstream-connect.js'
import { UpstreamConnection } from './upstream-connection.js'
import { UpstreamError } from './upstream-error.js'
import type { HeaderSection } from './request-head.js'
import type { UpstreamBody, UpstreamHandler } from './upstream-handler.js'

export interface UpstreamPoolOptions {
  readonly address: HostPort
  readonly tls: UpstreamTlsConfig | undefined
  /** timeouts.connect */
  readonly connectTimeout: number
  /** timeouts.server: for the response head, then between response bytes (0: none). */
  readonly serverTimeout: number
  /** Connections open at once at most (0: no limit); requests beyond wait in the pool, first come first served. */
  readonly maxConnections: number
}

interface WaitingRequest {
  readonly handler: UpstreamHandler
  readonly method: string
  readonly path: string
  readonly headers: HeaderSection
  readonly body: UpstreamBody
}

/**
 * How often the sweep runs: it closes idle connections past their keep-alive time (a request never takes one
 * anyway) and applies timeouts.server to busy ones: every eighth of it (20 ms to 1 s), so a timeout applies up to
 * two sweeps late (progress is seen from one sweep to the next).
 */
function sweepInterval(serverTimeout: number): number {
  return Math.max(20, Math.min(1000, Math.floor(serverTimeout / 8)))
}

export class UpstreamPool {
  readonly target: UpstreamTarget
  /** The Host header for a request that has none. */
  readonly hostHeader: string
  readonly serverTimeout: number
  /** The last TLS session the server gave, resumed by the next connection. */
  tlsSession: Buffer | undefined
  private readonly maxConnections: number
  /** Idle connections, the most recently used last (taken first: it is the least likely to be closed by now). */
  private readonly idle: UpstreamConnection[] = []
  /** Every connection open or opening (the sweep applies timeouts.server to the busy ones). */
  private readonly all = new Set<UpstreamConnection>()
  private readonly waiting: WaitingRequest[] = []
  private closed = false
  private closeWaiters: (() => void)[] = []
  private sweeper: NodeJS.Timeout | undefined

  constructor(options: UpstreamPoolOptions) {
    this.target = { host: options.address.host, port: options.address.port, tls: options.tls, connectTimeout: options.connectTimeout }
    this.hostHeader = formatHostPort(options.address)
    this.serverTimeout = options.serverTimeout
    this.maxConnections = options.maxConnections
  }

  /** Connections open or opening. */
  get size(): number {
    return this.all.size
  }

  /**
   * Sends a request; the handler hears of it from onConnect on. `headers` is the header section, Host included
   * (the server's address is sent when it is missing).
   */
  request(method: string, path: string, headers: HeaderSection, body: UpstreamBody, handler: UpstreamHandler): void {
    if (this.closed) return handler.onError(new UpstreamError('UPSTREAM_POOL_CLOSED', 'the server was removed'))
    const connection = this.takeIdle()
    if (connection !== undefined) return connection.send(handler, method, path, headers, body)
    if (this.maxConnections > 0 && this.all.size >= this.maxConnections) {
      this.waiting.push({ handler, method, path, headers, body })
      return
    }
    this.open().open(handler, method, path, headers, body)
  }

  /** Closes idle connections now and resolves once the requests in flight (and waiting) are done. */
  close(): Promise<void> {
    this.closed = true
    for (const connection of [...this.idle]) connection.destroy()
    if (this.all.size === 0) return Promise.resolve()
    return new Promise((resolve) => this.closeWaiters.push(resolve))
  }

  /** A connection finished a response and may carry another request. */
  release(connection: UpstreamConnection): void {
    const next = this.waiting.shift()
    if (next !== undefined) return connection.send(next.handler, next.method, next.path, next.headers, next.body)
    if (this.closed) return connection.destroy()
    this.idle.push(connection)
  }

  /** A connection closed (called once for each). */
  forget(connection: UpstreamConnection): void {
    this.all.delete(connection)
    const at = this.idle.lastIndexOf(connection)
    if (at >= 0) this.idle.splice(at, 1)
    const next = this.waiting.shift()
    if (next !== undefined) {
      this.open().open(next.handler, next.method, next.path, next.headers, next.body)
      return
    }
    if (this.all.size > 0) return
    clearInterval(this.sweeper)
    this.sweeper = undefined
    if (!this.closed) return
    const waiters = this.closeWaiters
    this.closeWaiters = []
    for (const resolve of waiters) resolve()
  }

  private open(): UpstreamConnection {
    if (this.sweeper === undefined) {
      this.sweeper = setInterval(this.sweep, sweepInterval(this.serverTimeout))
      this.sweeper.unref()
    }
    const connection = new UpstreamConnection(this)
    this.all.add(connection)
    return connection
  }

  private takeIdle(): UpstreamConnection | undefined {
    if (this.idle.length === 0) return undefined
    const now = Date.now()
    for (let connection = this.idle.pop(); connection !== undefined; connection = this.idle.pop()) {
      if (connection.usable(now)) return connection
      connection.destroy()
    }
    return undefined
  }

  private readonly sweep = (): void => {
    const now = Date.now()
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const connection = this.idle[i]
      if (connection !== undefined && !connection.usable(now)) connection.destroy()
    }
    for (const connection of this.all) connection.check(now, this.serverTimeout)
  }
}
