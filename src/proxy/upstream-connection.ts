import type { Socket } from 'node:net'
import { TLSSocket } from 'node:tls'
import { requestHead, type HeaderSection } from './request-head.js'
import { PARSE_DONE, PARSE_ERROR, PARSE_EXTRA, PARSE_MORE, PARSE_STOPPED, ResponseParser, type ResponseSink } from './response-parser.js'
import { StreamBodyWriter, type BodyWriterOwner } from './stream-body-writer.js'
import { openUpstream } from './upstream-connect.js'
import { UpstreamError } from './upstream-error.js'
import type { UpstreamBody, UpstreamHandler, UpstreamLink } from './upstream-handler.js'
import type { UpstreamPool } from './upstream-pool.js'

/** Idle connections are closed after this long, or sooner when the server's Keep-Alive hint asks for less. */
export const IDLE_TIMEOUT_MS = 4000
/** Taken off the server's Keep-Alive timeout: the connection is closed before the server would close it. */
const KEEP_ALIVE_MARGIN_MS = 1000

/**
 * One keep-alive HTTP/1.1 connection to a server, carrying one request at a time for its UpstreamPool (see there
 * why the client is hand-written). The object is the link its handler acts through and the sink of its response
 * parser, so a request costs no closure: the socket's listeners are set once per connection.
 *
 * timeouts.server is applied by the pool's periodic sweep (check()) rather than by the socket's idle timer, which
 * node would re-arm on every read and write: it measures the wait for the response head after the request went
 * out, then the gaps between response bytes. It does not count while the response is paused for a slow client,
 * nor while the request body is still being sent.
 */
export class UpstreamConnection implements UpstreamLink, ResponseSink, BodyWriterOwner {
  private readonly pool: UpstreamPool
  private readonly parser = new ResponseParser(this)
  /** The TCP socket while connecting; then the socket requests go on (TLS over it for a TLS backend). */
  private socket: Socket | undefined
  private handler: UpstreamHandler | undefined
  private dead = false
  /** Whether a byte of the current request's response arrived: failures after that are not "empty responses". */
  private received = false
  /** Paused for the handler (onHeaders or onData returned false). */
  private paused = false
  /** The bytes of the chunk being read when the handler paused, read on resume. */
  private held: Buffer | undefined
  /** Goes up on every request sent, response read, resume and body sent: the sweep sees the server move. */
  private activity = 0
  /** The activity the sweep saw last, and since when it has not changed (ms, the sweep's clock). */
  private seenActivity = -1
  private quietSince = 0
  private body: StreamBodyWriter | undefined
  /** The first request, kept while the connection opens. */
  private pending: { method: string; path: string; headers: HeaderSection; body: UpstreamBody } | undefined
  /** When the connection last went idle (epoch ms), and how long it may stay idle. */
  private idleSince = 0
  private keepAliveMs = IDLE_TIMEOUT_MS

  constructor(pool: UpstreamPool) {
    this.pool = pool
  }

  /** Opens the connection for its first request. */
  open(handler: UpstreamHandler, method: string, path: string, headers: HeaderSection, body: UpstreamBody): void {
    this.handler = handler
    this.pending = { method, path, headers, body }
    this.socket = openUpstream(this.pool.target, this.onOpen, this.onOpenFailed, { session: this.pool.tlsSession, onRead: this.onSocketData })
  }

  /** Sends a request on this (open, idle) connection. */
  send(handler: UpstreamHandler, method: string, path: string, headers: HeaderSection, body: UpstreamBody): void {
    const socket = this.socket!
    this.handler = handler
    this.activity++
    this.received = false
    this.parser.start(method === 'HEAD')
    handler.onConnect(this)
    if (this.handler !== handler) return
    const head = requestHead(method, path, headers, body, this.pool.hostHeader)
    if (body === null) {
      socket.write(head, 'latin1')
    } else if (Buffer.isBuffer(body)) {
      socket.cork()
      socket.write(head, 'latin1')
      socket.write(body)
      socket.uncork()
    } else {
      socket.write(head, 'latin1')
      this.body = new StreamBodyWriter(this, socket, body, headers.contentLength)
    }
  }

  /** True when the idle connection may take a request at `now` (epoch ms). */
  usable(now: number): boolean {
    return !this.dead && now - this.idleSince < this.keepAliveMs && !this.socket!.destroyed
  }

  /** Closes the connection; a request on it gets no more callbacks (use fail() to tell it). */
  destroy(): void {
    if (this.dead) return
    this.dead = true
    if (this.body !== undefined) {
      this.body.abandon()
      this.body = undefined
    }
    this.pending = undefined
    this.held = undefined
    this.socket?.destroy()
    this.pool.forget(this)
  }

  // ---- the link ----

  abort(handler: UpstreamHandler, err?: Error): void {
    if (handler !== this.handler) return
    this.fail(err ?? new UpstreamError('UPSTREAM_ABORTED', 'request aborted'))
  }

  resume(handler: UpstreamHandler): void {
    if (handler !== this.handler || !this.paused) return
    this.paused = false
    this.activity++
    const held = this.held
    this.held = undefined
    if (held !== undefined) this.onSocketData(held)
    else if (this.parser.finished) this.complete(true)
    if (!this.paused && !this.dead) this.socket!.resume()
  }

