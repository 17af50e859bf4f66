import type { Socket } from 'node:net'
import type { Logger } from '../log.js'
import type { TrafficStats } from '../metrics/traffic-stats.js'
import type { Backend } from '../runtime/backend.js'
import type { QueueWaiter } from '../runtime/request-queue.js'
import type { LongLivedConnection, Server } from '../runtime/server.js'
import type { AccessLog } from './access-log.js'
import { buildProxyHeader, proxyEndpointsOf } from './proxy-protocol.js'
import { connectUpstream } from './upstream-connect.js'

/** How long a connection asked to go away may take to close after both ends were sent a FIN. */
const GO_AWAY_LINGER_MS = 2000

/** What a connection needs from the tcp frontend that accepted it. */
export interface TcpConnectionContext {
  readonly name: string
  /** requests = connections, bytesIn = client to server, bytesOut = server to client. */
  readonly stats: TrafficStats
  readonly accessLog: AccessLog | undefined
  readonly log: Logger
}

type Phase = 'waiting' | 'connecting' | 'open' | 'closed'

/**
 * One connection of a tcp frontend: a server is picked (the client's address is the key for `balance: hash`),
 * connected to (a refused or timed-out connect marks the server down and is retried on another one: nothing was
 * sent yet), an optional PROXY protocol header goes first, then bytes flow both ways unchanged with backpressure.
 * A FIN from one side is passed on as a FIN (half-close), so that a client may send, shut its write side and
 * still read the answer; the connection is over once both directions ended.
 *
 * While no server is available the connection waits in the backend's queue (invariant 4), the client's socket
 * paused (its bytes wait in the kernel), for up to `timeouts.queue`; a full queue or an expired wait closes the
 * client at once: a byte stream has no way to tell the client why.
 */
export class TcpConnection implements QueueWaiter, LongLivedConnection {
  /** Epoch ms until which this connection may wait in a queue (0 before it first waits). */
  queueDeadline = 0
  private phase: Phase = 'waiting'
  private upstream: Socket | undefined
  /** The server this connection holds (begin() called, end() not yet). */
  private server: Server | undefined
  private lastServer: Server | undefined
  private tried: Set<Server> | undefined
  private attempts = 0
  private woken = false
  private termination: string | undefined
  private bytesIn = 0
  private bytesOut = 0
  private readonly started = performance.now()
  private queuedAt = 0
  private queueMs = 0
  private connectStarted = -1
  private connectMs = -1
  private clientClosed = false
  private upstreamClosed = false
  private linger: NodeJS.Timeout | undefined
  private closeListener: (() => void) | undefined
  /** Read at accept time: a closed socket no longer knows its peer. */
  private readonly clientAddress: string
  private readonly clientPort: number

  constructor(
    private readonly ctx: TcpConnectionContext,
    private backend: Backend,
    private readonly client: Socket,
    /** The frontend's `timeouts.client` when the connection was accepted: no byte either way for this long closes it. */
    private readonly idleMs: number,
  ) {
    this.clientAddress = client.remoteAddress ?? ''
    this.clientPort = client.remotePort ?? 0
  }

  onClose(listener: () => void): void {
    this.closeListener = listener
  }

  /** The client socket must be paused (pauseOnConnect): nothing is read before a server is connected. */
  start(): void {
    this.client.on('error', (err: NodeJS.ErrnoException) => this.terminate(`client-error:${err.code ?? err.message}`))
    this.client.on('close', () => {
      this.clientClosed = true
      this.sideClosed('client-closed', this.upstream, this.upstreamClosed)
    })
    this.attempt()
  }

  private attempt(): void {
    if (this.phase === 'closed') return
    // Connections already waiting go first: a new one joins the queue behind them.
    const server = this.woken || this.backend.queue.length === 0 ? this.pickServer() : undefined
    if (server === undefined) return this.enqueue()
    this.connectTo(server)
  }

  private pickServer(): Server | undefined {
    const key = this.backend.config.balance === 'hash' ? this.clientAddress : undefined
    return this.backend.pick(key, this.tried)
  }

  private enqueue(): void {
    this.phase = 'waiting'
    const now = Date.now()
    if (this.queueDeadline === 0) {
      this.queuedAt = now
      this.queueDeadline = now + this.backend.queue.timeoutMs
    }
    if (!this.backend.queue.push(this, this.queueDeadline, this.woken)) this.terminate('queue-full')
  }

  wake(): void {
    if (this.phase !== 'waiting') return
    this.woken = true
    // A server that failed earlier and has come back may be tried again.
    this.tried = undefined
    this.attempt()
  }

  /** A reload replaced the backend while this connection waited: go on with the new one. */
  rebind(backend: Backend): void {
    this.backend = backend
  }

  expire(): void {
    if (this.phase !== 'waiting') return
    this.terminate('queue-timeout')
  }

