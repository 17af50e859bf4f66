import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { HostPort } from '../config/address.js'
import { SwitchyardError } from '../errors.js'

/**
 * The admin listener. For now it answers `GET /healthz` (200 once the configuration is loaded and every
 * listener is bound) and a JSON 404 for anything else.
 */
export class AdminServer {
  private readonly server: http.Server
  ready = false

  constructor() {
    this.server = http.createServer((req, res) => {
      if (req.url === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) {
        const body = this.ready ? 'ok\n' : 'starting\n'
        res.writeHead(this.ready ? 200 : 503, { 'content-type': 'text/plain', 'content-length': body.length })
        res.end(body)
        return
      }
      const body = JSON.stringify(new SwitchyardError('SY_ERR_NOT_FOUND', { method: req.method ?? '', path: req.url ?? '' }))
      res.writeHead(404, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
      res.end(body)
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

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
    this.server.closeAllConnections()
  }
}
