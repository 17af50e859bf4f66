import type { HostPort } from '../config/address.js'
import type { FrontendConfig } from '../config/schema.js'
import { TrafficStats } from '../metrics/traffic-stats.js'
import type { Frontend } from '../proxy/frontend.js'

/**
 * A frontend as the control plane sees it when data-plane workers serve it: its configuration, the addresses
 * the workers bound, and the counters they report, summed. It listens to nothing itself.
 */
export class RemoteFrontend implements Frontend {
  readonly name: string
  config: FrontendConfig
  readonly stats = new TrafficStats()
  private readonly activeByWorker = new Map<number, number>()
  private active = 0

  constructor(
    name: string,
    config: FrontendConfig,
    private readonly bound: (frontend: string) => HostPort[],
  ) {
    this.name = name
    this.config = config
  }

  get activeRequests(): number {
    return this.active
  }

  /** The workers bind the listeners (through the cluster's shared sockets). */
  async listen(): Promise<void> {}

  addresses(): HostPort[] {
    return this.bound(this.name)
  }

  useConfig(config: FrontendConfig): void {
    this.config = config
  }

  /** The workers close their listeners when the control plane stops them. */
  async close(): Promise<void> {}

  /** A worker's requests in flight on this frontend (undefined: the worker is gone). */
  setActive(worker: number, active: number | undefined): void {
    if (active === undefined) this.activeByWorker.delete(worker)
    else this.activeByWorker.set(worker, active)
    let total = 0
    for (const n of this.activeByWorker.values()) total += n
    this.active = total
    if (total > this.stats.maxActive) this.stats.maxActive = total
  }
}