  private connectTo(server: Server): void {
    this.phase = 'connecting'
    if (this.queuedAt > 0) this.queueMs = Date.now() - this.queuedAt
    if (this.connectStarted < 0) this.connectStarted = performance.now()
    this.attempts++
    this.lastServer = server
    // Counted from the connect on, so that leastconn and max_connections see connections still being opened.
    server.begin()
    this.server = server
    const version = this.backend.config.proxy_protocol
    const header = version === undefined ? undefined : buildProxyHeader(version, proxyEndpointsOf(this.client))
    const onReady = (socket: Socket): void => {
      if (this.phase === 'closed') return void socket.destroy()
      this.open(server, socket)
    }
    const onFailure = (reason: string): void => {
      this.upstream = undefined
      if (this.phase === 'closed') return
      this.releaseServer()
      server.stats.connectionErrors++
      this.backend.observe(server, true)
      server.markDown(reason)
      ;(this.tried ??= new Set()).add(server)
      if (this.attempts <= this.backend.config.retries) {
        this.backend.retriesTotal++
        this.woken = false
        return this.attempt()
      }
      this.terminate('connect-failed')
    }
    this.upstream = connectUpstream(this.backend, server, onReady, onFailure, { preface: header })
  }

  private open(server: Server, upstream: Socket): void {
    this.phase = 'open'
    this.upstream = upstream
    this.connectMs = performance.now() - this.connectStarted
    this.backend.observe(server, false)
    server.addLongLived(this)
    // Half-close is passed on, not answered: each side's FIN reaches the other and the rest keeps flowing.
    // (connectUpstream opens the socket; this flag is read at run time, so setting it before any byte is enough.)
    upstream.allowHalfOpen = true
    upstream.on('error', (err: NodeJS.ErrnoException) => this.terminate(`server-error:${err.code ?? err.message}`))
    upstream.on('close', () => {
      this.upstreamClosed = true
      this.sideClosed('server-closed', this.client, this.clientClosed)
    })
    this.pass(this.client, upstream, 'client-closed', (n) => {
      this.bytesIn += n
      this.ctx.stats.bytesIn += n
      server.stats.bytesIn += n
    })
    this.pass(upstream, this.client, 'server-closed', (n) => {
      this.bytesOut += n
      this.ctx.stats.bytesOut += n
      server.stats.bytesOut += n
    })
    // The client socket sees every byte either way (read or written), so its timer is the connection's idleness.
    this.client.setTimeout(this.idleMs)
    this.client.on('timeout', () => this.terminate('idle-timeout'))
    this.client.resume()
  }

  /** Forwards `from`'s bytes to `to`, pausing `from` while `to` cannot take more, and its FIN as a FIN. */
  private pass(from: Socket, to: Socket, finReason: string, count: (bytes: number) => void): void {
    from.on('data', (chunk: Buffer) => {
      // After a goAway the other end was sent its FIN: what still arrives has nowhere to go.
      if (to.writableEnded) return
      count(chunk.length)
      if (!to.write(chunk)) from.pause()
    })
    to.on('drain', () => from.resume())
    from.on('end', () => {
      this.termination ??= finReason
      if (!to.writableEnded) to.end()
    })
  }

  /**
   * One end closed. When the other end was already sent its FIN, its last bytes may still be on their way: it
   * closes by itself once they are flushed and its peer's FIN came (bounded by the idle timeout). Otherwise
   * (a reset, an error) the other end is cut at once.
   */
  private sideClosed(reason: string, other: Socket | undefined, otherClosed: boolean): void {
    if (this.phase === 'closed') return
    if (this.phase !== 'open') return this.terminate('client-gone')
    if (otherClosed || other === undefined) return this.finish()
    if (!other.writableEnded) return this.terminate(reason)
    if (this.linger === undefined) {
      this.linger = setTimeout(() => this.terminate('idle-timeout'), this.idleMs)
      this.linger.unref()
    }
  }

  /**
   * Asked to leave (the server left rotation for longer than `drain_timeout`, or the balancer stops): both ends
   * get a FIN after what was already written to them, and the connection is cut if it is not closed soon after.
   */
  goAway(): void {
    if (this.phase === 'closed') return
    if (this.phase !== 'open') return this.terminate('go-away')
    this.termination ??= 'go-away'
    if (!this.client.writableEnded) this.client.end()
    if (this.upstream !== undefined && !this.upstream.writableEnded) this.upstream.end()
    clearTimeout(this.linger)
    this.linger = setTimeout(() => this.terminate('go-away'), GO_AWAY_LINGER_MS)
    this.linger.unref()
  }

  /** Closes both ends at once (no FIN wait) and ends the connection. */
  terminate(reason: string): void {
    if (this.phase === 'closed') return
    this.termination ??= reason
    this.upstream?.destroy()
    this.client.destroy()
    this.finish()
  }

  private finish(): void {
    if (this.phase === 'closed') return
    const waited = this.phase === 'waiting'
    this.phase = 'closed'
    clearTimeout(this.linger)
    if (waited) this.backend.queue.remove(this)
    this.upstream?.destroy()
    this.client.destroy()
    this.releaseServer()
    this.logAccess()
    this.closeListener?.()
  }

  private releaseServer(): void {
    const server = this.server
    if (server === undefined) return
    this.server = undefined
    server.removeLongLived(this)
    server.end()
  }

  private logAccess(): void {
    this.ctx.accessLog?.writeTcp({
      frontend: this.ctx.name,
      backend: this.backend.name,
      server: this.lastServer?.name,
      client: this.clientAddress,
      clientPort: this.clientPort,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      durationMs: performance.now() - this.started,
      queueMs: this.queueMs,
      connectMs: this.connectMs,
      retries: Math.max(0, this.attempts - 1),
      termination: this.termination ?? 'closed',
    })
  }
}