  // ---- the parser's sink ----

  onResponseHead(status: number, reason: string, headers: string[]): boolean {
    const handler = this.handler!
    if (!handler.onHeaders(status, reason, headers, this.parser.connection)) this.pause()
    return this.handler === handler && !this.paused
  }

  onResponseData(chunk: Buffer): boolean {
    const handler = this.handler!
    if (!handler.onData(chunk)) this.pause()
    return this.handler === handler && !this.paused
  }

  // ---- the body writer's owner ----

  bodySent(): void {
    this.body = undefined
    this.activity++
  }

  bodyFailed(err: Error): void {
    this.body = undefined
    this.fail(err)
  }

  // ---- socket events ----

  private readonly onOpen = (socket: Socket): void => {
    const pending = this.pending
    if (this.dead || pending === undefined) return void socket.destroy()
    this.pending = undefined
    this.socket = socket
    socket.on('end', this.onSocketEnd)
    socket.on('close', this.onSocketEnd)
    socket.on('error', this.onSocketError)
    if (socket instanceof TLSSocket) socket.on('session', this.onTlsSession)
    this.send(this.handler!, pending.method, pending.path, pending.headers, pending.body)
  }

  private readonly onOpenFailed = (err: Error): void => {
    this.fail(err)
  }

  private readonly onTlsSession = (session: Buffer): void => {
    this.pool.tlsSession = session
  }

  private readonly onSocketData = (chunk: Buffer): void => {
    if (this.handler === undefined) {
      // Bytes with no request outstanding: the server is not speaking HTTP as we are. Nothing more goes here.
      return this.destroy()
    }
    this.received = true
    this.activity++
    const result = this.parser.execute(chunk)
    if (result === PARSE_MORE) return
    if (result === PARSE_DONE || result === PARSE_EXTRA) return this.complete(result === PARSE_DONE)
    if (result === PARSE_ERROR) return this.fail(new UpstreamError('UPSTREAM_PROTOCOL', this.parser.error))
    // PARSE_STOPPED: the handler paused (what is left of the chunk waits for resume), or it aborted.
    if (result === PARSE_STOPPED && this.paused && this.parser.stoppedAt < chunk.length) this.held = chunk.subarray(this.parser.stoppedAt)
  }

  /** The server ended the connection (or it closed): ends a response read until close, else fails the request. */
  private readonly onSocketEnd = (): void => {
    if (this.handler === undefined) return this.destroy()
    if (this.parser.finishAtClose()) return this.complete(false)
    this.fail(
      this.received
        ? new UpstreamError('UPSTREAM_TRUNCATED', 'the server closed the connection in the middle of its response')
        : new UpstreamError('UPSTREAM_CLOSED', 'the server closed the connection without answering'),
    )
  }

  private readonly onSocketError = (err: Error): void => {
    if (this.handler === undefined) return this.destroy()
    // A reset before any response byte (ECONNRESET, EPIPE) keeps node's error: the request was not answered.
    this.fail(this.received ? new UpstreamError('UPSTREAM_TRUNCATED', `the response was cut: ${err.message}`) : err)
  }

  /**
   * The pool's sweep (every eighth of timeouts.server, 1 s at most): a request whose server has not moved for
   * `timeoutMs` fails with a timeout. A paused response, or a request body still going out, waits for the client,
   * not for the server: the time does not count.
   */
  check(now: number, timeoutMs: number): void {
    if (this.handler === undefined || this.pending !== undefined) return
    if (this.activity !== this.seenActivity || this.paused || (this.body !== undefined && !this.body.blocked)) {
      this.seenActivity = this.activity
      this.quietSince = now
      return
    }
    if (now - this.quietSince < timeoutMs) return
    this.fail(
      this.parser.headComplete
        ? new UpstreamError('UPSTREAM_BODY_TIMEOUT', 'no response byte within timeouts.server')
        : new UpstreamError('UPSTREAM_HEADERS_TIMEOUT', 'no response within timeouts.server'),
    )
  }

  // ---- ends of a request ----

  private pause(): void {
    if (this.paused || this.dead) return
    this.paused = true
    this.socket!.pause()
  }

  /** The response is complete: the connection goes back to the pool when it can carry another request. */
  private complete(clean: boolean): void {
    const handler = this.handler!
    this.handler = undefined
    const socket = this.socket!
    const hint = this.parser.keepAliveHintMs
    this.keepAliveMs = hint < 0 ? IDLE_TIMEOUT_MS : Math.min(IDLE_TIMEOUT_MS, hint - KEEP_ALIVE_MARGIN_MS)
    // A request still being sent (the server answered early) leaves the connection in an unknown state.
    const reusable = clean && this.parser.keepAlive && this.keepAliveMs > 0 && this.body === undefined && socket.writableLength === 0
    if (reusable) {
      this.idleSince = Date.now()
      this.pool.release(this)
    } else this.destroy()
    handler.onComplete()
  }

  private fail(err: Error): void {
    const handler = this.handler
    this.handler = undefined
    this.destroy()
    handler?.onError(err)
  }
}
