import net, { type Socket } from 'node:net'
import tls from 'node:tls'
import type { Backend } from '../runtime/backend.js'
import type { Server } from '../runtime/server.js'
import { defaultServerName, upstreamTlsOptions } from './upstream-tls.js'

/**
 * Opens a raw connection to a server for a tunnel (WebSocket, TCP frontend): plain TCP, or TLS when the backend
 * has `tls:`. `onReady` runs once the connection can carry bytes (after the TLS handshake); `onFailure` once, for
 * a refused connection, a failed handshake or `timeouts.connect` passing first. The caller owns the socket.
 */
export function connectUpstream(
  backend: Backend,
  server: Server,
  onReady: (socket: Socket) => void,
  onFailure: (reason: string) => void,
): Socket {
  const { host, port } = server.address
  const tlsConfig = backend.config.tls
  const socket =
    tlsConfig === undefined
      ? net.connect({ host, port, noDelay: true })
      : tls.connect({ host, port, servername: defaultServerName(host), ...upstreamTlsOptions(tlsConfig) })
  socket.setNoDelay(true)
  let settled = false
  const fail = (reason: string): void => {
    if (settled) return
    settled = true
    socket.removeListener('timeout', onTimeout)
    socket.destroy()
    onFailure(reason)
  }
  const onTimeout = (): void => fail('connect timeout')
  socket.setTimeout(backend.config.timeouts.connect)
  socket.once('timeout', onTimeout)
  socket.once('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message))
  socket.once(tlsConfig === undefined ? 'connect' : 'secureConnect', () => {
    if (settled) return
    settled = true
    socket.removeListener('timeout', onTimeout)
    socket.setTimeout(0)
    onReady(socket)
  })
  return socket
}
