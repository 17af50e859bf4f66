import type { Balancer } from '../balance/balancer.js'
import { createBalancer } from '../balance/create-balancer.js'
import type { BackendConfig, RetryCondition } from '../config/schema.js'
import type { Logger } from '../log.js'
import { probeUntilUp } from './recovery-probe.js'
import { RequestQueue } from './request-queue.js'
import { Server, type ServerObserver } from './server.js'

/** How often a server that refused a connection is probed when no active check is configured. */
const RECOVERY_PROBE_INTERVAL_MS = 1000

/**
 * A backend at run time: its servers, the balancing algorithm over the regular servers and, apart, over the
 * backup servers (used only when no regular server is available), cookie persistence, and the queue of
 * requests waiting for a server.
 */
export class Backend implements ServerObserver {
  readonly name: string
  readonly config: BackendConfig
  readonly servers: Server[]
  readonly queue: RequestQueue
  /** Retry conditions as a set of flags, read per failed attempt. */
  readonly retryOn: ReadonlySet<RetryCondition>
  retriesTotal = 0

  private primary: Balancer<Server>
  private backups: Balancer<Server> | undefined
  private readonly byCookie = new Map<string, Server>()
  private readonly probes = new Map<Server, () => void>()
  private readonly log: Logger

  constructor(name: string, config: BackendConfig, log: Logger) {
    this.name = name
    this.config = config
    this.log = log
    this.retryOn = new Set(config.retry_on)
    this.queue = new RequestQueue(config.queue_limit, config.timeouts.queue)
    this.servers = Object.entries(config.servers).map(([serverName, serverConfig]) => {
      const server = new Server(name, serverName, serverConfig, config, this)
      this.byCookie.set(server.cookieValue, server)
      return server
    })
    this.primary = createBalancer(config.balance, this.servers.filter((s) => !s.backup))
    const backupServers = this.servers.filter((s) => s.backup)
    this.backups = backupServers.length > 0 ? createBalancer(config.balance, backupServers) : undefined
  }

  /** A server for a new request: a regular one, else a backup one; undefined when none is available. */
  pick(key: string | undefined, skip: ReadonlySet<Server> | undefined): Server | undefined {
    return this.primary.pick(key, skip) ?? this.backups?.pick(key, skip)
  }

  /** The server a persistence cookie designates, when it may still take the request. */
  serverForCookie(value: string): Server | undefined {
    const server = this.byCookie.get(value)
    return server !== undefined && server.available ? server : undefined
  }

  hasAvailableServer(): boolean {
    for (const server of this.servers) if (server.available && server.effectiveWeight > 0) return true
    return false
  }

  serverFreed(server: Server): void {
    if (server.health === 'up') this.stopProbe(server)
    // Bounded by the queue's length: a woken waiter that finds no server re-queues itself at the front.
    for (let n = this.queue.length; n > 0 && this.hasAvailableServer(); n--) {
      if (!this.queue.wakeOne()) break
    }
  }

  serverDown(server: Server, reason: string): void {
    this.log.warn({ event: 'server.down', backend: this.name, server: server.name, reason }, `server ${server} is down: ${reason}`)
    if (this.config.health === undefined && !this.probes.has(server)) {
      this.probes.set(server, probeUntilUp(server, RECOVERY_PROBE_INTERVAL_MS, this.config.timeouts.connect))
    }
  }

  private stopProbe(server: Server): void {
    const stop = this.probes.get(server)
    if (stop === undefined) return
    stop()
    this.probes.delete(server)
    this.log.info({ event: 'server.up', backend: this.name, server: server.name }, `server ${server} is up`)
  }

  async close(): Promise<void> {
    for (const stop of this.probes.values()) stop()
    this.probes.clear()
    this.queue.expireAll()
    await Promise.all(this.servers.map((s) => s.close()))
  }
}
