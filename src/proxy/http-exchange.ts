import type { RetryCondition } from '../config/schema.js'
import type { ErrorCode, ErrorParams } from '../errors.js'
import type { Backend } from '../runtime/backend.js'
import type { QueueWaiter } from '../runtime/request-queue.js'
import type { Server } from '../runtime/server.js'
import type { ClientRequest, ClientResponse } from './client-message.js'
import { sendError } from './error-response.js'
import { clientResponseHeaders, upstreamRequestHeaders } from './headers.js'
import type { HeaderSection } from './request-head.js'
import { chooseRelease, type ReleaseChoice } from './release-choice.js'
import { hashKeyOf, stickyCookieValue } from './request-keys.js'
import { BodyTooLargeError, NO_BODY, readRequestBody, type RequestBody } from './request-body.js'
import type { FrontendContext } from './frontend-context.js'
import { failureReason } from './upstream-connect.js'
import type { UpstreamErrorCode } from './upstream-error.js'
import type { UpstreamHandler, UpstreamLink } from './upstream-handler.js'

const NO_HEADERS: HeaderSection = { lines: '', host: false, contentLength: -1 }
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE'])

/** Why an upstream attempt failed, as the retry policy and the error answer see it. */
export type Failure = 'conn-failure' | 'empty-response' | 'timeout' | 'protocol' | 'too-large' | 'client-gone' | 'retry-status' | 'internal' | 'other'

class RetryStatusAbort extends Error {}

/** The upstream client threw while taking the request: a defect, which must cost this request only. */
class SendDefect extends Error {
  constructor(cause: unknown) {
    super('the upstream client failed to take the request', { cause })
  }
}

/**
 * One client request on its way through the balancer: body handling, server choice (sticky cookie, hash key
 * or algorithm), the queue, upstream attempts and retries, and streaming the response back with backpressure.
 * It is the upstream client's handler for every attempt (one object per request, reused across retries).
 */
export class HttpExchange implements UpstreamHandler, QueueWaiter {
  private readonly ctx: FrontendContext
  private backend: Backend
  private readonly req: ClientRequest
  private readonly res: ClientResponse
  private readonly requestId: string
  private readonly started: number

  private body: RequestBody = NO_BODY
  private headers: HeaderSection = NO_HEADERS
  private server: Server | undefined
  /** The server of the latest attempt (kept for the access log). */
  private lastServer: Server | undefined
  /** The value of the backend's persistence cookie sent by the client, if any. */
  private cookie: string | undefined
  /** Under a release split: the version this request prefers, and a cookie for a new sticky client. */
  private release: ReleaseChoice | undefined
  private tried: Set<Server> | undefined
  private attempts = 0
  /** The upstream request of the current attempt, from onConnect until it ends. */
  private link: UpstreamLink | undefined
  private responseStarted = false
  private done = false
  private queuedAt = 0
  /** Epoch ms until which this request may wait in a queue (0 before it first waits). */
  queueDeadline = 0
  private queueMs = 0
  private woken = false
  private upstreamStart = 0
  private upstreamMs = -1
  private status = 0
  private bytesOut = 0
  private setCookie = false
  private errorCode: ErrorCode | undefined
  /** Resumes the upstream transfer when the client took what was written (made on the first backpressure). */
  private onClientDrain: (() => void) | undefined

  constructor(ctx: FrontendContext, backend: Backend, req: ClientRequest, res: ClientResponse, requestId: string, started: number) {
    this.ctx = ctx
    this.backend = backend
    this.req = req
    this.res = res
    this.requestId = requestId
    this.started = started
    res.on('close', this.onClientClose)
  }

  start(): void {
    const body = readRequestBody(this.req, this.backend.config.retry_buffer, this.ctx.config.max_body_size)
    if (body instanceof Promise) {
      body.then(
        (read) => this.onBody(read),
        () => this.fail('SY_ERR_BAD_REQUEST', { reason: 'unreadable body' }),
      )
    } else this.onBody(body)
  }

