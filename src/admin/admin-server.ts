import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { HostPort } from '../config/address.js'
import { SwitchyardError } from '../errors.js'
import { silentLogger, type Logger } from '../log.js'
import { errorReply, sendReply, type AdminReply } from './admin-reply.js'
import { AdminRouter, type AdminRoute } from './admin-router.js'
import type { BalancerControl } from './balancer-control.js'
import { BearerAuth } from './bearer-auth.js'
import { deploymentRoutes } from './deployment-routes.js'
import { readJsonBody } from './read-json-body.js'
import { serverRoutes } from './server-routes.js'

export interface AdminServerOptions {
  readonly control: BalancerControl
  /** `admin.token`; without one every write is refused. */
  readonly token: string | undefined
  readonly log?: Logger
}

/**
 * The admin listener: `GET /healthz` (200 once `ready`, else 503) and the JSON API of docs/admin-api.md.
 * Reads are open; every other method needs the bearer token and is checked before its body is even read.
 */
export class AdminServer {
  /** Set by the balancer once the configuration is loaded and every listener is bound. */
  ready = false

  private readonly server: http.Server
  private readonly router: AdminRouter
  private readonly auth: BearerAuth
  private readonly log: Logger

  constructor(options: AdminServerOptions) {
    this.auth = new BearerAuth(options.token)
    this.log = options.log ?? silentLogger()
    this.router = new AdminRouter([this.healthRoute(), ...serverRoutes(options.control), ...deploymentRoutes(options.control)])
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
        resolve({ host: a.address, port: a.port })
      })
    })
  }

  /** Stops at once: a client waiting for a drain is cut off rather than holding the stop up. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()))
    this.server.closeAllConnections()
    await closed
  }

  private healthRoute(): AdminRoute {
    return {
      path: '/healthz',
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
    if (!req.complete) {
      // An unread (refused or oversized) body: answer, then close rather than read it to the end.
      reply = { ...reply, headers: { ...reply.headers, connection: 'close' } }
      req.resume()
    }
    if (method !== 'GET' && method !== 'HEAD') {
      this.log.info({ event: 'admin.write', method, path: rawPath, status: reply.status }, `${method} ${rawPath} -> ${reply.status}`)
    }
    sendReply(res, reply)
  }

  private async dispatch(req: http.IncomingMessage, method: string, rawPath: string, query: URLSearchParams): Promise<AdminReply> {
    const match = this.router.match(method, rawPath)
    if (match.kind === 'not-found') throw new SwitchyardError('SY_ERR_NOT_FOUND', { method, path: rawPath })
    if (match.kind === 'method-not-allowed') {
      return errorReply(new SwitchyardError('SY_ERR_METHOD_NOT_ALLOWED', { method, path: rawPath }), { allow: match.allow.join(', ') })
    }
    if (method !== 'GET' && method !== 'HEAD') {
      try {
        this.auth.check(req.headers.authorization)
      } catch (err) {
        return errorReply(err, { 'www-authenticate': 'Bearer realm="switchyard"' })
      }
    }
    return match.handler({ params: match.params, query, readBody: () => readJsonBody(req) })
  }
}
