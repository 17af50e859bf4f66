import { AdminServer } from './admin/admin-server.js'
import { formatHostPort, type HostPort } from './config/address.js'
import { DEFAULTS } from './config/defaults.js'
import { parseHostPort } from './config/address.js'
import type { Config } from './config/schema.js'
import { silentLogger, type Logger } from './log.js'
import { AccessLog } from './proxy/access-log.js'
import { HttpFrontend } from './proxy/http-frontend.js'
import { Runtime } from './runtime/runtime.js'

export interface LoadBalancerOptions {
  /** The balancer's own log (default: silent, for library use). */
  readonly log?: Logger
}

/**
 * A running balancer: the runtime built from a configuration snapshot, the frontends' listeners and the admin
 * listener. `start` resolves once every listener is bound; `stop` is the graceful stop.
 */
export class LoadBalancer {
  readonly config: Config
  readonly runtime: Runtime
  readonly frontends: ReadonlyMap<string, HttpFrontend>
  private readonly admin = new AdminServer()
  private adminAddress: HostPort | undefined
  private readonly log: Logger

  private constructor(config: Config, log: Logger) {
    this.config = config
    this.log = log
    this.runtime = new Runtime(config, log)
    const accessLog = config.access_log ? new AccessLog(log) : undefined
    this.frontends = new Map(
      Object.entries(config.frontends).map(([name, fe]) => [name, new HttpFrontend(name, fe, this.runtime, { accessLog, log })]),
    )
  }

  static async start(config: Config, options: LoadBalancerOptions = {}): Promise<LoadBalancer> {
    const lb = new LoadBalancer(config, options.log ?? silentLogger())
    try {
      lb.adminAddress = await lb.admin.listen(config.admin?.listen ?? (parseHostPort(DEFAULTS.admin.listen) as HostPort))
      for (const frontend of lb.frontends.values()) await frontend.listen()
    } catch (err) {
      await lb.stop(0)
      throw err
    }
    lb.admin.ready = true
    lb.log.info(
      {
        event: 'ready',
        admin: formatHostPort(lb.adminAddress),
        frontends: Object.fromEntries([...lb.frontends].map(([name, fe]) => [name, fe.addresses().map(formatHostPort)])),
      },
      'switchyard is ready',
    )
    return lb
  }

  /** Bound addresses of a frontend (ports resolved when port 0 was asked for). */
  addresses(frontend: string): HostPort[] {
    return this.frontends.get(frontend)?.addresses() ?? []
  }

  get adminListen(): HostPort | undefined {
    return this.adminAddress
  }

  /**
   * Graceful stop: stop accepting, let requests in flight finish for up to `graceMs`, close idle connections,
   * then close upstream pools and the admin listener.
   */
  async stop(graceMs = 10_000): Promise<void> {
    this.admin.ready = false
    this.log.info({ event: 'stopping', grace_ms: graceMs }, 'stopping')
    await Promise.all([...this.frontends.values()].map((fe) => fe.close(graceMs)))
    await this.runtime.close()
    await this.admin.close()
    this.log.info({ event: 'stopped' }, 'stopped')
  }
}