  private onBody(body: RequestBody): void {
    if (this.done) return
    if (body.kind === 'too-large') return this.fail('SY_ERR_BODY_TOO_LARGE', { limit: this.ctx.config.max_body_size }, true)
    if (body.kind === 'aborted') return this.finishClientGone()
    this.body = body
    if (this.backend.config.sticky !== undefined) this.cookie = stickyCookieValue(this.backend.config.sticky.cookie, this.req)
    if (this.backend.split !== undefined) this.release = chooseRelease(this.backend, this.req)
    this.headers = upstreamRequestHeaders(this.req, {
      clientIp: this.req.clientIp,
      proto: this.ctx.proto,
      requestId: this.requestId,
      upgrade: false,
    })
    this.attempt()
  }

  private attempt(): void {
    if (this.done) return
    // Requests already waiting go first: a new request joins the queue behind them.
    const server = this.woken || this.backend.queue.length === 0 ? this.pickServer() : undefined
    if (server === undefined) return this.enqueue()
    this.dispatchTo(server)
  }

  private pickServer(): Server | undefined {
    const preview = this.backend.preview
    if (preview !== undefined && this.req.headers[preview.header] === preview.version) {
      return this.backend.pickRelease(preview.version, this.tried)
    }
    if (this.cookie !== undefined) {
      const sticky = this.backend.serverForCookie(this.cookie)
      if (sticky !== undefined && this.tried?.has(sticky) !== true) return sticky
    }
    const key = this.backend.config.balance === 'hash' ? hashKeyOf(this.backend.config.hash_key, this.req) : undefined
    if (this.backend.split !== undefined) return this.backend.pickInSplit(this.release?.preferred, key, this.tried)
    return this.backend.pick(key, this.tried)
  }

  private enqueue(): void {
    const now = Date.now()
    if (this.queueDeadline === 0) {
      this.queuedAt = now
      this.queueDeadline = now + this.backend.queue.timeoutMs
    }
    if (!this.backend.queue.push(this, this.queueDeadline, this.woken)) {
      this.fail('SY_ERR_QUEUE_FULL', { backend: this.backend.name })
    }
  }

  wake(): void {
    if (this.done) return
    this.woken = true
    // A server that failed earlier and has come back may be tried again.
    this.tried = undefined
    this.attempt()
  }

  /** A reload replaced the backend while this request waited: go on with the new one. */
  rebind(backend: Backend): void {
    this.backend = backend
  }

  expire(): void {
    if (this.done) return
    this.fail('SY_ERR_NO_SERVER', { backend: this.backend.name })
  }

  private dispatchTo(server: Server): void {
    if (this.queuedAt > 0) this.queueMs = Date.now() - this.queuedAt
    this.attempts++
    this.server = server
    this.lastServer = server
    server.begin()
    this.upstreamStart = performance.now()
    this.setCookie = this.backend.config.sticky !== undefined && this.cookie !== server.cookieValue
    const body = this.body.kind === 'buffered' || this.body.kind === 'stream' ? this.body.data : null
    try {
      server.pool.request(this.req.method ?? 'GET', this.req.url ?? '/', this.headers, body, this)
    } catch (err) {
      const link = this.link
      this.onError(new SendDefect(err))
      link?.abort(this)
    }
  }

  // ---- the upstream client's handler ----

  onConnect(link: UpstreamLink): void {
    this.link = link
    if (this.done) link.abort(this)
  }

