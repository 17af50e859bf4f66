import http2 from 'node:http2'
import net, { type AddressInfo, type Socket } from 'node:net'
import tls, { type TLSSocket } from 'node:tls'
import type { HostPort } from '../config/address.js'
import type { FrontendConfig } from '../config/schema.js'
import { ERRORS, type ErrorCode, type ErrorParams } from '../errors.js'
import { TrafficStats } from '../metrics/traffic-stats.js'
import type { Logger } from '../log.js'
import type { Runtime } from '../runtime/runtime.js'
import type { AccessLog } from './access-log.js'
import type { ClientRequest, ClientResponse } from './client-message.js'
import { sendError, writeRawError } from './error-response.js'
import type { Frontend, FrontendOptions } from './frontend.js'
import type { FrontendContext } from './frontend-context.js'
import { adaptHttp2Request } from './http2-request.js'
import { Http1Connection, type Http1Host } from './http1-connection.js'
import type { Http1Request } from './http1-request.js'
import type { Http1Response } from './http1-response.js'
import { HttpExchange } from './http-exchange.js'
import { isAcceptableRequestId, nextRequestId } from './request-id.js'
import { checkRequestTarget } from './request-target.js'
import { Router } from './router.js'
import { tlsSetupFor, type TlsSetup } from './tls-setup.js'
import { listenOn } from './listen-on.js'
import { UpgradeTunnel } from './upgrade-tunnel.js'

/** At most this many concurrent streams per HTTP/2 connection (HAProxy and nginx use about the same). */
const HTTP2_MAX_STREAMS = 100

/**
 * An HTTP frontend: its listeners (one per address), request ids, routing, and the hand-over of each request
 * to an HttpExchange (or an UpgradeTunnel). Also answers malformed requests itself, and stops gracefully.
 *
 * HTTP/1.x connections are served by the balancer's own Http1Connection (see there why not node's HTTP server).
 * With `tls:` each listener is a TLS server whose certificate is chosen by SNI; with `http2` (the default) ALPN
 * offers h2 first, and connections that pick it are handed to one node HTTP/2 server, whose requests take the same
 * path as HTTP/1.1 ones after adaptHttp2Request.
 */
export class HttpFrontend implements FrontendContext, Frontend, Http1Host {
  readonly name: string
  config: FrontendConfig
  readonly accessLog: AccessLog | undefined
  readonly log: Logger
  shuttingDown = false
  readonly stats = new TrafficStats()

  private router: Router
  private readonly servers: net.Server[] = []
  private readonly connections = new Set<Http1Connection>()
  private readonly tunnels = new Set<UpgradeTunnel>()
  private inFlight = 0
  private onIdle: (() => void) | undefined
  private tls: TlsSetup | undefined
  private http2: http2.Http2SecureServer | undefined
  private readonly sessions = new Set<http2.ServerHttp2Session>()
  /** Applies the client, head and keep-alive timeouts to every HTTP/1 connection (cheaper than timers per socket). */
  private sweeper: NodeJS.Timeout | undefined

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

  get maxHeadBytes(): number {
    return this.config.max_header_size
  }

  get keepAliveMs(): number {
    return this.config.timeouts.keep_alive
  }

  async listen(): Promise<void> {
    for (const address of this.config.listen) this.servers.push(await this.bind(address))
    this.startSweeper()
  }

  /** Bound addresses (ports resolved when port 0 was asked for). */
  addresses(): HostPort[] {
    return this.servers.map((s) => {
      const a = s.address() as AddressInfo
      return { host: a.address, port: a.port }
    })
  }

  private bind(address: HostPort): Promise<net.Server> {
    // allowHalfOpen: a client that ends its side after its request still gets the answer.
    const server = this.tls === undefined ? net.createServer({ allowHalfOpen: true, noDelay: true }, this.accept) : this.createTlsServer()
    return listenOn(server, address, this.name, this.log)
  }

  private readonly accept = (socket: Socket): void => {
    const connection = new Http1Connection(socket, this)
    this.connections.add(connection)
    if (this.shuttingDown) connection.closeIfIdle()
  }

