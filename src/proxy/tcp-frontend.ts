import net, { type AddressInfo, type Socket } from 'node:net'
import type { HostPort } from '../config/address.js'
import type { FrontendConfig } from '../config/schema.js'
import type { Logger } from '../log.js'
import { TrafficStats } from '../metrics/traffic-stats.js'
import type { Backend } from '../runtime/backend.js'
import type { Runtime } from '../runtime/runtime.js'
import type { AccessLog } from './access-log.js'
import type { Frontend, FrontendOptions } from './frontend.js'
import { listenOn } from './listen-on.js'
import { TcpConnection, type TcpConnectionContext } from './tcp-connection.js'

/**
 * A tcp frontend (`mode: tcp`): its listeners (one per address) hand every accepted connection to a
 * TcpConnection toward the default backend. Counters: `requests` are connections, bytesIn flows from clients to
 * servers, bytesOut back. A reload changes the backend and timeouts of new connections; open ones are kept.
 */
export class TcpFrontend implements Frontend, TcpConnectionContext {
  readonly stats = new TrafficStats()
  readonly accessLog: AccessLog | undefined
  readonly log: Logger
  private backend: Backend | undefined
  private readonly servers: net.Server[] = []
  private readonly connections = new Set<TcpConnection>()
  private closing = false
  private onIdle: (() => void) | undefined

  constructor(
    readonly name: string,
    public config: FrontendConfig,
    runtime: Runtime,
    options: FrontendOptions,
  ) {
    this.accessLog = options.accessLog
    this.log = options.log
    this.backend = backendOf(config, runtime)
  }

  async listen(): Promise<void> {
    for (const address of this.config.listen) this.servers.push(await this.bind(address))
  }

  addresses(): HostPort[] {
    return this.servers.map((s) => {
      const a = s.address() as AddressInfo
      return { host: a.address, port: a.port }
    })
  }

  private bind(address: HostPort): Promise<net.Server> {
    // Half-open connections are kept (a FIN is passed on, not answered); nothing is read before a server is
    // connected, so that a PROXY header can go first and a waiting client's bytes stay in the kernel.
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, this.onConnection)
    return listenOn(server, address, this.name, this.log)
  }

  /** A reload: new connections go to the new runtime's default backend with the new timeouts. */
  useConfig(config: FrontendConfig, runtime: Runtime): void {
    this.config = config
    this.backend = backendOf(config, runtime)
  }

  private readonly onConnection = (client: Socket): void => {
    const backend = this.backend
    // The configuration guarantees a default backend; a connection during a stop is not taken any more.
    if (backend === undefined || this.closing) return void client.destroy()
    const connection = new TcpConnection(this, backend, client, this.config.timeouts.client)
    this.connections.add(connection)
    this.stats.requests++
    if (this.connections.size > this.stats.maxActive) this.stats.maxActive = this.connections.size
    connection.onClose(() => {
      this.connections.delete(connection)
      if (this.connections.size === 0) this.onIdle?.()
    })
    connection.start()
  }

  get activeRequests(): number {
    return this.connections.size
  }

  /**
   * Graceful stop: listeners stop accepting, open connections go on for up to `graceMs`, then each is asked to
   * go away (a FIN to both ends, cut after a short linger). Resolves once every connection is closed.
   */
  async close(graceMs: number): Promise<void> {
    this.closing = true
    const closed = this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())))
    if (this.connections.size > 0) await this.whenIdle(graceMs)
    if (this.connections.size > 0) {
      const gone = this.whenIdle(Infinity)
      for (const connection of [...this.connections]) connection.goAway()
      await gone
    }
    await Promise.all(closed)
  }

  /** Resolves when no connection is open, or after `ms`. */
  private whenIdle(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = Number.isFinite(ms) ? setTimeout(done, ms) : undefined
      function done(): void {
        clearTimeout(timer)
        resolve()
      }
      this.onIdle = done
    })
  }
}

function backendOf(config: FrontendConfig, runtime: Runtime): Backend | undefined {
  return config.default_backend === undefined ? undefined : runtime.backends.get(config.default_backend)
}
