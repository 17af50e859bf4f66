import type { IncomingMessage } from 'node:http'
import net, { type Socket } from 'node:net'
import type { ErrorCode } from '../errors.js'
import type { Backend } from '../runtime/backend.js'
import type { Server } from '../runtime/server.js'
import { writeRawError } from './error-response.js'
import type { FrontendContext } from './frontend-context.js'
import { upstreamRequestHeaders } from './headers.js'

/**
 * An Upgrade request (WebSocket and the like): the request head goes to a server over a plain TCP connection,
 * then bytes flow both ways unchanged, with backpressure (pipe), until either side closes. The server's answer,
 * 101 or not, reaches the client as the server sent it. A refused connection is retried on another server
 * (nothing was sent yet).
 */
export class UpgradeTunnel {
  private upstream: Socket | undefined
  private server: Server | undefined
  private tried: Set<Server> | undefined
  private attempts = 0
  private closed = false
  private closeListener: (() => void) | undefined

  constructor(
    private readonly ctx: FrontendContext,
    private readonly backend: Backend,
    private readonly req: IncomingMessage,
    private readonly client: Socket,
    private readonly head: Buffer,
    private readonly requestId: string,
  ) {}

  onClose(listener: () => void): void {
    this.closeListener = listener
  }

  start(): void {
    // A tunnel lives as long as its two ends want; the client idle timeout of HTTP does not apply.
    this.client.setTimeout(0)
    this.client.on('error', () => this.destroy())
    this.client.on('close', () => this.sideClosed(this.upstream))
    this.connectNext()
  }

  private connectNext(): void {
    if (this.closed) return
    const server = this.backend.pick(undefined, this.tried)
    if (server === undefined) {
      return this.fail(this.attempts === 0 ? 'SY_ERR_NO_SERVER' : 'SY_ERR_UPSTREAM_CONNECT')
    }
    this.attempts++
    const upstream = net.connect({ host: server.address.host, port: server.address.port, noDelay: true })
    this.upstream = upstream
    upstream.setTimeout(this.backend.config.timeouts.connect)
    const onConnectFailure = (err?: NodeJS.ErrnoException): void => {
      upstream.destroy()
      if (this.closed) return
      server.markDown(err?.code ?? 'connect timeout')
      ;(this.tried ??= new Set()).add(server)
      if (this.attempts <= this.backend.config.retries) return this.connectNext()
      this.fail('SY_ERR_UPSTREAM_CONNECT')
    }
    upstream.once('timeout', onConnectFailure)
    upstream.once('error', onConnectFailure)
    upstream.once('connect', () => {
      upstream.removeListener('timeout', onConnectFailure)
      upstream.removeListener('error', onConnectFailure)
      upstream.setTimeout(0)
      if (this.closed) return upstream.destroy()
      this.server = server
      server.begin()
      upstream.on('error', () => this.destroy())
      upstream.on('close', () => this.sideClosed(this.client))
      // Until the server's first byte, the server timeout applies (a server that accepts and never answers).
      upstream.setTimeout(this.backend.config.timeouts.server)
      const onNoAnswer = (): void => this.fail('SY_ERR_UPSTREAM_TIMEOUT')
      upstream.once('timeout', onNoAnswer)
      upstream.once('data', () => {
        upstream.removeListener('timeout', onNoAnswer)
        upstream.setTimeout(0)
      })
      upstream.write(this.requestHead())
      if (this.head.length > 0) upstream.write(this.head)
      upstream.pipe(this.client)
      this.client.pipe(upstream)
    })
  }

  /**
   * One end closed. When it ended cleanly, the pipe has ended the other end, whose last bytes may still be
   * queued: the tunnel ends once they are flushed (bounded by the server timeout), not before, so that the
   * tail of a stream and a close frame are not cut off. After a reset or an error the other end is cut at once.
   */
  private sideClosed(other: Socket | undefined): void {
    if (this.closed) return
    if (other === undefined || other.destroyed || !other.writableEnded || other.writableFinished) return this.destroy()
    const done = (): void => {
      clearTimeout(linger)
      this.destroy()
    }
    const linger = setTimeout(done, this.backend.config.timeouts.server)
    linger.unref()
    other.once('finish', done)
    other.once('close', done)
  }

  private requestHead(): string {
    const headers = upstreamRequestHeaders(this.req.rawHeaders, {
      clientIp: this.req.socket.remoteAddress ?? '',
      proto: this.ctx.proto,
      requestId: this.requestId,
      upgrade: true,
    })
    let text = `${this.req.method} ${this.req.url} HTTP/1.1\r\n`
    for (let i = 0; i < headers.length; i += 2) text += `${headers[i]}: ${headers[i + 1]}\r\n`
    return `${text}\r\n`
  }

  /** Answers the client with an error (the socket closes once it is written). */
  private fail(code: ErrorCode): void {
    writeRawError(this.client, code, this.requestId, { backend: this.backend.name })
    this.destroy(false)
  }

  destroy(destroyClient = true): void {
    if (this.closed) return
    this.closed = true
    this.upstream?.destroy()
    if (destroyClient) this.client.destroy()
    if (this.server !== undefined) {
      this.server.end()
      this.server = undefined
    }
    this.closeListener?.()
  }
}