  onHeaders(statusCode: number, statusText: string, rawHeaders: string[], connection: string | undefined): boolean {
    if (this.done) return false
    this.upstreamMs = performance.now() - this.upstreamStart
    if (statusCode >= 500 && this.canRetry(String(statusCode) as RetryCondition, true)) {
      this.link?.abort(this, new RetryStatusAbort())
      return false
    }
    const headers = clientResponseHeaders(rawHeaders, connection)
    if (this.setCookie) headers.push('set-cookie', `${this.backend.config.sticky!.cookie}=${this.server!.cookieValue}; Path=/; HttpOnly; SameSite=Lax`)
    if (this.release?.setCookie !== undefined) headers.push('set-cookie', this.release.setCookie)
    const http1 = this.req.httpVersionMajor === 1
    // HTTP/2 has no Connection header (a GOAWAY tells the client instead) and no reason phrase.
    if (http1 && this.ctx.shuttingDown) headers.push('connection', 'close')
    try {
      if (http1) this.res.writeHead(statusCode, statusText, headers)
      else this.res.writeHead(statusCode, headers)
    } catch {
      // Only HTTP/2 refuses headers that HTTP/1.1 passes (a field that must be single, sent twice).
      this.link?.abort(this)
      this.fail('SY_ERR_UPSTREAM_PROTOCOL')
      return false
    }
    this.status = statusCode
    this.responseStarted = true
    return true
  }

  onData(chunk: Buffer): boolean {
    this.bytesOut += chunk.length
    if (this.res.write(chunk)) return true
    this.res.once('drain', (this.onClientDrain ??= () => this.link?.resume(this)))
    return false
  }

  onComplete(): void {
    const server = this.releaseServer()
    if (server !== undefined) {
      server.recordResponse(this.status >= 500, performance.now() - this.upstreamStart)
      server.stats.countStatus(this.ctx.name, this.status)
      server.stats.bytesOut += this.bytesOut
      server.stats.bytesIn += this.bodyBytes()
      this.backend.observe(server, this.status >= 500)
    }
    this.done = true
    this.res.end()
    this.logAccess()
  }

  onError(err: Error): void {
    const server = this.releaseServer()
    if (this.done) return
    server?.recordResponse(true, performance.now() - this.upstreamStart)
    if (this.responseStarted) {
      if (server !== undefined) {
        server.stats.responseErrors++
        this.backend.observe(server, true)
      }
      // Part of the response is already with the client: the only honest signal left is to cut it.
      this.done = true
      this.errorCode = classify(err) === 'timeout' ? 'SY_ERR_UPSTREAM_TIMEOUT' : 'SY_ERR_UPSTREAM_RESET'
      this.res.destroy()
      this.logAccess()
      return
    }
    const failure = err instanceof RetryStatusAbort ? 'retry-status' : classify(err)
    if (server !== undefined) {
      if (failure === 'conn-failure') server.stats.connectionErrors++
      else if (failure === 'empty-response' || failure === 'timeout' || failure === 'protocol') server.stats.responseErrors++
    }
    // Only the server's own failures count against it (a request that could not be sent says nothing of it).
    if (server !== undefined && failure !== 'client-gone' && failure !== 'too-large' && failure !== 'internal') this.backend.observe(server, true)
    if (failure === 'conn-failure' && server !== undefined) server.markDown(failureReason(err))
    if (failure === 'retry-status' || ((failure === 'conn-failure' || failure === 'empty-response') && this.canRetry(failure, false))) {
      this.backend.retriesTotal++
      if (server !== undefined) (this.tried ??= new Set()).add(server)
      this.woken = false
      return this.attempt()
    }
    switch (failure) {
      case 'too-large':
        return this.fail('SY_ERR_BODY_TOO_LARGE', { limit: this.ctx.config.max_body_size }, true)
      case 'client-gone':
        return this.finishClientGone()
      case 'internal':
        this.ctx.log.error({ event: 'request.internal_error', request_id: this.requestId, err }, 'request could not be sent')
        return this.fail('SY_ERR_INTERNAL', { reason: 'the request could not be sent' })
      case 'timeout':
        return this.fail('SY_ERR_UPSTREAM_TIMEOUT')
      case 'protocol':
        return this.fail('SY_ERR_UPSTREAM_PROTOCOL')
      case 'conn-failure':
        return this.fail('SY_ERR_UPSTREAM_CONNECT', { backend: this.backend.name })
      default:
        return this.fail('SY_ERR_UPSTREAM_RESET')
    }
  }

