import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { HostPort } from '../config/address.js'
import { SwitchyardError } from '../errors.js'
import { silentLogger, type Logger } from '../log.js'
import { RequestRates } from '../stats/request-rates.js'
import { requestCounts } from '../stats/stats-rows.js'
import { errorReply, sendReply, type AdminReply } from './admin-reply.js'
import { AdminRouter, type AdminRoute } from './admin-router.js'
import type { BalancerControl } from './balancer-control.js'
import { BearerAuth } from './bearer-auth.js'
import { deploymentRoutes } from './deployment-routes.js'
import { EventStreams } from './event-stream.js'
import { openApiRoute } from './openapi.js'
import { readJsonBody } from './read-json-body.js'
import { readsNeedToken } from './read-policy.js'
import { crossSiteReason, crossSiteReply } from './same-origin.js'
import { serverRoutes } from './server-routes.js'
import { metricsRoute, statsRoutes, type MetricsEndpoint } from './stats-routes.js'

export interface AdminServerOptions {
  readonly control: BalancerControl
  /** `admin.token`; without one every write is refused. */
  readonly token: string | undefined
  /**
   * `admin.stats_public`: whether reads (state, stats, events, metrics) are open without the token. Unset: open
   * when the listener is on a loopback address, else they need the token.
   */
  readonly statsPublic?: boolean
  /** Served at its path (`/metrics`) when given. */
  readonly metrics?: MetricsEndpoint
  /** How often the events stream sends a heartbeat comment (tests shorten it). */
  readonly heartbeatMs?: number
  readonly log?: Logger
}

/**
 * The admin listener: `GET /healthz` (200 once `ready`, else 503), the JSON API of docs/admin-api.md and the
 * stats page and exports of docs/stats.md. Reads are open (unless `statsPublic` says otherwise); every other
 * method must come from this listener's own origin and carry the bearer token, checked before its body is read.
 */
export class AdminServer {
  /** Set by the balancer once the configuration is loaded and every listener is bound. */
  ready = false

  /** Every route this listener serves (test/admin-openapi.test.ts compares them with the OpenAPI document). */
  readonly routes: readonly AdminRoute[]

  private readonly server: http.Server
  private readonly router: AdminRouter
  private readonly control: BalancerControl
  private readonly auth: BearerAuth
  private readonly log: Logger
  private readonly statsPublic: boolean | undefined
  private readonly rates: RequestRates
  private readonly streams: EventStreams
  /** Decided when the listener is bound (the default depends on its address). */
  private readsNeedToken = true

