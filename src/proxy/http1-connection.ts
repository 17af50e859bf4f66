import type { Socket } from 'node:net'
import type { ErrorCode } from '../errors.js'
import { Http1Request, type BodySource } from './http1-request.js'
import { Http1Response, type ResponseOwner } from './http1-response.js'
import { PARSE_ERROR, PARSE_STOPPED, RequestParser, type RequestHead, type RequestSink } from './request-parser.js'

/** The frontend's timeouts a connection applies, in ms (FrontendConfig.timeouts). */
export interface ConnectionTimeouts {
  readonly client: number
  readonly http_request: number
  readonly keep_alive: number
}

/** What a connection needs from its frontend. */
export interface Http1Host {
  readonly shuttingDown: boolean
  readonly maxHeadBytes: number
  /** timeouts.keep_alive in ms. */
  readonly keepAliveMs: number
  onRequest(req: Http1Request, res: Http1Response): void
  /** `Expect: 100-continue`: the host answers or writes the 100 and handles the request. */
  onCheckContinue(req: Http1Request, res: Http1Response): void
  /** An upgrade (or CONNECT) request: the socket and the bytes after the head are the host's from now on. */
  onUpgrade(req: Http1Request, socket: Socket, head: Buffer): void
  /** A response given to onRequest or onCheckContinue is done, or abandoned with its connection. */
  requestDone(): void
  /** A request that cannot be read: the host writes the error answer on the socket, which then closes. */
  onClientError(socket: Socket, code: ErrorCode, reason: string): void
  connectionClosed(connection: Http1Connection): void
}

// Why parsing stopped (the socket is paused and unread bytes wait in `held`).
const READING = 0
/** The request body's reader wants no more for now. */
const FOR_BODY = 1
/** A request is complete and its response is not: pipelined requests wait their turn. */
const FOR_RESPONSE = 2
/** The connection is done with HTTP (closing, failed or handed over): what arrives is dropped. */
const DONE = 3

const EMPTY = Buffer.alloc(0)

/**
 * One client connection speaking HTTP/1.x, served by the balancer's own server rather than node's. Measured on the
 * bench's keep-alive load, node's HTTP server (its request and response objects, streams and events per request) was
 * the largest cost left on the request path after the upstream client: a plain socket proxy made no more than half
 * its per-request CPU time. Here a request is parsed in place (RequestParser), its header object and body stream are
 * only built when asked for, and a small response leaves in one write.
 *
 * Requests are answered one at a time, in order: a pipelined request is read only once the answer before it is
 * out (HAProxy does the same), so a client cannot make the balancer hold more than a read or two of requests.
 * The socket is paused only when bytes arrive while parsing waits (a pipelining client, a body nobody reads yet):
 * a client that sends one request and waits for its answer costs no pause and resume per request.
 *
 * Timeouts are applied by the frontend's periodic sweep (check()), not by a timer per socket, which node would
 * re-arm on every read and write: timeouts.http_request for a head being read, timeouts.keep_alive for an idle
 * connection, and timeouts.client for a request in progress whose socket moved no byte either way.
 */
export class Http1Connection implements RequestSink, BodySource, ResponseOwner {
  readonly socket: Socket
  /** The client's address, read once for every request on the connection. */
  private readonly clientIp: string
  private readonly host: Http1Host
  private readonly parser: RequestParser
  /** The request whose body is being read, until it is complete. */
  private request: Http1Request | undefined
  /** The response in progress, until it is done. */
  private response: Http1Response | undefined
  private stop = READING
  private held: Buffer | undefined
  private parsing = false
  /** When the head being read started (ms, performance.now()), 0 when none is. */
  private headSince: number
  /** When the connection became idle between requests, 0 while it is not. */
  private idleSince = 0
  /** The client ended its side: the connection ends after the answer in progress. */
  private clientEnded = false
  private upgrade: Http1Request | undefined
  /** The socket is paused (by onData, for bytes that came while parsing waited). */
  private paused = false
  /** Bytes read and written when the sweep last saw them change, and when that was (performance.now()). */
  private progress = 0
  private progressAt: number