  private createTlsServer(): tls.Server {
    const tlsConfig = this.config.tls!
    const server = tls.createServer({
      ...this.tls!.defaults,
      // Not half-open (unlike plain HTTP): a client that goes away during its handshake must close the socket,
      // which nothing else would (TLS has close_notify for a client that is done sending).
      allowHalfOpen: false,
      noDelay: true,
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
    const h2 = tlsConfig.http2 ? this.http2Server() : undefined
    server.on('secureConnection', (socket: TLSSocket) => {
      if (h2 !== undefined && socket.alpnProtocol === 'h2') h2.emit('secureConnection', socket)
      else this.accept(socket)
    })
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
    h2.on('request', (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => this.onHttp2Request(req, res, false))
    h2.on('checkContinue', (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => this.onHttp2Request(req, res, true))
    this.http2 = h2
    return h2
  }

  private startSweeper(): void {
    if (this.sweeper !== undefined) return
    const t = this.config.timeouts
    // Every quarter of the shortest timeout (100 ms to 1 s): the head and keep-alive timeouts apply up to one sweep
    // late, the client timeout (seen as progress between sweeps) up to two.
    const every = Math.max(100, Math.min(1000, Math.floor(Math.min(t.client, t.http_request, t.keep_alive) / 4)))
    this.sweeper = setInterval(() => {
      const now = performance.now()
      const timeouts = this.config.timeouts
      for (const connection of this.connections) connection.check(now, timeouts)
    }, every)
    this.sweeper.unref()
  }

  /**
   * A reload swaps in the new routes (to the next runtime's backends), timeouts and certificates; listeners and
   * open connections stay (connections keep the certificate they were opened with). `max_header_size` applies to
   * connections opened from now on.
   */
  useConfig(config: FrontendConfig, runtime: Runtime): void {
    const tls = config.tls === undefined ? undefined : tlsSetupFor(config.tls)
    this.router = new Router(config, runtime.backends)
    this.config = config
    for (const server of this.servers) {
      if (tls !== undefined && tls !== this.tls) (server as tls.Server).setSecureContext(tls.defaults)
    }
    this.tls = tls
    this.http2?.setTimeout(config.timeouts.client)
    clearInterval(this.sweeper)
    this.sweeper = undefined
    if (this.servers.length > 0) this.startSweeper()
  }

  connectionClosed(connection: Http1Connection): void {
    this.connections.delete(connection)
  }

  private onHttp2Request(req: http2.Http2ServerRequest, res: http2.Http2ServerResponse, expectsContinue: boolean): void {
    const request = adaptHttp2Request(req)
    const response = res as unknown as ClientResponse
    this.inFlight++
    res.once('close', () => this.requestDone())
    if (!expectsContinue || this.checkContinue(request, response)) this.handle(request, response)
  }

  /** An HTTP/1 request; its connection calls requestDone() when the response is done or abandoned. */
  onRequest(req: Http1Request, res: Http1Response): void {
    this.inFlight++
    this.handle(req, res)
  }

  onCheckContinue(req: Http1Request, res: Http1Response): void {
    this.inFlight++
    if (this.checkContinue(req, res)) this.handle(req, res)
  }

  /**
   * `Expect: 100-continue`: a body that is going to be refused is not invited (413, and false). Otherwise the
   * client is told to go on and the request takes the normal path.
   */
  private checkContinue(req: ClientRequest, res: ClientResponse): boolean {
    const declared = req.contentLength
    const max = this.config.max_body_size
    if (max > 0 && declared > max) {
      sendError(res, 'SY_ERR_BODY_TOO_LARGE', this.requestIdOf(req), { limit: max }, { close: true })
      return false
    }
    res.writeContinue()
    return true
  }

  private handle(req: ClientRequest, res: ClientResponse): void {
    const started = performance.now()
    this.stats.requests++
    if (this.inFlight > this.stats.maxActive) this.stats.maxActive = this.inFlight
    const requestId = this.requestIdOf(req)
    try {
      if (this.config.https_redirect !== false) return this.redirectToHttps(req, res, requestId, started)
      const problem = checkRequestTarget(req)
      if (problem !== undefined) return this.answerDirect(req, res, 'SY_ERR_BAD_REQUEST', requestId, started, { reason: problem }, true)
      // "OPTIONS *" asks about the balancer itself (RFC 9110 section 9.3.7): it answers.
      if (req.url === '*') return this.answerOptions(req, res, requestId, started)
      const backend = this.router.route(req)
      if (backend === undefined) return this.answerDirect(req, res, 'SY_ERR_NO_ROUTE', requestId, started)
      new HttpExchange(this, backend, req, res, requestId, started).start()
    } catch (err) {
      // A defect must cost one request, not the process.
      this.log.error({ event: 'request.internal_error', frontend: this.name, request_id: requestId, err }, 'internal error')
      sendError(res, 'SY_ERR_INTERNAL', requestId, { reason: 'unexpected failure' }, { close: true })
    }
  }

  onUpgrade(req: Http1Request, socket: Socket, head: Buffer): void {
    const requestId = this.requestIdOf(req)
    // A frontend is not a forward proxy.
    if (req.method === 'CONNECT') return this.refuse(socket, 'SY_ERR_BAD_REQUEST', requestId, { reason: 'CONNECT is not supported' })
    const problem = checkRequestTarget(req)
    if (problem !== undefined) return this.refuse(socket, 'SY_ERR_BAD_REQUEST', requestId, { reason: problem })
    const backend = this.router.route(req)
    if (backend === undefined || this.shuttingDown) {
      return writeRawError(socket, backend === undefined ? 'SY_ERR_NO_ROUTE' : 'SY_ERR_SHUTTING_DOWN', requestId)
    }
    const tunnel = new UpgradeTunnel(this, backend, req, socket, head, requestId)
    this.tunnels.add(tunnel)
    this.inFlight++
    tunnel.onClose(() => {
      this.tunnels.delete(tunnel)
      this.requestDone()
    })
    tunnel.start()
  }

  private refuse(socket: Socket, code: ErrorCode, requestId: string, params: ErrorParams): void {
    this.stats.requestErrors++
    this.stats.countStatus('', ERRORS[code].status)
    writeRawError(socket, code, requestId, params)
  }

  onClientError(socket: Socket, code: ErrorCode, reason: string): void {
    this.refuse(socket, code, nextRequestId(), { reason })
  }

  private requestIdOf(req: ClientRequest): string {
    if (this.config.trust_request_id) {
      const sent = req.headers['x-request-id']
      if (typeof sent === 'string' && isAcceptableRequestId(sent)) return sent
    }
    return nextRequestId()
  }

  /** Answers a request without a server: an error (404) or "OPTIONS *". */
  private answerDirect(
    req: ClientRequest,
    res: ClientResponse,
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
  private redirectToHttps(req: ClientRequest, res: ClientResponse, requestId: string, started: number): void {
    const problem = checkRequestTarget(req)
    const host = req.host
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

  private answerOptions(req: ClientRequest, res: ClientResponse, requestId: string, started: number): void {
    req.resume()
    res.writeHead(200, { allow: 'GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS', 'content-length': 0, 'x-request-id': requestId })
    res.end()
    this.logDirect(req, 200, requestId, started, undefined)
  }

  private logDirect(req: ClientRequest, status: number, requestId: string, started: number, error: ErrorCode | undefined): void {
    this.stats.countStatus('', status)
    if (error !== undefined && status < 500) this.stats.requestErrors++
    this.accessLog?.write({
      frontend: this.name, backend: undefined, server: undefined, client: req.clientIp,
      method: req.method ?? '', path: req.url ?? '', status, bytes: 0, bytesIn: 0,
      durationMs: performance.now() - started, queueMs: 0, upstreamMs: -1, retries: 0, requestId, error,
    })
  }

  requestDone(): void {
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
    clearInterval(this.sweeper)
    this.sweeper = undefined
    const closed = this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())))
    for (const connection of this.connections) connection.closeIfIdle()
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
    for (const connection of this.connections) connection.socket.destroy()
    for (const session of this.sessions) session.destroy()
    // WebSockets get a close frame 1001 between two frames, then end; each is cut after a short linger at most.
    await UpgradeTunnel.goAwayAll(this.tunnels)
    await Promise.all(closed)
  }
}

