import { Pool } from 'undici'
import type { BalanceTarget } from '../balance/balancer.js'
import { formatHostPort, type HostPort } from '../config/address.js'
import type { BackendConfig, ServerConfig } from '../config/schema.js'
import { hash32 } from '../balance/hash-function.js'

export type AdminState = 'ready' | 'drain' | 'maint'
export type Health = 'up' | 'down' | 'unchecked'
export type EffectiveState = 'UP' | 'DOWN' | 'DRAIN' | 'MAINT' | 'STARTING'

/** Told when a server may take requests again, so that queued requests can go on. */
export interface ServerObserver {
  serverFreed(server: Server): void
  serverDown(server: Server, reason: string): void
}

/**
 * One server of a backend, as the data plane sees it: address, weights, admin and health state, counters and
 * its upstream connection pool (undici Pool: keep-alive connections, one request per connection at a time).
 */
export class Server implements BalanceTarget {
  readonly name: string
  readonly backendName: string
  readonly address: HostPort
  readonly origin: string
  /** Opaque value of the persistence cookie that designates this server (a hash: names are not leaked). */
  readonly cookieValue: string
  readonly backup: boolean
  readonly maxConnections: number
  readonly pool: Pool

  configuredWeight: number
  effectiveWeight: number
  admin: AdminState = 'ready'
  health: Health
  /** Requests (and tunnels) in flight. */
  active = 0
  requests = 0
  failures = 0
  bytesIn = 0
  bytesOut = 0
  lastChange = Date.now()

  private readonly observer: ServerObserver

  constructor(backendName: string, name: string, config: ServerConfig, backend: BackendConfig, observer: ServerObserver) {
    this.name = name
    this.backendName = backendName
    this.address = config.address
    this.origin = `http://${formatHostPort(config.address)}`
    this.cookieValue = hash32(`${backendName}/${name}`).toString(36)
    this.backup = config.backup
    this.maxConnections = config.max_connections ?? backend.max_connections
    this.configuredWeight = config.weight
    this.effectiveWeight = config.weight
    // Without active checks a server is assumed up; a refused connection marks it down (see Backend).
    this.health = 'up'
    this.observer = observer
    this.pool = new Pool(this.origin, {
      connectTimeout: backend.timeouts.connect,
      headersTimeout: backend.timeouts.server,
      bodyTimeout: backend.timeouts.server,
      // Idle upstream connections are closed after this long unless the server's Keep-Alive hint says less.
      keepAliveTimeout: 4000,
      keepAliveMaxTimeout: 60_000,
      pipelining: 1,
      connections: this.maxConnections > 0 ? this.maxConnections : null,
    })
  }

  /** True when the server may take a new request now. Read on every pick. */
  get available(): boolean {
    return (
      this.admin === 'ready' &&
      this.health === 'up' &&
      (this.maxConnections === 0 || this.active < this.maxConnections)
    )
  }

  get state(): EffectiveState {
    if (this.admin === 'maint') return 'MAINT'
    if (this.admin === 'drain') return 'DRAIN'
    if (this.health === 'down') return 'DOWN'
    if (this.health === 'unchecked') return 'STARTING'
    return 'UP'
  }

  /** Called by the data plane when a request starts on this server. */
  begin(): void {
    this.active++
    this.requests++
  }

  /** Called exactly once for every begin(). */
  end(): void {
    this.active--
    if (this.maxConnections > 0 && this.active === this.maxConnections - 1) this.observer.serverFreed(this)
  }

  markDown(reason: string): void {
    if (this.health === 'down') return
    this.health = 'down'
    this.lastChange = Date.now()
    this.observer.serverDown(this, reason)
  }

  markUp(): void {
    if (this.health === 'up') return
    this.health = 'up'
    this.lastChange = Date.now()
    this.observer.serverFreed(this)
  }

  toString(): string {
    return `${this.backendName}/${this.name}`
  }

  async close(): Promise<void> {
    await this.pool.close().catch(() => undefined)
  }
}
