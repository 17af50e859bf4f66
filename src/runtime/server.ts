import type { BalanceTarget } from '../balance/balancer.js'
import { hash32 } from '../balance/hash-function.js'
import { formatHostPort, type HostPort } from '../config/address.js'
import type { BackendConfig } from '../config/schema.js'
import { LatencyHistogram } from '../metrics/latency-histogram.js'
import { TrafficStats } from '../metrics/traffic-stats.js'
import { UpstreamPool } from '../proxy/upstream-pool.js'

export type AdminState = 'ready' | 'drain' | 'maint'
export type Health = 'up' | 'down' | 'unchecked'
export type EffectiveState = 'UP' | 'DOWN' | 'DRAIN' | 'MAINT' | 'STARTING'

/** Told when a server may take requests again (queued requests can go on) or stopped being able to. */
export interface ServerObserver {
  serverFreed(server: Server): void
  serverDown(server: Server, reason: string): void
}

/**
 * A connection that outlives a request: a WebSocket or other upgraded tunnel, or a connection of a TCP frontend.
 * When its server leaves rotation for longer than the backend's `drain_timeout` (or the balancer stops), it is
 * asked to go away: finish what it is sending and close properly (a WebSocket gets close code 1001).
 */
export interface LongLivedConnection {
  goAway(): void
}

/** What a server is made from: its configuration entry, or an admin API addition. */
export interface ServerSpec {
  readonly address: HostPort
  readonly weight: number
  readonly backup: boolean
  readonly max_connections?: number | undefined
  /** The version this server runs, when it belongs to a service. */
  readonly release?: string | undefined
}

