import type { ClientRequest } from './client-message.js'
import type { Socket } from 'node:net'
import type { ErrorCode } from '../errors.js'
import type { Backend } from '../runtime/backend.js'
import type { LongLivedConnection, Server } from '../runtime/server.js'
import { writeRawError } from './error-response.js'
import type { FrontendContext } from './frontend-context.js'
import { upstreamRequestHeaders } from './headers.js'
import { connectUpstream } from './upstream-connect.js'
import { closeFrame, FrameTracker } from './websocket-frames.js'

/**
 * How long a tunnel asked to go away may take to reach frame boundaries and close before it is cut: a stream
 * stalled in the middle of a frame, or a peer that never closes its end, holds nothing up for longer.
 */
export const GO_AWAY_LINGER_MS = 2000
/** A server's response head is looked into up to this size; a longer one is passed on as an opaque stream. */
const MAX_RESPONSE_HEAD = 16 * 1024
/** RFC 6455 close code 1001 (Going Away). */
const GOING_AWAY = 1001
const GOING_AWAY_REASON = 'server going away'
const CR = 13
const LF = 10

type TunnelMode = 'head' | 'ws' | 'raw'

/**
 * An Upgrade request (WebSocket and the like): the request head goes to a server over a raw connection (TLS when
 * the backend has `tls:`), then bytes flow both ways unchanged, with backpressure, until either side closes. The
 * server's answer, 101 or not, reaches the client as the server sent it. A refused connection is retried on
 * another server (nothing was sent yet).
 *
 * Until the server has answered 101, only the request (and its declared body) goes to it: bytes the client sends
 * after that are held. When the server does not switch protocols, the connection is still HTTP on its side, and
 * forwarding those bytes would hand it requests that never went through the balancer (routing, header rewriting,
 * limits): "upgrade smuggling". They are dropped instead, and the connection ends after the server's answer.
 *
 * When a WebSocket request got a 101, frame boundaries are followed in both directions, so that the tunnel can be
 * asked to go away (its server left rotation, or the balancer stops): each side gets a close frame 1001 between
 * two frames, then both connections end. Any other upgraded stream just ends.
 */
export class UpgradeTunnel implements LongLivedConnection {
  private upstream: Socket | undefined
  private server: Server | undefined
  private tried: Set<Server> | undefined
  private attempts = 0
  private closed = false
  private closeListener: (() => void) | undefined
  private closeWaiters: (() => void)[] = []

  /** 'head' while the server's response head is read, then 'ws' (a 101 to a WebSocket request) or 'raw'. */
  private mode: TunnelMode = 'head'
  private readonly websocket: boolean
  /** Bytes of the request's declared body (Content-Length) that may still go to the server before its 101. */
  private bodyLeft: number
  /** Client bytes read before the server's 101, beyond the body: sent on after a 101, dropped otherwise. */
  private held: Buffer[] = []
  /** The server answered with something other than 101: nothing more goes to it from this client. */
  private refused = false
  /** Response head: bytes read, bytes of the final CRLFCRLF matched, and its first bytes (the status line). */
  private headRead = 0
  private headMatched = 0
  private statusStart = ''
  private readonly toClient = new FrameTracker()
  private readonly toServer = new FrameTracker()
  private goingAway = false
  /** Set once the close frame toward that side is written: no more bytes are forwarded that way. */
  private toClientStopped = false
  private toServerStopped = false
  private linger: NodeJS.Timeout | undefined
  private clientPaused = false
  private upstreamPaused = false

  constructor(
    private readonly ctx: FrontendContext,
    private readonly backend: Backend,
    private readonly req: ClientRequest,
    private readonly client: Socket,
    private readonly head: Buffer,
    private readonly requestId: string,
  ) {
    const upgrade = req.headers.upgrade
    this.websocket = typeof upgrade === 'string' && /(^|[\s,])websocket($|[\s,])/i.test(upgrade)
    const length = Number(req.headers['content-length'] ?? 0)
    this.bodyLeft = Number.isSafeInteger(length) && length > 0 ? length : 0
  }

  onClose(listener: () => void): void {
    this.closeListener = listener
  }

  /** Resolves once the tunnel has closed. */
  whenClosed(): Promise<void> {
    if (this.closed) return Promise.resolve()
    return new Promise((resolve) => this.closeWaiters.push(resolve))
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
    this.upstream = connectUpstream(
      this.backend,
      server,
      (upstream) => this.connected(server, upstream),
      (reason) => {
        if (this.closed) return
        server.markDown(reason)
        ;(this.tried ??= new Set()).add(server)
        if (this.attempts <= this.backend.config.retries) return this.connectNext()
        this.fail('SY_ERR_UPSTREAM_CONNECT')
      },
    )
  }