  // ---- helpers ----

  /** Retry is allowed by configuration, attempts remain, and the request can be sent again as it was. */
  private canRetry(condition: RetryCondition, statusBased: boolean): boolean {
    if (!this.backend.retryOn.has(condition)) return false
    if (this.attempts > this.backend.config.retries) return false
    if (this.body.kind === 'stream') return false
    return !statusBased || IDEMPOTENT.has(this.req.method ?? '')
  }

  private releaseServer(): Server | undefined {
    const server = this.server
    if (server !== undefined) {
      this.server = undefined
      this.link = undefined
      server.end()
    }
    return server
  }

  private fail(code: ErrorCode, params: ErrorParams = {}, close = false): void {
    if (this.done) return
    this.done = true
    this.errorCode = code
    this.backend.queue.remove(this)
    sendError(this.res, code, this.requestId, params, { close: close || this.ctx.shuttingDown })
    this.status = this.res.statusCode
    this.logAccess()
  }

  private finishClientGone(): void {
    if (this.done) return
    this.done = true
    this.errorCode = undefined
    this.logAccess()
  }

  private readonly onClientClose = (): void => {
    if (this.res.writableFinished) return
    // The client went away first: stop the upstream transfer and give the slot back.
    this.backend.queue.remove(this)
    const link = this.link
    if (!this.done) {
      this.done = true
      this.status = this.responseStarted ? this.status : 499
      this.logAccess()
    }
    if (link !== undefined) link.abort(this)
    else if (this.body.kind === 'stream') this.body.data.destroy()
  }

  private bodyBytes(): number {
    return this.body.kind === 'buffered' ? this.body.data.length : Math.max(0, this.req.contentLength)
  }

  /** Called exactly once per request, when it ends: frontend counters and the access log. */
  private logAccess(): void {
    const stats = this.ctx.stats
    stats.countStatus('', this.status)
    stats.bytesOut += this.bytesOut
    stats.bytesIn += this.bodyBytes()
    if (this.errorCode !== undefined && this.status < 500) stats.requestErrors++
    this.ctx.accessLog?.write({
      frontend: this.ctx.name,
      backend: this.backend.name,
      server: this.lastServer?.name,
      client: this.req.clientIp,
      method: this.req.method ?? '',
      path: this.req.url ?? '',
      status: this.status,
      bytes: this.bytesOut,
      bytesIn: this.bodyBytes(),
      durationMs: performance.now() - this.started,
      queueMs: this.queueMs,
      upstreamMs: this.upstreamMs,
      retries: Math.max(0, this.attempts - 1),
      requestId: this.requestId,
      error: this.errorCode,
    })
  }
}

/** Maps the upstream client's and the socket layer's errors to what the retry policy distinguishes. */
export function classify(err: Error): Failure {
  if (err instanceof BodyTooLargeError) return 'too-large'
  if (err instanceof SendDefect) return 'internal'
  const code = (err as NodeJS.ErrnoException).code as UpstreamErrorCode | string | undefined
  switch (code) {
    case 'ECONNREFUSED':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
    case 'UPSTREAM_CONNECT_TIMEOUT':
      return 'conn-failure'
    // Only before any response byte: later, the connection reports UPSTREAM_TRUNCATED.
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UPSTREAM_CLOSED':
      return 'empty-response'
    case 'UPSTREAM_HEADERS_TIMEOUT':
    case 'UPSTREAM_BODY_TIMEOUT':
      return 'timeout'
    case 'UPSTREAM_PROTOCOL':
      return 'protocol'
    case 'UPSTREAM_ABORTED':
    case 'UPSTREAM_BODY_LENGTH':
      return 'client-gone'
  }
  return 'other'
}