  constructor(socket: Socket, host: Http1Host) {
    this.socket = socket
    this.clientIp = socket.remoteAddress ?? ''
    this.host = host
    this.parser = new RequestParser(this, host.maxHeadBytes)
    // Like node, a new connection has timeouts.http_request for its first head, from the moment it opens.
    this.headSince = performance.now()
    this.progressAt = this.headSince
    socket.on('data', this.onData)
    socket.on('end', this.onEnd)
    socket.on('close', this.onClose)
    socket.on('error', onSocketError)
    socket.on('drain', this.onDrain)
  }

  get keepAliveSeconds(): number {
    // Rounded down: a client that trusts the hint must not reuse the connection after the balancer closed it.
    return Math.floor(this.host.keepAliveMs / 1000)
  }

  /** Whether the connection is between requests, with no byte of the next one read. */
  get idle(): boolean {
    return this.stop === READING && this.response === undefined && this.request === undefined && this.parser.idle
  }

  /** The frontend's periodic check: head timeout (408), keep-alive timeout and client timeout. */
  check(now: number, timeouts: ConnectionTimeouts): void {
    // bytesWritten counts bytes handed to the socket, so a client that stopped reading shows no progress once the
    // balancer stops writing to it (backpressure).
    const progress = this.socket.bytesRead + this.socket.bytesWritten
    if (progress !== this.progress) {
      this.progress = progress
      this.progressAt = now
    }
    const stalled = now - this.progressAt > timeouts.client
    // Done with HTTP (a last answer on its way out): only a client that stopped reading can keep it.
    if (this.stop === DONE) {
      if (stalled) this.socket.destroy()
      return
    }
    if (this.idleSince > 0 && now - this.idleSince > timeouts.keep_alive) {
      this.socket.destroy()
      return
    }
    if (this.headSince > 0 && now - this.headSince > timeouts.http_request && this.response === undefined) {
      this.fail('SY_ERR_REQUEST_TIMEOUT', 'request head not complete within timeouts.http_request')
      return
    }
    if (stalled) this.clientTimedOut()
  }

  /** Closes the connection if it is between requests (graceful stop). */
  closeIfIdle(): void {
    if (this.idle) this.socket.destroy()
  }

  // ---- reading ----

  private readonly onData = (chunk: Buffer): void => {
    if (this.stop !== READING) {
      if (this.stop === DONE) return
      // Parsing waits: the bytes are kept with the rest, and reading stops until it goes on.
      this.held = this.held === undefined ? chunk : Buffer.concat([this.held, chunk])
      this.pause()
      return
    }
    this.parse(chunk)
  }

  private pause(): void {
    if (this.paused) return
    this.paused = true
    this.socket.pause()
  }

  private parse(chunk: Buffer): void {
    this.parsing = true
    let from = 0
    if (chunk.length > 0) this.idleSince = 0
    for (;;) {
      const result = this.parser.execute(chunk, from)
      if (result === PARSE_ERROR) {
        this.parsing = false
        return this.fail(this.parser.errorStatus === 431 ? 'SY_ERR_HEADERS_TOO_LARGE' : 'SY_ERR_BAD_REQUEST', this.parser.error)
      }
      if (result !== PARSE_STOPPED) break
      const rest = this.parser.stoppedAt
      if (this.upgrade !== undefined) {
        this.parsing = false
        return this.handOver(chunk.subarray(rest))
      }
      if (this.stop === READING) {
        // The reason to stop went away while parsing (a reader asked for more at once).
        from = rest
        continue
      }
      if (this.stop !== DONE && rest < chunk.length) {
        this.held = chunk.subarray(rest)
        this.pause()
      }
      break
    }
    this.parsing = false
    if (this.headSince === 0 && this.parser.readingHead) this.headSince = performance.now()
  }

  /** Parsing may go on (reason: the one it stopped for). */
  private proceed(reason: number): void {
    if (this.stop !== reason) return
    this.stop = READING
    if (this.parsing) return
    if (this.paused && !this.clientEnded) {
      this.paused = false
      this.socket.resume()
    }
    const held = this.held
    this.held = undefined
    // Even with no byte held: the parser reports the end of a request it stopped in only when called again.
    this.parse(held ?? EMPTY)
    // A client that ended its side and whose requests are all answered: the connection ends.
    if (this.clientEnded && this.stop === READING && this.response === undefined && this.request === undefined) this.finish()
  }

  readBody(): void {
    this.proceed(FOR_BODY)
  }

  // ---- the parser's sink ----