  private connected(server: Server, upstream: Socket): void {
    if (this.closed) return void upstream.destroy()
    // With TLS this is the TLS socket over the connection that connectUpstream returned first.
    this.upstream = upstream
    this.server = server
    server.begin()
    server.addLongLived(this)
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
    upstream.on('data', this.fromServer)
    upstream.on('end', () => this.client.end())
    upstream.write(this.requestHead())
    if (this.head.length > 0) this.fromClient(this.head)
    this.client.on('data', this.fromClient)
    this.client.on('end', () => upstream.end())
  }

  /**
   * Asks the tunnel to close properly (LongLivedConnection): at the next frame boundary toward each side, a
   * WebSocket gets a close frame 1001 and nothing more is forwarded that way; then both connections end. Bounded by
   * GO_AWAY_LINGER_MS. A tunnel still connecting is answered 503.
   */
  goAway(): void {
    if (this.closed || this.goingAway) return
    this.goingAway = true
    if (this.server === undefined) return this.fail('SY_ERR_SHUTTING_DOWN')
    this.linger = setTimeout(() => this.destroy(), GO_AWAY_LINGER_MS)
    this.linger.unref()
    if (this.mode === 'raw') return this.endBoth()
    // 'head': decided once the server's response head has been read.
    if (this.mode === 'ws') this.goAwayAtBoundaries()
  }

  private goAwayAtBoundaries(): void {
    if (this.toClient.atBoundary) this.stopToClient()
    if (this.toServer.atBoundary) this.stopToServer()
  }

  private readonly fromServer = (chunk: Buffer): void => {
    // Going away: once the client got its close frame, the server's last bytes (its own close frame) are dropped.
    if (this.toClientStopped) return
    if (this.mode === 'ws') return this.serverFrames(chunk, 0)
    if (this.mode === 'head') {
      const start = this.readHead(chunk)
      // readHead() may have decided the mode (TypeScript keeps the narrowing of the check above).
      const mode = this.mode as TunnelMode
      if (mode === 'ws') {
        this.serverFrames(chunk, start)
        this.releaseHeld()
        if (this.goingAway) this.goAwayAtBoundaries()
        return
      }
      this.forward(this.client, chunk, true)
      if (mode === 'raw') {
        if (this.refused) this.refuse()
        else this.releaseHeld()
        if (this.goingAway) this.endBoth()
      }
      return
    }
    this.forward(this.client, chunk, true)
  }

  private serverFrames(chunk: Buffer, start: number): void {
    if (!this.goingAway) {
      this.toClient.advance(chunk, start)
      return this.forward(this.client, chunk, true)
    }
    const cut = this.toClient.nextBoundary(chunk, start)
    if (cut < 0) return this.forward(this.client, chunk, true)
    if (cut > 0) this.forward(this.client, chunk.subarray(0, cut), true)
    this.stopToClient()
  }

  private readonly fromClient = (chunk: Buffer): void => {
    if (this.closed || this.toServerStopped || this.refused) return
    const upstream = this.upstream!
    if (this.mode === 'head') return this.beforeAnswer(upstream, chunk)
    if (this.mode === 'raw') return this.forward(upstream, chunk, false)
    if (!this.goingAway) {
      this.toServer.advance(chunk)
      return this.forward(upstream, chunk, false)
    }
    const cut = this.toServer.nextBoundary(chunk)
    if (cut < 0) return this.forward(upstream, chunk, false)
    if (cut > 0) this.forward(upstream, chunk.subarray(0, cut), false)
    this.stopToServer()
  }

  /** Client bytes before the server's answer: the declared body goes on, the rest waits (and the client pauses). */
  private beforeAnswer(upstream: Socket, chunk: Buffer): void {
    const body = Math.min(this.bodyLeft, chunk.length)
    if (body > 0) {
      this.bodyLeft -= body
      this.forward(upstream, body === chunk.length ? chunk : chunk.subarray(0, body), false)
    }
    if (body < chunk.length) {
      this.held.push(chunk.subarray(body))
      this.client.pause()
    }
  }

  /** After a 101: what the client sent meanwhile goes on, in order, and reading resumes. */
  private releaseHeld(): void {
    const held = this.held
    this.held = []
    for (const chunk of held) this.fromClient(chunk)
    if (!this.clientPaused) this.client.resume()
  }

  /**
   * The server did not switch protocols: its answer goes to the client, the held bytes are dropped, and the
   * server gets a FIN (no more requests on this connection) so that it closes once it has answered; the client is
   * closed after that. Later client bytes are read and dropped. A server that keeps the connection open anyway is
   * cut after the server timeout of silence.
   */
  private refuse(): void {
    this.held = []
    const upstream = this.upstream!
    upstream.setTimeout(this.backend.config.timeouts.server)
    upstream.once('timeout', () => this.destroy())
    upstream.end()
    this.client.resume()
  }

