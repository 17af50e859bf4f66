import type { HostPort } from '../config/address.js'
import type { FrontendConfig } from '../config/schema.js'
import { TrafficStats } from '../metrics/traffic-stats.js'
import type { Runtime } from '../runtime/runtime.js'
import type { Frontend, FrontendOptions } from './frontend.js'

/** A tcp frontend (placeholder: being written). */
export class TcpFrontend implements Frontend {
  readonly stats = new TrafficStats()
  readonly activeRequests = 0

  constructor(
    readonly name: string,
    public config: FrontendConfig,
    _runtime: Runtime,
    _options: FrontendOptions,
  ) {}

  listen(): Promise<void> {
    return Promise.reject(new Error('tcp frontends are not written yet'))
  }

  addresses(): HostPort[] {
    return []
  }

  useConfig(config: FrontendConfig): void {
    this.config = config
  }

  close(): Promise<void> {
    return Promise.resolve()
  }
}