  onRequestHead(head: RequestHead): boolean {
    this.headSince = 0
    const req = new Http1Request(head, this.socket, this.clientIp, this)
    if (head.upgrade || head.method === 'CONNECT') {
      this.upgrade = req
      this.stop = DONE
      return false
    }
    this.request = req
    const res = new Http1Response(req, this)
    this.response = res
    if (head.expectContinue && head.versionMinor === 1) this.host.onCheckContinue(req, res)
    else this.host.onRequest(req, res)
    return this.stop === READING
  }

  onRequestBody(chunk: Buffer): boolean {
    if (this.request!.pushBody(chunk)) return true
    this.stop = FOR_BODY
    return false
  }

  onRequestEnd(): boolean {
    this.request!.endBody()
    this.request = undefined
    if (this.response === undefined) return this.stop === READING
    this.stop = FOR_RESPONSE
    return false
  }

  // ---- the response's owner ----

  keepAliveAfter(req: Http1Request): boolean {
    return req.keepAlive && !this.host.shuttingDown && !this.clientEnded && this.stop !== DONE
  }

  responseDone(res: Http1Response, closes: boolean): void {
    if (res !== this.response) return
    this.response = undefined
    this.host.requestDone()
    if (closes) {
      this.stop = DONE
      return
    }
    // Answered before its body was all read: the rest is read and dropped, and the connection goes on.
    this.request?.resume()
    this.proceed(FOR_RESPONSE)
    if (this.idle) this.idleSince = performance.now()
  }

  private readonly onDrain = (): void => {
    this.response?.drained()
  }

  // ---- the end of the connection ----

  /** The client will send nothing more; an answer in progress still goes out. */
  private readonly onEnd = (): void => {
    this.clientEnded = true
    if (this.request !== undefined) {
      // The body can never be complete: there is nothing to answer.
      this.socket.destroy()
      return
    }
    if (this.response === undefined && this.stop === READING) this.finish()
  }

  private finish(): void {
    this.stop = DONE
    this.socket.end()
  }

  private readonly onClose = (): void => {
    this.stop = DONE
    this.held = undefined
    this.request?.abortBody()
    this.request = undefined
    const res = this.response
    this.response = undefined
    if (res !== undefined) {
      res.abandon()
      this.host.requestDone()
    }
    this.host.connectionClosed(this)
  }

  /** No byte moved either way for timeouts.client. */
  private clientTimedOut(): void {
    // Between requests the keep-alive timeout applies (check()); waiting for the server's answer is not client
    // idleness either: the server timeout governs that. But a request whose body is still coming, with nothing of
    // it held back here, waits on its client: a stalled upload (slow POST) must not hold its connection forever.
    const res = this.response
    if (res === undefined && this.request === undefined) return
    if (res !== undefined && !res.headersSent && (this.request === undefined || this.stop === FOR_BODY)) return
    this.socket.destroy()
  }

  /** The request cannot be read (or took too long): answered with an error when nothing else is, then closed. */
  private fail(code: ErrorCode, reason: string): void {
    this.stop = DONE
    this.held = undefined
    const res = this.response
    if (res !== undefined) {
      // In the middle of a request whose answer has begun: cutting the connection is the only signal left.
      this.request?.abortBody()
      if (res.headersSent) return void this.socket.destroy()
      this.response = undefined
      res.abandon()
      this.host.requestDone()
    }
    this.host.onClientError(this.socket, code, reason)
  }

  /** Upgrade and CONNECT: the socket leaves HTTP; the host gets it with the bytes read after the head. */
  private handOver(rest: Buffer): void {
    const req = this.upgrade!
    this.upgrade = undefined
    const socket = this.socket
    socket.off('data', this.onData)
    socket.off('end', this.onEnd)
    socket.off('close', this.onClose)
    socket.off('drain', this.onDrain)
    socket.off('error', onSocketError)
    // As node does on an upgrade: neither flowing nor paused, so that the new reader's 'data' listener starts it.
    ;(socket as { readableFlowing: boolean | null }).readableFlowing = null
    this.host.connectionClosed(this)
    const held = this.held
    this.held = undefined
    this.host.onUpgrade(req, socket, held === undefined ? rest : Buffer.concat([rest, held]))
  }
}

/** A connection's errors show as its close (ECONNRESET and the like are the client's business). */
function onSocketError(): void {}
