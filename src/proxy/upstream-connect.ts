import net, { type Socket } from 'node:net'
import tls from 'node:tls'
import type { UpstreamTlsConfig } from '../config/schema.js'
import type { Backend } from '../runtime/backend.js'
import type { Server } from '../runtime/server.js'
import { UpstreamError } from './upstream-error.js'
import { defaultServerName, upstreamTlsOptions } from './upstream-tls.js'

export interface UpstreamConnectOptions {
  /**
   * Bytes that go first on the connection, before any TLS (a PROXY protocol header: servers that accept both,
   * e.g. nginx `listen ... ssl proxy_protocol` or HAProxy `accept-proxy ssl`, read it before the handshake).
   */
  readonly preface?: Buffer | undefined
  /** A TLS session from an earlier connection to the same server, to resume instead of a full handshake. */
  readonly session?: Buffer | undefined
  /**
   * Receives what the server sends, each chunk a buffer of its own, instead of 'data' events. Over plain TCP the
   * socket then reads into one shared buffer with no stream in between (node's `onread`), which saved about a tenth
   * of a small request's CPU time in the bench; over TLS it is a 'data' listener.
   */
  readonly onRead?: ((chunk: Buffer) => void) | undefined
}

/** What plain TCP connections read into before onRead gets its copy (one at a time: reads never overlap). */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024)

/** Where a connection goes and how: the server's address, the backend's `tls:` and `timeouts.connect`. */
export interface UpstreamTarget {
  readonly host: string
  readonly port: number
  readonly tls: UpstreamTlsConfig | undefined
  readonly connectTimeout: number
}

/**
 * Opens a raw connection to a server: plain TCP, or TLS when the target has `tls`. `onReady` runs once the
 * connection can carry bytes (after the preface and the TLS handshake); `onFailure` once, with node's error for a
 * refused connection or a failed handshake, or an UPSTREAM_CONNECT_TIMEOUT error when `connectTimeout` passes
 * first. The caller owns the socket it gets (a TLS socket when the target speaks TLS) and may close it any time;
 * the socket returned at once is the TCP one, to destroy while connecting.
 */
export function openUpstream(
  target: UpstreamTarget,
  onReady: (socket: Socket) => void,
  onFailure: (err: Error) => void,
  options: UpstreamConnectOptions = {},
): Socket {
  const { host, port } = target
  const tlsConfig = target.tls
  const onRead = options.onRead
  const raw =
    onRead === undefined || tlsConfig !== undefined
      ? net.connect({ host, port, noDelay: true })
      : net.connect({ host, port, noDelay: true, onread: readingInto(onRead) })
  let secure: tls.TLSSocket | undefined
  let settled = false
  const fail = (err: Error): void => {
    if (settled) return
    settled = true
    clearTimeout(timer)
    secure?.destroy()
    raw.destroy()
    onFailure(err)
  }
  const ready = (socket: Socket): void => {
    if (settled) return
    settled = true
    clearTimeout(timer)
    onReady(socket)
  }
  const timer = setTimeout(() => fail(new UpstreamError('UPSTREAM_CONNECT_TIMEOUT', 'connect timeout')), target.connectTimeout)
  raw.once('error', fail)
  raw.once('connect', () => {
    if (settled) return
    if (options.preface !== undefined) raw.write(options.preface)
    if (tlsConfig === undefined) return ready(raw)
    secure = tls.connect({
      socket: raw,
      // The name the certificate is checked against when no SNI name applies (an IP address).
      host,
      servername: defaultServerName(host),
      ...upstreamTlsOptions(tlsConfig),
      ...(options.session === undefined ? {} : { session: options.session }),
    })
    secure.once('error', fail)
    if (onRead !== undefined) secure.on('data', onRead)
    secure.once('secureConnect', () => ready(secure!))
  })
  return raw
}

/** node's `onread` option: reads land in READ_BUFFER and `onRead` gets a copy (the buffer is reused at once). */
function readingInto(onRead: (chunk: Buffer) => void): net.OnReadOpts {
  return {
    buffer: READ_BUFFER,
    callback: (length: number): boolean => {
      const chunk = Buffer.allocUnsafe(length)
      READ_BUFFER.copy(chunk, 0, 0, length)
      onRead(chunk)
      return true
    },
  }
}

/**
 * Opens a raw connection to a server for a tunnel (WebSocket, TCP frontend), as openUpstream does, with the
 * backend's settings. `onFailure` gets a short reason: node's error code, or "connect timeout".
 */
export function connectUpstream(
  backend: Backend,
  server: Server,
  onReady: (socket: Socket) => void,
  onFailure: (reason: string) => void,
  options: UpstreamConnectOptions = {},
): Socket {
  const target = { host: server.address.host, port: server.address.port, tls: backend.config.tls, connectTimeout: backend.config.timeouts.connect }
  return openUpstream(target, onReady, (err) => onFailure(failureReason(err)), options)
}

/** "ECONNREFUSED", a TLS error code, or "connect timeout". */
export function failureReason(err: Error): string {
  if (err instanceof UpstreamError) return err.message
  return (err as NodeJS.ErrnoException).code ?? err.message
}
