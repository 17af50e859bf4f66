import http from 'node:http'
import http2 from 'node:http2'
import https from 'node:https'
import type { AddressInfo, Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'
import type { Duplex } from 'node:stream'
import type { HostPort } from '../config/address.js'
import type { FrontendConfig } from '../config/schema.js'
import { ERRORS, type ErrorCode, type ErrorParams } from '../errors.js'
import { TrafficStats } from '../metrics/traffic-stats.js'
import type { Logger } from '../log.js'
import type { Runtime } from '../runtime/runtime.js'
import type { AccessLog } from './access-log.js'
import { sendError, writeRawError } from './error-response.js'
import type { Frontend, FrontendOptions } from './frontend.js'
import type { FrontendContext } from './frontend-context.js'
import { adaptHttp2Request } from './http2-request.js'
import { HttpExchange } from './http-exchange.js'
import { isAcceptableRequestId, nextRequestId } from './request-id.js'
import { checkRequestTarget } from './request-target.js'
import { Router } from './router.js'
import { tlsSetupFor, type TlsSetup } from './tls-setup.js'
import { listenOn } from './listen-on.js'
import { UpgradeTunnel } from './upgrade-tunnel.js'

/** The response a socket is currently answering (to tell "waiting for the server" from "idle client"). */
const kResponse = Symbol('switchyard.response')
/** Work queued behind that response on the same connection: pipelined requests, then possibly an error answer. */
const kWaiting = Symbol('switchyard.waiting')
/** Set once the connection's parser failed and its error answer is written or queued. */
const kFailed = Symbol('switchyard.failed')
/**
 * An HTTP/1 connection's socket with the balancer's bookkeeping, and the two fields of Node's HTTP server that
 * its own flood protection uses to stop reading (see later()).
 */
type TrackedSocket = Socket & {
  [kResponse]?: http.ServerResponse | undefined
  [kWaiting]?: (() => void)[] | undefined
  [kFailed]?: boolean
  _paused?: boolean
  parser?: { pause(): void; resume(): void } | null
}

/**
 * Pipelined requests parsed ahead of the one being answered, per connection, before the balancer stops reading
 * from it (a chunk already read is still parsed whole, so this bounds memory per connection, not exactly).
 */
const MAX_PIPELINED = 16

/** At most this many concurrent streams per HTTP/2 connection (HAProxy and nginx use about the same). */
const HTTP2_MAX_STREAMS = 100

/**
 * An HTTP frontend: its listeners (one per address), request ids, routing, and the hand-over of each request
 * to an HttpExchange (or an UpgradeTunnel). Also answers malformed requests itself, and stops gracefully.
 *
 * With `tls:` each listener is an https server whose certificate is chosen by SNI; with `http2` (the default)
 * ALPN offers h2 first, and connections that pick it are handed to one HTTP/2 server, whose requests take the
 * same path as HTTP/1.1 ones after adaptHttp2Request. HTTP/1.1 keeps node's own https server with all its limits.
 */
export class HttpFrontend implements FrontendContext, Frontend {
  readonly name: string
  config: FrontendConfig
  readonly accessLog: AccessLog | undefined
  readonly log: Logger
  shuttingDown = false
  readonly stats = new TrafficStats()

  private router: Router
  private readonly servers: http.Server[] = []
  private readonly tunnels = new Set<UpgradeTunnel>()
  private inFlight = 0
  private onIdle: (() => void) | undefined
  private tls: TlsSetup | undefined
  private http2: http2.Http2SecureServer | undefined
  private readonly sessions = new Set<http2.ServerHttp2Session>()

  constructor(name: string, config: FrontendConfig, runtime: Runtime, options: FrontendOptions) {
    this.name = name
    this.config = config
    this.accessLog = options.accessLog
    this.log = options.log
    this.router = new Router(config, runtime.backends)
    this.tls = config.tls === undefined ? undefined : tlsSetupFor(config.tls)
  }

  /** The scheme clients used, for X-Forwarded-Proto and Forwarded. */
  get proto(): 'http' | 'https' {
    return this.tls === undefined ? 'http' : 'https'
  }

  async listen(): Promise<void> {
    for (const address of this.config.listen) this.servers.push(await this.bind(address))
  }

  /** Bound addresses (ports resolved when port 0 was asked for). */
  addresses(): HostPort[] {
    return this.servers.map((s) => {
      const a = s.address() as AddressInfo
      return { host: a.address, port: a.port }
    })
  }

  private bind(address: HostPort): Promise<http.Server> {
    const t = this.config.timeouts
    const options: http.ServerOptions = {
      maxHeaderSize: this.config.max_header_size,
      keepAliveTimeout: t.keep_alive,
      headersTimeout: t.http_request,
      // Whole-request time is not limited (long uploads are fine); idleness is, through `timeout` below.
      requestTimeout: 0,
      connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(t.http_request / 4))),
      requireHostHeader: false,
      noDelay: true,
    }
    const server = this.tls === undefined ? http.createServer(options) : this.createHttpsServer(options)
    server.timeout = t.client
    // Node keeps only the first ~1000 header lines of a request but frames its body with all of them: a
    // Content-Length or Transfer-Encoding after the cut was invisible here, and the request went to the server
    // without its body. The head's size is bounded by max_header_size, so the count needs no limit of its own.
    server.maxHeadersCount = 0
    server.on('request', this.onRequest)
    server.on('upgrade', this.onUpgrade)
    server.on('clientError', this.onClientError)
    server.on('timeout', onSocketTimeout)
    server.on('checkContinue', this.onCheckContinue)
    // A frontend is not a forward proxy. Without a listener Node closed the connection without a word.
    server.on('connect', (req: http.IncomingMessage, socket: Duplex) => {
      this.stats.requestErrors++
      this.stats.countStatus('', ERRORS.SY_ERR_BAD_REQUEST.status)
      writeRawError(socket as Socket, 'SY_ERR_BAD_REQUEST', this.requestIdOf(req), { reason: 'CONNECT is not supported' })
    })
    return listenOn(server, address, this.name, this.log)
  }

  private createHttpsServer(options: http.ServerOptions): https.Server {
    const tlsConfig = this.config.tls!
    const server = https.createServer({
      ...options,
      ...this.tls!.defaults,
      SNICallback: (servername, done) => done(null, this.tls?.contextFor(servername)),
      ALPNProtocols: tlsConfig.http2 ? ['h2', 'http/1.1'] : ['http/1.1'],
      // A client gets as long for its handshake as for its request head.
      handshakeTimeout: this.config.timeouts.http_request,
    })
    // A handshake that fails (wrong SNI, bad client, port scan) is the client's problem, not a listener error.
    server.on('tlsClientError', (err: NodeJS.ErrnoException) => {
      this.stats.requestErrors++
      this.log.debug({ event: 'tls.handshake_failed', frontend: this.name, reason: err.code ?? err.message }, 'TLS handshake failed')
    })
    if (tlsConfig.http2) {
      const h2 = this.http2Server()
      // The https server's own listener speaks HTTP/1.1; connections that chose h2 go to the HTTP/2 server.
      const http1 = server.listeners('secureConnection') as ((socket: TLSSocket) => void)[]
      server.removeAllListeners('secureConnection')
      server.on('secureConnection', (socket: TLSSocket) => {
        if (socket.alpnProtocol === 'h2') h2.emit('secureConnection', socket)
        else for (const listener of http1) listener.call(server, socket)
      })
    }
    return server
  }

  /** The HTTP/2 server shared by this frontend's listeners (it never listens itself: sockets are handed to it). */
  private http2Server(): http2.Http2SecureServer {
    if (this.http2 !== undefined) return this.http2
    const h2 = http2.createSecureServer({
      settings: { maxConcurrentStreams: HTTP2_MAX_STREAMS, maxHeaderListSize: this.config.max_header_size },
      maxHeaderListPairs: 256,
    })
    h2.setTimeout(this.config.timeouts.client)
    h2.on('session', (session: http2.ServerHttp2Session) => {
      this.sessions.add(session)
      session.once('close', () => this.sessions.delete(session))
      if (this.shuttingDown) session.close()
    })
    h2.on('sessionError', () => undefined)
    h2.on('request', this.onRequest as unknown as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void)
    h2.on('checkContinue', this.onCheckContinue as unknown as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void)
    this.http2 = h2
    return h2
  }

  /**
   * A reload swaps in the new routes (to the next runtime's backends), timeouts and certificates; listeners and
   * open connections stay (connections keep the certificate they were opened with). `max_header_size` needs a new
   * listener: it applies when the listen address changes.
   */
  useConfig(config: FrontendConfig, runtime: Runtime): void {
    const tls = config.tls === undefined ? undefined : tlsSetupFor(config.tls)
    this.router = new Router(config, runtime.backends)
    this.config = config
    for (const server of this.servers) {
      server.keepAliveTimeout = config.timeouts.keep_alive
      server.headersTimeout = config.timeouts.http_request
      server.timeout = config.timeouts.client
      if (tls !== undefined && tls !== this.tls) (server as https.Server).setSecureContext(tls.defaults)
    }
    this.tls = tls
    this.http2?.setTimeout(config.timeouts.client)
  }

  private readonly onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const socket = req.socket as TrackedSocket
    // (An "HTTP/2.0" request line read by the HTTP/1 parser is not HTTP/2: checkRequestTarget refuses it.)
    const http1 = !('stream' in req)
    // Pipelined requests are taken one at a time, like HAProxy does: their answers go out in order anyway, and
    // starting them all at once turned one client connection into as many server connections as it had requests.
    // It also keeps the requests after a "Connection: close" answer, or after an error that closes the
    // connection, from reaching a server at all.
    if (http1 && socket[kResponse] !== undefined) return this.later(socket, () => this.onRequest(req, res))
    // The connection's last answer is out (after "Connection: close" or an error), but Node goes on parsing what
    // arrives until the client closes: a request read now can get no answer, and must not reach a server.
    if (http1 && !socket.writable) return void req.resume()
    const started = performance.now()
    this.inFlight++
    this.stats.requests++
    if (this.inFlight > this.stats.maxActive) this.stats.maxActive = this.inFlight
    if (http1) socket[kResponse] = res
    else adaptHttp2Request(req)
    res.once('close', () => {
      if (http1 && socket[kResponse] === res) {
        socket[kResponse] = undefined
        this.next(socket)
      }
      this.requestDone()
    })
    const requestId = this.requestIdOf(req)
    try {
      if (this.config.https_redirect !== false) return this.redirectToHttps(req, res, requestId, started)
      const problem = checkRequestTarget(req)
      if (problem !== undefined) return this.answerDirect(req, res, 'SY_ERR_BAD_REQUEST', requestId, started, { reason: problem }, true)
      // "OPTIONS *" asks about the balancer itself (RFC 9110 section 9.3.7): it answers.
      if (req.url === '*') return this.answerOptions(req, res, requestId, started)
      const backend = this.router.route(req.headers.host, req.url ?? '/', req.headers)
      if (backend === undefined) return this.answerDirect(req, res, 'SY_ERR_NO_ROUTE', requestId, started)
      new HttpExchange(this, backend, req, res, requestId, started).start()
    } catch (err) {
      // A defect must cost one request, not the process.
      this.log.error({ event: 'request.internal_error', frontend: this.name, request_id: requestId, err }, 'internal error')
      sendError(res, 'SY_ERR_INTERNAL', requestId, { reason: 'unexpected failure' }, { close: true })
    }
  }

  /**
   * `Expect: 100-continue`: a body that is going to be refused is not invited. Otherwise the client is told to
   * go on and the request takes the normal path.
   */
  private readonly onCheckContinue = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const declared = Number(req.headers['content-length'] ?? 0)
    const max = this.config.max_body_size
    if (max > 0 && declared > max) {
      this.inFlight++
      res.once('close', () => this.requestDone())
      return sendError(res, 'SY_ERR_BODY_TOO_LARGE', this.requestIdOf(req), { limit: max }, { close: true })
    }
    res.writeContinue()
    this.onRequest(req, res)
  }

  private readonly onUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
    // Read after the connection's last answer (see onRequest): it must not reach a server.
    if (!socket.writable) return void socket.destroy()
    const requestId = this.requestIdOf(req)
    const problem = checkRequestTarget(req)
    if (problem !== undefined) return writeRawError(socket as Socket, 'SY_ERR_BAD_REQUEST', requestId, { reason: problem })
    const backend = this.router.route(req.headers.host, req.url ?? '/', req.headers)
    if (backend === undefined || this.shuttingDown) {
      return writeRawError(socket as Socket, backend === undefined ? 'SY_ERR_NO_ROUTE' : 'SY_ERR_SHUTTING_DOWN', requestId)
    }
    const tunnel = new UpgradeTunnel(this, backend, req, socket as Socket, head, requestId)
    this.tunnels.add(tunnel)
    this.inFlight++
    tunnel.onClose(() => {
      this.tunnels.delete(tunnel)
      this.requestDone()
    })
    tunnel.start()
  }

  private readonly onClientError = (err: NodeJS.ErrnoException, socket: Duplex): void => {
    const tracked = socket as TrackedSocket
    // Node reports the parser's error again for every later chunk: once it is answered (or queued), that is all.
    if (tracked[kFailed] === true && socket.writable) return
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy()
      return
    }
    // The error is in a request behind the one being answered (whose request is complete): it is answered in its
    // turn. Written at once, it went out before the earlier answer, in its place, while a server handled that
    // earlier request anyway.
    const current = tracked[kResponse]
    if (current !== undefined && current.req.complete) {
      tracked[kFailed] = true
      tracked.pause()
      return this.later(tracked, () => this.answerClientError(err, tracked))
    }
    if (current?.headersSent === true) {
      socket.destroy()
      return
    }
    this.answerClientError(err, tracked)
  }

  private answerClientError(err: NodeJS.ErrnoException, socket: TrackedSocket): void {
    socket[kFailed] = true
    let code: ErrorCode = 'SY_ERR_BAD_REQUEST'
    if (err.code === 'HPE_HEADER_OVERFLOW') code = 'SY_ERR_HEADERS_TOO_LARGE'
    else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'HPE_HEADERS_TIMEOUT') code = 'SY_ERR_REQUEST_TIMEOUT'
    const reason = (err as { reason?: string }).reason ?? err.code ?? 'malformed request'
    this.stats.requestErrors++
    this.stats.countStatus('', ERRORS[code].status)
    writeRawError(socket, code, nextRequestId(), { reason })
    // Paused when the answer was queued: reading on lets the client's close be seen (later bytes go nowhere).
    socket.resume()
  }

  /** Queues work behind the response in progress on an HTTP/1 connection; stops reading when too much waits. */
  private later(socket: TrackedSocket, work: () => void): void {
    const waiting = (socket[kWaiting] ??= [])
    waiting.push(work)
    if (waiting.length >= MAX_PIPELINED) pauseReading(socket)
  }

  /** The response in progress on a connection is done: the next waiting request (or error answer) goes on. */
  private next(socket: TrackedSocket): void {
    const waiting = socket[kWaiting]
    if (waiting === undefined || waiting.length === 0) return
    // A connection that is closing (after "Connection: close" or an error) answers nothing more.
    if (!socket.writable) {
      socket[kWaiting] = undefined
      return
    }
    const work = waiting.shift()!
    // Node lets the connection read again each time it moves on to the next answer (its own check looks at unsent
    // answers only): this runs right after, before any more bytes are read.
    if (waiting.length >= MAX_PIPELINED) pauseReading(socket)
    else if (socket._paused === true && waiting.length < MAX_PIPELINED / 2) {
      // As Node does when its unsent answers drain.
      socket._paused = false
      socket.parser?.resume()
      socket.resume()
    }
    work()
  }

  private requestIdOf(req: http.IncomingMessage): string {
    if (this.config.trust_request_id) {
      const sent = req.headers['x-request-id']
      if (typeof sent === 'string' && isAcceptableRequestId(sent)) return sent
    }
    return nextRequestId()
  }

  /** Answers a request without a server: an error (404) or "OPTIONS *". */
  private answerDirect(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    code: ErrorCode,
    requestId: string,
    started: number,
    params: ErrorParams = {},
    close = this.shuttingDown,
  ): void {
    // Any body the client sent is read and dropped so that the connection can be reused.
    req.resume()
    sendError(res, code, requestId, params, { close })
    this.logDirect(req, res.statusCode, requestId, started, code)
  }

  /** `https_redirect`: the same host and target over https (308 keeps the method and body, RFC 9110 15.4.9). */
  private redirectToHttps(req: http.IncomingMessage, res: http.ServerResponse, requestId: string, started: number): void {
    const problem = checkRequestTarget(req)
    const host = req.headers.host
    if (problem !== undefined || host === undefined || req.url === '*') {
      return this.answerDirect(req, res, 'SY_ERR_BAD_REQUEST', requestId, started, { reason: problem ?? 'a redirect to https needs a Host header' }, true)
    }
    req.resume()
    const port = this.config.https_redirect === true ? 443 : this.config.https_redirect
    const hostname = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d*$/, '')
    const location = `https://${hostname}${port === 443 ? '' : `:${port}`}${req.url ?? '/'}`
    res.writeHead(308, { location, 'content-length': 0, 'x-request-id': requestId })
    res.end()
    this.logDirect(req, 308, requestId, started, undefined)
  }

  private answerOptions(req: http.IncomingMessage, res: http.ServerResponse, requestId: string, started: number): void {
    req.resume()
    res.writeHead(200, { allow: 'GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS', 'content-length': 0, 'x-request-id': requestId })
    res.end()
    this.logDirect(req, 200, requestId, started, undefined)
  }

  private logDirect(req: http.IncomingMessage, status: number, requestId: string, started: number, error: ErrorCode | undefined): void {
    this.stats.countStatus('', status)
    if (error !== undefined && status < 500) this.stats.requestErrors++
    this.accessLog?.write({
      frontend: this.name, backend: undefined, server: undefined, client: req.socket.remoteAddress ?? '',
      method: req.method ?? '', path: req.url ?? '', status, bytes: 0, bytesIn: 0,
      durationMs: performance.now() - started, queueMs: 0, upstreamMs: -1, retries: 0, requestId, error,
    })
  }

  private requestDone(): void {
    this.inFlight--
    if (this.inFlight === 0) this.onIdle?.()
  }

  get activeRequests(): number {
    return this.inFlight
  }

  /**
   * Graceful stop: listeners stop accepting, idle keep-alive connections close, requests in flight finish
   * (their responses carry Connection: close; HTTP/2 clients get a GOAWAY) for up to `graceMs`. Then WebSockets
   * and other tunnels are asked to go away (close code 1001, bounded by a short linger) and what is left is cut.
   */
  async close(graceMs: number): Promise<void> {
    this.shuttingDown = true
    const closed = this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())))
    for (const s of this.servers) s.closeIdleConnections()
    // HTTP/2: GOAWAY; streams in flight finish, new ones go to a new connection.
    for (const session of this.sessions) session.close()
    if (this.inFlight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs)
        this.onIdle = () => {
          clearTimeout(timer)
          resolve()
        }
      })
    }
    for (const s of this.servers) s.closeAllConnections()
    for (const session of this.sessions) session.destroy()
    // WebSockets get a close frame 1001 between two frames, then end; each is cut after a short linger at most.
    await UpgradeTunnel.goAwayAll(this.tunnels)
    await Promise.all(closed)
  }
}

/**
 * Stops reading from an HTTP/1 connection. A plain pause() does not hold: Node resumes the socket whenever a request
 * is drained. Node's own protection against pipelining floods (answers piling up unsent) pauses with the socket's
 * `_paused` flag, which makes it pause its parser after the chunk at hand and keep the socket paused; the same is
 * done here. Without it a client could pipeline without end, and every request was parsed and held (60 000 requests
 * on one connection: all of them waiting at once, 150 MB).
 */
function pauseReading(socket: TrackedSocket): void {
  if (socket._paused !== false || !socket.parser) return
  socket._paused = true
  socket.pause()
}

function onSocketTimeout(socket: Socket): void {
  // Waiting for the server's answer is not client idleness: the server timeout governs that. But a request whose
  // body is still coming, with nothing of it left unread here (the balancer is not the one holding it back), waits
  // on its client: a stalled or trickling upload (slow POST) held its connection forever.
  const res = (socket as TrackedSocket)[kResponse]
  if (res !== undefined && !res.headersSent && (res.req.complete || res.req.readableLength > 0)) return
  socket.destroy()
}
