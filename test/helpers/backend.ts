import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

export interface TestBackend {
  readonly name: string
  readonly port: number
  readonly address: string
  /** Requests received, by method and path. */
  readonly received: { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }[]
  readonly server: http.Server
  /** Stops listening and resets every open connection (a crashed server). */
  kill(): Promise<void>
  /** Graceful close. */
  close(): Promise<void>
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void

/**
 * A real HTTP server on 127.0.0.1 and a free port. By default it answers 200 with its name as the body and
 * an `x-backend` header; `handler` replaces that answer (the body is already read).
 */
export async function startBackend(name: string, handler?: Handler, port = 0): Promise<TestBackend> {
  const received: TestBackend['received'] = []
  const sockets = new Set<Socket>()
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString()
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body })
      if (handler !== undefined) return handler(req, res, body)
      res.writeHead(200, { 'content-type': 'text/plain', 'x-backend': name })
      res.end(name)
    })
  })
  server.on('connection', (s: Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  const actualPort = (server.address() as AddressInfo).port
  return {
    name,
    port: actualPort,
    address: `127.0.0.1:${actualPort}`,
    received,
    server,
    kill: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      // A socket whose write side is already shut down (the peer closed first and node answered with its own
      // FIN) cannot be reset: node 20 reports EINVAL and leaves the handle open, spinning the event loop.
      for (const s of sockets) {
        if (s.writableEnded) s.destroy()
        else s.resetAndDestroy()
      }
      await closed
    },
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      server.closeIdleConnections()
      await closed
    },
  }
}
