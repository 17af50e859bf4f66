import net, { type Socket } from 'node:net'
import tls from 'node:tls'
import type { Backend } from '../runtime/backend.js'
import type { Server } from '../runtime/server.js'
import { defaultServerName, upstreamTlsOptions } from './upstream-tls.js'

export interface UpstreamConnectOptions {
  /**
   * Bytes that go first on the connection, before any TLS (a PROXY protocol header: servers that accept both,
   * e.g. nginx `listen ... ssl proxy_protocol` or HAProxy `accept-proxy ssl`, read it before the handshake).
   */
  readonly preface?: Buffer | undefined
}

/**
 * Opens a raw connection to a server for a tunnel (WebSocket, TCP frontend): plain TCP, or TLS when the backend
 * has `tls:`. `onReady` runs once the connection can carry bytes (after the preface and the TLS handshake);
 * `onFailure` once, for a refused connection, a failed handshake or `timeouts.connect` passing first. The caller
 * owns the socket it gets (a TLS socket when the backend speaks TLS) and may close it any time.
 */
export function connectUpstream(
  backend: Backend,
  server: Server,
  onReady: (socket: Socket) => void,
  onFailure: (reason: string) => void,
  options: UpstreamConnectOptions = {},
): Socket {
  const { host, port } = server.address
  const tlsConfig = backend.config.tls
  const raw = net.connect({ host, port, noDelay: true })
  let secure: tls.TLSSocket | undefined
  let settled = false
  const fail = (reason: string): void => {
    if (settled) return
    settled = true
    clearTimeout(timer)
    secure?.destroy()
    raw.destroy()
    onFailure(reason)
  }
  const ready = (socket: Socket): void => {
    if (settled) return
    settled = true
    clearTimeout(timer)
    onReady(socket)
  }
  const timer = setTimeout(() => fail('connect timeout'), backend.config.timeouts.connect)
  raw.once('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message))
  raw.once('connect', () => {
    if (settled) return
    if (options.preface !== undefined) raw.write(options.preface)
    if (tlsConfig === undefined) return ready(raw)
    secure = tls.connect({ socket: raw, servername: defaultServerName(host), ...upstreamTlsOptions(tlsConfig) })
    secure.once('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message))
    secure.once('secureConnect', () => ready(secure!))
  })
  return raw
}
