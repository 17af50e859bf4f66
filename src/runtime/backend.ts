import type { Balancer } from '../balance/balancer.js'
import { createBalancer } from '../balance/create-balancer.js'
import { ReleaseSplit, type SplitEntry } from '../balance/release-split.js'
import type { BackendConfig, RetryCondition } from '../config/schema.js'
import type { CheckResult, CheckTarget } from '../health/health-check.js'
import { resolveHealthSettings } from '../health/health-defaults.js'
import { HealthMonitor, type HealthObserver } from '../health/health-monitor.js'
import { SwitchyardError } from '../errors.js'
import type { Logger } from '../log.js'
import type { EventBus } from './event-bus.js'
import { probeUntilUp } from './recovery-probe.js'
import { RequestQueue } from './request-queue.js'
import { Server, type ServerObserver, type ServerSpec } from './server.js'
import { SlowStart } from './slow-start.js'

/**
 * A data-plane worker's line to the control plane (`workers:` > 1): the worker's backends run no checks, slow
 * start or ejection of their own; what they see of a server goes to the control plane, which decides and sends
 * back the resulting state (src/workers).
 */
export interface ControlLink {
  /** The outcome of one request on a server (passive checks). */
  observe(server: Server, failed: boolean): void
  /** The data plane saw a server fail (a refused connection): it is DOWN here already. */
  serverDown(server: Server, reason: string): void
}

/** How often a server that refused a connection is probed when active checks are off (`health: none`). */
const RECOVERY_PROBE_INTERVAL_MS = 1000

/**
 * A backend at run time: its servers, the balancing algorithm over the regular servers and, apart, over the
 * backup servers (used only when no regular server is available), cookie persistence, active and passive
 * health, slow start, and the queue of requests waiting for a server.
 */
export class Backend implements ServerObserver, HealthObserver {
  readonly name: string
  readonly config: BackendConfig
  readonly queue: RequestQueue
  /** Retry conditions as a set, read per failed attempt. */
  readonly retryOn: ReadonlySet<RetryCondition>
  retriesTotal = 0
  /** Servers that may be chosen, in configuration order (removed servers leave this list at once). */
  servers: Server[] = []

  /** Versions in rotation (services); undefined = every server's version. */
  private rotation: ReadonlySet<string> | undefined
  /** Blue/green preview: requests with `header: version` go to that version's servers before the switch. */
  preview: { readonly header: string; readonly version: string } | undefined
  /** Canary: requests are first split between versions, then balanced within the chosen one. */
  split: ReleaseSplit | undefined
  /** With a split: the cookie that keeps a client on its version, and the header that forces one. */
  splitOptions: { readonly cookie: string | undefined; readonly forceHeader: string | undefined } = { cookie: undefined, forceHeader: undefined }
  private byRelease = new Map<string, Balancer<Server>>()

  private primary: Balancer<Server>
  private backups: Balancer<Server> | undefined
  private readonly byCookie = new Map<string, Server>()
  private readonly probes = new Map<Server, () => void>()
  private readonly targets = new Map<Server, CheckTarget>()
  private readonly byTarget = new Map<CheckTarget, Server>()
  private readonly monitor: HealthMonitor | undefined
  private readonly slowStart: SlowStart | undefined
  private readonly ejections = new Map<Server, NodeJS.Timeout>()
  private readonly log: Logger
  private readonly events: EventBus
  /** Set in a data-plane worker: the control plane decides health, ejection and slow start. */
  private readonly control: ControlLink | undefined
  /** True while the control plane's state is being applied (what it already knows is not sent back). */
  mirroring = false

  constructor(name: string, config: BackendConfig, log: Logger, events: EventBus, control?: ControlLink) {
    this.name = name
    this.config = config
    this.log = log
    this.events = events
    this.control = control
    this.retryOn = new Set(config.retry_on)
    this.queue = new RequestQueue(config.queue_limit, config.timeouts.queue)
    const settings = resolveHealthSettings(config.health)
    this.monitor = settings.type === 'none' || control !== undefined ? undefined : new HealthMonitor(settings, this)
    this.slowStart = config.slow_start === undefined || control !== undefined ? undefined : new SlowStart(config.slow_start, () => this.rebuild())
    this.primary = createBalancer(config.balance, [])
  }

  /** True when active checks decide health (a new server then starts as STARTING). */
  get checked(): boolean {
    return this.monitor !== undefined
  }

  /** Builds a server for this backend (not yet added). */
  createServer(name: string, spec: ServerSpec): Server {
    return new Server(this.name, name, spec, this.config, this, this.checked)
  }

  /** Puts servers into rotation (new ones start checking; adopted ones keep their state). */
  addServers(servers: readonly Server[], options: { slowStart: boolean } = { slowStart: true }): void {
    for (const server of servers) {
      server.observer = this
      server.inRotation = this.inRotation(server)
      this.servers.push(server)
      this.byCookie.set(server.cookieValue, server)
      server.rampOnUp = options.slowStart
      if (this.monitor !== undefined && server.admin !== 'maint') this.watch(server)
    }
    this.rebuild()
  }