  /** Writes to one side; when its buffer is full, the other side is paused until it drains (as pipe() does). */
  private forward(to: Socket, chunk: Buffer, fromServer: boolean): void {
    if (to.write(chunk)) return
    if (fromServer) {
      if (this.upstreamPaused) return
      this.upstreamPaused = true
      this.upstream!.pause()
      to.once('drain', this.resumeUpstream)
    } else {
      if (this.clientPaused) return
      this.clientPaused = true
      this.client.pause()
      to.once('drain', this.resumeClient)
    }
  }

  private readonly resumeUpstream = (): void => {
    this.upstreamPaused = false
    this.upstream?.resume()
  }

  private readonly resumeClient = (): void => {
    this.clientPaused = false
    this.client.resume()
  }

  /**
   * Follows the server's response head up to its CRLFCRLF (at most MAX_RESPONSE_HEAD bytes) and decides the mode:
   * after a 101, 'ws' for a WebSocket and 'raw' otherwise; any other answer (or a head too long to be one) is a
   * refusal. Returns the offset right after the head, or -1 when it goes on past this chunk.
   */
  private readHead(chunk: Buffer): number {
    if (this.statusStart.length < 12) this.statusStart += chunk.toString('latin1', 0, Math.min(chunk.length, 12 - this.statusStart.length))
    const limit = Math.min(chunk.length, MAX_RESPONSE_HEAD - this.headRead)
    for (let i = 0; i < limit; i++) {
      const byte = chunk[i]
      if (byte === (this.headMatched % 2 === 0 ? CR : LF)) this.headMatched++
      else this.headMatched = byte === CR ? 1 : 0
      if (this.headMatched === 4) {
        const switched = /^HTTP\/1\.[01] 101$/.test(this.statusStart)
        this.mode = switched && this.websocket ? 'ws' : 'raw'
        this.refused = !switched
        return i + 1
      }
    }
    this.headRead += limit
    if (this.headRead >= MAX_RESPONSE_HEAD) {
      this.mode = 'raw'
      this.refused = true
    }
    return -1
  }

  private stopToClient(): void {
    if (this.toClientStopped) return
    this.toClientStopped = true
    // A server that already began the closing handshake has sent its own close frame: one is enough.
    if (!this.toClient.closeSeen) this.client.write(closeFrame(GOING_AWAY, GOING_AWAY_REASON, false))
    if (this.toServerStopped) this.endBoth()
  }

  private stopToServer(): void {
    if (this.toServerStopped) return
    this.toServerStopped = true
    if (!this.toServer.closeSeen) this.upstream?.write(closeFrame(GOING_AWAY, GOING_AWAY_REASON, true))
    if (this.toClientStopped) this.endBoth()
  }

  /** Both sides get a FIN once their queued bytes are written; the tunnel closes when both are closed. */
  private endBoth(): void {
    this.client.end()
    this.upstream?.end()
  }

  /**
   * One end closed. When it ended cleanly, the other end was ended too, and its last bytes may still be queued:
   * the tunnel ends once they are flushed (bounded by the server timeout), not before, so that the tail of a
   * stream and a close frame are not cut off. After a reset or an error the other end is cut at once.
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
    const headers = upstreamRequestHeaders(this.req, {
      clientIp: this.req.clientIp,
      proto: this.ctx.proto,
      requestId: this.requestId,
      upgrade: true,
    })
    return `${this.req.method} ${this.req.url} HTTP/1.1\r\n${headers.lines}\r\n`
  }

  /** Answers the client with an error (the socket closes once it is written). */
  private fail(code: ErrorCode): void {
    writeRawError(this.client, code, this.requestId, { backend: this.backend.name })
    this.destroy(false)
  }

  destroy(destroyClient = true): void {
    if (this.closed) return
    this.closed = true
    clearTimeout(this.linger)
    this.upstream?.destroy()
    if (destroyClient) this.client.destroy()
    if (this.server !== undefined) {
      this.server.removeLongLived(this)
      this.server.end()
      this.server = undefined
    }
    this.closeListener?.()
    for (const wake of this.closeWaiters) wake()
    this.closeWaiters = []
  }

  /**
   * Asks every tunnel to go away and resolves once all have closed: within GO_AWAY_LINGER_MS (a tunnel cuts
   * itself then), plus a margin for the sockets' own close events.
   */
  static async goAwayAll(tunnels: Iterable<UpgradeTunnel>): Promise<void> {
    const all = [...tunnels]
    if (all.length === 0) return
    for (const tunnel of all) tunnel.goAway()
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      Promise.all(all.map((t) => t.whenClosed())),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, GO_AWAY_LINGER_MS + 500)
        timer.unref()
      }),
    ])
    clearTimeout(timer)
    for (const tunnel of all) tunnel.destroy()
  }
}
