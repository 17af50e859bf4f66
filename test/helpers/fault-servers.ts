/**
 * Misbehaving upstream servers for the resilience suite, written on raw TCP so that every byte of the misbehaviour
 * is ours. Each one answers `GET /healthz` correctly (200, then closes): active health checks see a healthy
 * server, so only what real requests meet (passive checks, retries, timeouts) can protect the clients - the
 * harder case. Every other request meets the fault.
 */
import net, { type AddressInfo, type Socket } from 'node:net'

export type Fault =
  /** Accepts and reads the request, then never answers (the connection stays open). */
  | { readonly kind: 'hang' }
  /** Sends the status line, headers (Content-Length: 1000) and part of the body, then resets the connection. */
  | { readonly kind: 'reset-mid-response' }
  /** Resets the connection after reading the request, before any response byte. */
  | { readonly kind: 'reset-before-response' }
  /** Answers 200 correctly, after `delayMs`. */
  | { readonly kind: 'slow'; readonly delayMs: number }
  /** Writes bytes that are not HTTP, then closes. */
  | { readonly kind: 'garbage' }

export interface FaultServer {
  readonly name: string
  readonly port: number
  readonly address: string
  /** Requests that met the fault (health checks not counted). */
  readonly faulted: () => number
  /** Health checks answered. */
  readonly checks: () => number
  close(): Promise<void>
}

export const GARBAGE = '\u0000\u00ff SSH-2.0-OpenSSH_9.6 definitely not HTTP\r\n\r\n'

/** Starts a fault server on 127.0.0.1 and a free port. */
export async function startFaultServer(name: string, fault: Fault): Promise<FaultServer> {
  const sockets = new Set<Socket>()
  const timers = new Set<NodeJS.Timeout>()
  let faulted = 0
  let checks = 0
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => undefined)
    let head = ''
    const onData = (chunk: Buffer): void => {
      head += chunk.toString('latin1')
      const end = head.indexOf('\r\n\r\n')
      if (end < 0) return
      socket.off('data', onData)
      // Anything after the head (a body) is read and ignored.
      socket.resume()
      const path = head.slice(0, head.indexOf('\r\n')).split(' ')[1] ?? ''
      if (path === '/healthz') {
        checks++
        socket.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok')
        return
      }
      faulted++
      misbehave(socket, fault, name, timers)
    }
    socket.on('data', onData)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    name,
    port,
    address: `127.0.0.1:${port}`,
    faulted: () => faulted,
    checks: () => checks,
    close: async () => {
      for (const timer of timers) clearTimeout(timer)
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      for (const s of sockets) s.destroy()
      await closed
    },
  }
}

function misbehave(socket: Socket, fault: Fault, name: string, timers: Set<NodeJS.Timeout>): void {
  switch (fault.kind) {
    case 'hang':
      return
    case 'reset-before-response':
      socket.resetAndDestroy()
      return
    case 'reset-mid-response':
      socket.write(`HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 1000\r\nx-backend: ${name}\r\n\r\n${'x'.repeat(100)}`, () => {
        // A moment later, so that the partial answer is on its way to the client before the reset.
        const timer = setTimeout(() => {
          timers.delete(timer)
          socket.resetAndDestroy()
        }, 5)
        timers.add(timer)
      })
      return
    case 'slow': {
      const timer = setTimeout(() => {
        timers.delete(timer)
        if (!socket.destroyed) socket.end(`HTTP/1.1 200 OK\r\ncontent-length: ${name.length}\r\nconnection: close\r\n\r\n${name}`)
      }, fault.delayMs)
      timers.add(timer)
      return
    }
    case 'garbage':
      socket.end(GARBAGE)
      return
  }
}