  /** Takes a server out of rotation at once (no new requests); requests in flight go on. */
  detachServer(server: Server): void {
    const index = this.servers.indexOf(server)
    if (index < 0) return
    this.servers.splice(index, 1)
    this.byCookie.delete(server.cookieValue)
    this.unwatch(server)
    this.stopProbe(server)
    this.slowStart?.stop(server)
    clearTimeout(this.ejections.get(server))
    this.ejections.delete(server)
    this.rebuild()
  }

  /** Puts only the servers of these versions into rotation (undefined: all). Takes effect for the next request. */
  setRotation(releases: readonly string[] | undefined): void {
    this.rotation = releases === undefined ? undefined : new Set(releases)
    for (const server of this.servers) server.inRotation = this.inRotation(server)
    this.rebuild()
    this.wakeQueue()
  }

  get rotationReleases(): string[] | undefined {
    return this.rotation === undefined ? undefined : [...this.rotation]
  }

  private inRotation(server: Server): boolean {
    return this.rotation === undefined || (server.release !== undefined && this.rotation.has(server.release))
  }

  /** A server of `version` that is UP apart from rotation (preview requests), the least loaded one. */
  pickRelease(version: string, skip: ReadonlySet<Server> | undefined): Server | undefined {
    let best: Server | undefined
    for (const s of this.servers) {
      if (s.release !== version || s.admin !== 'ready' || s.health !== 'up' || s.ejected || skip?.has(s) === true) continue
      if (s.maxConnections > 0 && s.active >= s.maxConnections) continue
      if (best === undefined || s.active < best.active) best = s
    }
    return best
  }

  serverNamed(name: string): Server | undefined {
    return this.servers.find((s) => s.name === name)
  }

  /** The server named `name`; SY_ERR_UNKNOWN_SERVER (404 on the admin API) when there is none. */
  requireServer(name: string): Server {
    const server = this.serverNamed(name)
    if (server === undefined) throw new SwitchyardError('SY_ERR_UNKNOWN_SERVER', { backend: this.name, server: name })
    return server
  }

  /** A server for a new request: a regular one, else a backup one; undefined when none is available. */
  pick(key: string | undefined, skip: ReadonlySet<Server> | undefined): Server | undefined {
    if (this.split !== undefined) return this.pickInSplit(undefined, key, skip)
    return this.primary.pick(key, skip) ?? this.backups?.pick(key, skip)
  }

  /**
   * With a split: the `preferred` version (sticky client or forced by header) when it has a server, else the
   * next version by the split's weights among those that have one.
   */
  pickInSplit(preferred: string | undefined, key: string | undefined, skip: ReadonlySet<Server> | undefined): Server | undefined {
    if (preferred !== undefined) {
      const server = this.byRelease.get(preferred)?.pick(key, skip)
      if (server !== undefined) return server
    }
    return this.split?.pick((release) => this.byRelease.get(release)?.pick(key, skip))
  }

  /** Sets (or, with undefined, ends) the split between versions; takes effect for the next request. */
  setSplit(entries: readonly SplitEntry[] | undefined, options: Backend['splitOptions'] = this.splitOptions): void {
    this.split = entries === undefined ? undefined : new ReleaseSplit(entries)
    this.splitOptions = options
    this.rebuild()
    this.wakeQueue()
  }

  /** The server a persistence cookie designates, when it may still take the request (DRAIN included). */
  serverForCookie(value: string): Server | undefined {
    const server = this.byCookie.get(value)
    return server !== undefined && server.stickyAvailable ? server : undefined
  }

  hasAvailableServer(): boolean {
    for (const server of this.servers) if (server.available && server.effectiveWeight > 0) return true
    return false
  }

  /** The algorithms see weights live except consistent hashing, whose ring is rebuilt on every change. */
  rebuild(): void {
    this.primary = createBalancer(this.config.balance, this.servers.filter((s) => !s.backup))
    const backupServers = this.servers.filter((s) => s.backup)
    this.backups = backupServers.length > 0 ? createBalancer(this.config.balance, backupServers) : undefined
    this.byRelease = new Map()
    for (const entry of this.split?.entries ?? []) {
      this.byRelease.set(entry.release, createBalancer(this.config.balance, this.servers.filter((s) => s.release === entry.release)))
    }
  }

  setWeight(server: Server, weight: number): void {
    server.configuredWeight = weight
    if (this.slowStart?.isRamping(server) !== true) server.effectiveWeight = weight
    this.rebuild()
    this.changed(server)
    if (weight > 0) this.serverFreed(server)
  }

  setAdmin(server: Server, admin: Server['admin']): void {
    const before = server.admin
    if (before === admin) return
    if (admin === 'maint') this.unwatch(server)
    // Leaving maintenance: checks start again from scratch, the server is STARTING until `rise` passes.
    if (before === 'maint' && this.monitor !== undefined) {
      server.setHealth('unchecked', 'left maintenance')
      this.watch(server)
    }
    server.setAdmin(admin)
    // Long-lived connections (WebSocket, TCP) outlive requests: they get `drain_timeout` to end on their own,
    // then are asked to go away, unless the server is back in rotation first. Health going down does not count.
    if (admin === 'ready') server.cancelGoAway()
    else server.goAwayAfter(this.config.drain_timeout)
    this.changed(server)
    if (this.control === undefined) this.log.info({ event: 'server.admin', backend: this.name, server: server.name, admin }, `server ${server} is ${admin}`)
  }