/**
 * One server of a backend as the data plane sees it: address, weights, admin state x health -> effective state,
 * counters and its upstream connection pool (UpstreamPool: keep-alive connections, one request each at a time).
 *
 * Only UP servers (admin ready, health up, not ejected, below max_connections) take new requests. DRAIN keeps
 * the requests in flight and the clients whose persistence cookie names it; MAINT gets nothing.
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
  readonly pool: UpstreamPool
  /** The configuration this server was built with; a reload keeps the server only when it is unchanged. */
  readonly identity: string

  configuredWeight: number
  effectiveWeight: number
  admin: AdminState = 'ready'
  health: Health
  /** Set by passive checks: no new requests until the ejection ends. */
  ejected = false
  active = 0
  requests = 0
  failures = 0
  consecutiveFailures = 0
  downTransitions = 0
  lastChange = Date.now()
  /** Epoch ms when the server last became UP (slow start ramps from here). */
  upSince = 0
  /** Whether slow start applies when this server next becomes UP (not for the servers present at start). */
  rampOnUp = true
  /** The version this server runs (services only); a static in-place deploy changes it. */
  release: string | undefined
  /** False while its release is kept out of rotation (e.g. blue/green before the switch). */
  inRotation = true
  /** Responses of 500 and above, and failed attempts, answered by this server. */
  errors = 0
  /** Bytes, answers by status, connection and response errors (stats page, /metrics). */
  readonly stats = new TrafficStats()
  /** Time spent DOWN before the current stretch, in ms, and when the current stretch began (0: not down). */
  private downtimeMs = 0
  private downSince = 0
  /** Response times (to the last byte) of this server's requests, for per-release timelines. */
  readonly latency = new LatencyHistogram()

  /** The backend that owns this server now (a reload hands the server to the next runtime's backend). */
  observer: ServerObserver
  private idleWaiters: (() => void)[] = []
  /** Tunnels and TCP connections open on this server (each also counts in `active`); see addLongLived(). */
  private readonly longLived = new Set<LongLivedConnection>()
  private longLivedWaiters: (() => void)[] = []
  /** True from the moment long-lived connections were asked to go away until the server is back in rotation. */
  private goingAway = false
  /**
   * Runs goAway() on the long-lived connections once the server has been out of rotation for `drain_timeout`.
   * It lives on the server, not the backend, so that a reload adopting the server keeps it.
   */
  private goAwayTimer: NodeJS.Timeout | undefined

  constructor(backendName: string, name: string, spec: ServerSpec, backend: BackendConfig, observer: ServerObserver, checked: boolean) {
    this.name = name
    this.backendName = backendName
    this.address = spec.address
    this.origin = `${backend.tls === undefined ? 'http' : 'https'}://${formatHostPort(spec.address)}`
    this.cookieValue = hash32(`${backendName}/${name}`).toString(36)
    this.backup = spec.backup
    this.release = spec.release
    this.maxConnections = spec.max_connections ?? backend.max_connections
    this.configuredWeight = spec.weight
    this.effectiveWeight = spec.weight
    // With active checks a server takes traffic only after passing them; without, it is assumed up.
    this.health = checked ? 'unchecked' : 'up'
    if (!checked) this.upSince = Date.now()
    this.observer = observer
    this.identity = serverIdentity(spec, backend)
    // Idle connections close after 4 s, or sooner when the server's Keep-Alive hint says less.
    this.pool = new UpstreamPool({
      address: spec.address,
      tls: backend.tls,
      connectTimeout: backend.timeouts.connect,
      serverTimeout: backend.timeouts.server,
      maxConnections: this.maxConnections,
    })
  }

  /** True when the server may take a new request now. Read on every pick. */
  get available(): boolean {
    return (
      this.admin === 'ready' &&
      this.health === 'up' &&
      this.inRotation &&
      !this.ejected &&
      (this.maxConnections === 0 || this.active < this.maxConnections)
    )
  }

  /** True when a client whose persistence cookie names this server may still be sent here (DRAIN included). */
  get stickyAvailable(): boolean {
    return (
      this.admin !== 'maint' &&
      this.health === 'up' &&
      this.inRotation &&
      !this.ejected &&
      (this.maxConnections === 0 || this.active < this.maxConnections)
    )
  }

  get state(): EffectiveState {
    if (this.admin === 'maint') return 'MAINT'
    if (this.admin === 'drain') return 'DRAIN'
    if (this.health === 'down' || this.ejected) return 'DOWN'
    if (this.health === 'unchecked') return 'STARTING'
    return 'UP'
  }

  /** Called by the data plane when a request (or tunnel) starts on this server. */
  begin(): void {
    this.active++
    this.requests++
    if (this.active > this.stats.maxActive) this.stats.maxActive = this.active
  }

  /** Called exactly once for every begin(). */
  end(): void {
    this.active--
    if (this.active === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters
      this.idleWaiters = []
      for (const wake of waiters) wake()
    }
    if (this.maxConnections > 0 && this.active === this.maxConnections - 1) this.observer.serverFreed(this)
  }

  /** The outcome of one request answered (or failed) by this server. */
  recordResponse(failed: boolean, durationMs: number): void {
    if (failed) this.errors++
    this.latency.record(durationMs)
  }

  /** Resolves when no request is in flight on this server. */
  whenIdle(): Promise<void> {
    if (this.workersSynced !== undefined) return this.workersSynced().then(() => this.whenIdleHere())
    return this.whenIdleHere()
  }

  private whenIdleHere(): Promise<void> {
    if (this.active === 0) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  /**
   * With data-plane workers, on the control plane: resolves once every worker has applied the state as it is now
   * and reported its requests in flight. whenIdle() waits for it first, so that a drain is never judged done on
   * counts a worker sent before it stopped sending new requests here.
   */
  workersSynced: (() => Promise<void>) | undefined

  /** With data-plane workers, on the control plane: the requests in flight here over every worker. */
  setActiveFromWorkers(total: number): void {
    this.active = total
    if (total > this.stats.maxActive) this.stats.maxActive = total
    if (total === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters
      this.idleWaiters = []
      for (const wake of waiters) wake()
    }
  }

  /** Total time this server has been DOWN, in ms (including now, when it is). */
  get downtime(): number {
    return this.downtimeMs + (this.downSince > 0 ? Date.now() - this.downSince : 0)
  }

  setHealth(health: Health, reason: string): void {
    if (this.health === health) return
    const wasUp = this.health === 'up'
    this.health = health
    this.lastChange = Date.now()
    if (health === 'down' && this.downSince === 0) this.downSince = this.lastChange
    if (health !== 'down' && this.downSince > 0) {
      this.downtimeMs += this.lastChange - this.downSince
      this.downSince = 0
    }
    if (health === 'up') {
      this.upSince = this.lastChange
      this.observer.serverFreed(this)
    } else if (wasUp) {
      this.downTransitions++
      this.observer.serverDown(this, reason)
    }
  }

  markDown(reason: string): void {
    this.setHealth('down', reason)
  }

  markUp(): void {
    this.setHealth('up', 'check passed')
  }

  setAdmin(admin: AdminState): void {
    if (this.admin === admin) return
    this.admin = admin
    this.lastChange = Date.now()
    if (admin === 'ready') this.observer.serverFreed(this)
  }

  setEjected(ejected: boolean, reason: string): void {
    if (this.ejected === ejected) return
    this.ejected = ejected
    this.lastChange = Date.now()
    if (ejected) {
      this.downTransitions++
      this.observer.serverDown(this, reason)
    } else {
      this.consecutiveFailures = 0
      this.observer.serverFreed(this)
    }
  }

  /**
   * The server left rotation (admin drain or maint, or removed): its long-lived connections are asked to go away
   * in `afterMs` unless cancelGoAway() comes first. A timer already running keeps its earlier deadline.
   */
  goAwayAfter(afterMs: number): void {
    if (this.goAwayTimer !== undefined) return
    this.goAwayTimer = setTimeout(() => {
      this.goAwayTimer = undefined
      this.goAwayNow()
    }, afterMs)
    this.goAwayTimer.unref()
  }

  /** The server is back in rotation: its long-lived connections stay. */
  cancelGoAway(): void {
    clearTimeout(this.goAwayTimer)
    this.goAwayTimer = undefined
    this.goingAway = false
  }

  /**
   * Asks every long-lived connection to close properly (each removes itself once closed). Until the server is
   * back in rotation, a connection that registers later (it was still connecting) is asked at once.
   */
  goAwayNow(): void {
    this.goingAway = true
    for (const connection of [...this.longLived]) connection.goAway()
  }

  /** A tunnel or TCP connection is open on this server (from its connect until removeLongLived). */
  addLongLived(connection: LongLivedConnection): void {
    this.longLived.add(connection)
    if (this.goingAway) connection.goAway()
  }

  removeLongLived(connection: LongLivedConnection): void {
    if (!this.longLived.delete(connection) || this.longLived.size > 0 || this.longLivedWaiters.length === 0) return
    const waiters = this.longLivedWaiters
    this.longLivedWaiters = []
    for (const wake of waiters) wake()
  }

  get longLivedCount(): number {
    return this.longLived.size
  }

  /** Resolves once no long-lived connection is open, or after `timeoutMs`. */
  whenLongLivedClosed(timeoutMs: number): Promise<void> {
    if (this.longLived.size === 0) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs)
      timer.unref()
      this.longLivedWaiters.push(() => {
        clearTimeout(timer)
        resolve()
      })
    })
  }

  toString(): string {
    return `${this.backendName}/${this.name}`
  }

  async close(): Promise<void> {
    await this.pool.close().catch(() => undefined)
  }
}

/** Servers with the same identity are interchangeable across a reload (same address, limits and pool settings). */
export function serverIdentity(spec: ServerSpec, backend: BackendConfig): string {
  return [
    formatHostPort(spec.address),
    spec.backup,
    spec.max_connections ?? backend.max_connections,
    backend.timeouts.connect,
    backend.timeouts.server,
    JSON.stringify(backend.tls ?? null),
  ].join('|')
}