  constructor(options: AdminServerOptions) {
    const { control } = options
    this.control = control
    this.auth = new BearerAuth(options.token)
    this.log = options.log ?? silentLogger()
    this.statsPublic = options.statsPublic
    this.rates = new RequestRates(() => requestCounts(control.state()))
    this.streams = new EventStreams(control.events, options.heartbeatMs)
    this.routes = [
      this.healthRoute(),
      ...serverRoutes(control),
      ...deploymentRoutes(control),
      ...statsRoutes(control, this.rates),
      this.streams.route(),
      ...(options.metrics === undefined ? [] : [metricsRoute(options.metrics)]),
      openApiRoute(),
    ]
    this.router = new AdminRouter(this.routes)
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.log.error({ event: 'admin.failed', err }, 'admin request failed')
        sendReply(res, errorReply(err))
      })
    })
  }

  listen(address: HostPort): Promise<HostPort> {
    return new Promise((resolve, reject) => {
      this.server.once('error', (err: NodeJS.ErrnoException) =>
        reject(new SwitchyardError('SY_ERR_LISTEN', { address: `${address.host}:${address.port}`, reason: err.code ?? err.message })),
      )
      this.server.listen({ host: address.host, port: address.port }, () => {
        const a = this.server.address() as AddressInfo
        this.readsNeedToken = readsNeedToken(this.statsPublic, a.address)
        this.rates.start()
        resolve({ host: a.address, port: a.port })
      })
    })
  }

  /** Stops at once: a client waiting for a drain is cut off rather than holding the stop up. */
  async close(): Promise<void> {
    this.rates.stop()
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()))
    this.streams.closeAll()
    this.server.closeAllConnections()
    await closed
  }

  private healthRoute(): AdminRoute {
    return {
      path: '/healthz',
      open: true,
      methods: { GET: () => (this.ready ? { status: 200, body: { ready: true } } : { status: 503, body: { ready: false } }) },
    }
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const method = req.method ?? 'GET'
    const url = req.url ?? '/'
    const q = url.indexOf('?')
    const rawPath = q < 0 ? url : url.slice(0, q)
    const rawQuery = q < 0 ? '' : url.slice(q + 1)
    let reply: AdminReply
    try {
      reply = await this.dispatch(req, method, rawPath, new URLSearchParams(rawQuery))
    } catch (err) {
      reply = errorReply(err)
      if (!(err instanceof SwitchyardError)) this.log.error({ event: 'admin.failed', method, path: rawPath, err }, 'admin request failed')
    }
    // An unread (refused or oversized) body: answered at once, the rest is dropped (see discardRest).
    if (!req.complete) discardRest(req)
    if (method !== 'GET' && method !== 'HEAD') {
      this.log.info({ event: 'admin.write', method, path: rawPath, status: reply.status }, `${method} ${rawPath} -> ${reply.status}`)
    }
    sendReply(res, reply, method)
  }

  private async dispatch(req: http.IncomingMessage, method: string, rawPath: string, query: URLSearchParams): Promise<AdminReply> {
    const match = this.router.match(method, rawPath)
    if (match.kind === 'not-found') throw new SwitchyardError('SY_ERR_NOT_FOUND', { method, path: rawPath })
    if (match.kind === 'method-not-allowed') {
      return errorReply(new SwitchyardError('SY_ERR_METHOD_NOT_ALLOWED', { method, path: rawPath }), { allow: match.allow.join(', ') })
    }
    const write = method !== 'GET' && method !== 'HEAD'
    if (write) {
      const crossSite = crossSiteReason(req.headers)
      if (crossSite !== undefined) return crossSiteReply(crossSite)
    }
    if (write || (this.readsNeedToken && !match.open)) {
      try {
        this.auth.check(req.headers.authorization)
      } catch (err) {
        return errorReply(err, { 'www-authenticate': 'Bearer realm="switchyard"' })
      }
    }
    const reply = await match.handler({ params: match.params, query, readBody: () => readJsonBody(req) })
    // A write is acknowledged once it is on disk: a kill -9 right after the answer must not lose it (invariant 7;
    // resilience suite, test/resilience/state-durability.test.ts).
    if (write && reply.status < 400) await this.control.durable?.()
    return reply
  }
}

/** How much of an unread body is still read and dropped after the answer, and for how long, before the cut. */
const DISCARD_LIMIT = 16 * 1024 * 1024
const DISCARD_MS = 5000

/**
 * Reads the rest of a body the answer did not need, and drops it. Closing the connection with unread bytes makes
 * the kernel send a reset, which can destroy the answer before the client reads it: a client still sending 10 MB
 * got a connection reset instead of the 413 (resilience suite, test/resilience/admin-surface.test.ts). Memory
 * stays bounded (nothing is kept); a body beyond DISCARD_LIMIT, or still arriving after DISCARD_MS, is cut after
 * all - by then the client had time to read the answer. A body that ends in time leaves the connection usable.
 */
function discardRest(req: http.IncomingMessage): void {
  let dropped = 0
  const cut = (): void => {
    req.socket.destroy()
  }
  const timer = setTimeout(cut, DISCARD_MS)
  timer.unref()
  req.on('data', (chunk: Buffer) => {
    dropped += chunk.length
    if (dropped > DISCARD_LIMIT) cut()
  })
  req.once('end', () => clearTimeout(timer))
  req.once('close', () => clearTimeout(timer))
  req.resume()
}