  /** After an in-place deploy: the server must pass its checks again (STARTING) before it is UP. */
  recheck(server: Server): void {
    if (this.monitor === undefined) return
    this.unwatch(server)
    server.setHealth('unchecked', 'new version')
    if (server.admin !== 'maint') this.watch(server)
  }

  // ---- observers ----

  /** Tells the events stream that a server's state, health, admin state or weight changed. */
  private changed(server: Server): void {
    this.events.publish('server', {
      backend: this.name,
      server: server.name,
      state: server.state,
      health: server.health,
      admin: server.admin,
      weight: server.configuredWeight,
      effective_weight: server.effectiveWeight,
    })
  }

  serverFreed(server: Server): void {
    this.changed(server)
    if (server.health === 'up' && this.probes.has(server)) {
      this.stopProbe(server)
      this.log.info({ event: 'server.up', backend: this.name, server: server.name }, `server ${server} is up`)
    }
    this.wakeQueue()
  }

  private wakeQueue(): void {
    // Bounded by the queue's length: a woken waiter that finds no server re-queues itself at the front.
    for (let n = this.queue.length; n > 0 && this.hasAvailableServer(); n--) {
      if (!this.queue.wakeOne()) break
    }
  }

  serverDown(server: Server, reason: string): void {
    if (this.control !== undefined) {
      if (!this.mirroring) this.control.serverDown(server, reason)
      return
    }
    this.changed(server)
    this.log.warn({ event: 'server.down', backend: this.name, server: server.name, reason }, `server ${server} is down: ${reason}`)
    if (this.monitor === undefined && server.health === 'down' && !this.probes.has(server)) {
      this.probes.set(server, probeUntilUp(server, RECOVERY_PROBE_INTERVAL_MS, this.config.timeouts.connect))
    }
  }

  healthChanged(target: CheckTarget, status: 'up' | 'down', last: CheckResult): void {
    const server = this.byTarget.get(target)
    if (server === undefined) return
    if (status === 'up') {
      if (server.rampOnUp) this.slowStart?.start(server)
      server.setHealth('up', last.detail)
      this.changed(server)
      this.log.info({ event: 'server.up', backend: this.name, server: server.name, check: last.detail }, `server ${server} is up`)
    } else {
      this.slowStart?.stop(server)
      server.setHealth('down', last.detail)
    }
    // After the first transition, every later return to UP ramps up.
    server.rampOnUp = true
  }

  /** The outcome of one request on a server, for passive checks (`passive:` in the backend). */
  observe(server: Server, failed: boolean): void {
    if (this.control !== undefined) return this.control.observe(server, failed)
    if (!failed) {
      server.consecutiveFailures = 0
      return
    }
    server.failures++
    server.consecutiveFailures++
    const passive = this.config.passive
    if (passive === undefined || server.ejected || server.consecutiveFailures < passive.consecutive_failures) return
    server.setEjected(true, `${server.consecutiveFailures} consecutive failures`)
    const timer = setTimeout(() => {
      this.ejections.delete(server)
      server.setEjected(false, 'ejection ended')
    }, passive.eject_for)
    timer.unref()
    this.ejections.set(server, timer)
  }

  /** Last active check result and counters of a server, for the admin views. */
  checkStatus(server: Server): ReturnType<HealthMonitor['status']> | undefined {
    const target = this.targets.get(server)
    return target === undefined || this.monitor === undefined ? undefined : this.monitor.status(target)
  }

  private watch(server: Server): void {
    if (this.monitor === undefined || this.targets.has(server)) return
    const target: CheckTarget = { host: server.address.host, port: server.address.port, name: `${this.name}/${server.name}` }
    this.targets.set(server, target)
    this.byTarget.set(target, server)
    this.monitor.add(target, server.health)
  }

  private unwatch(server: Server): void {
    const target = this.targets.get(server)
    if (target === undefined) return
    this.monitor?.remove(target)
    this.targets.delete(server)
    this.byTarget.delete(target)
  }

  private stopProbe(server: Server): void {
    const stop = this.probes.get(server)
    if (stop === undefined) return
    stop()
    this.probes.delete(server)
  }

  /** Stops checks and timers; the servers themselves may still be adopted by the next runtime. */
  stopWatching(): void {
    this.monitor?.stop()
    this.slowStart?.stopAll()
    for (const stop of this.probes.values()) stop()
    this.probes.clear()
    // An ejection ends with the runtime that decided it; passive checks of the next one start afresh.
    for (const [server, timer] of this.ejections) {
      clearTimeout(timer)
      server.setEjected(false, 'reload')
    }
    this.ejections.clear()
  }
}
