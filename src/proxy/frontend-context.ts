import type { FrontendConfig } from '../config/schema.js'
import type { Logger } from '../log.js'
import type { TrafficStats } from '../metrics/traffic-stats.js'
import type { AccessLog } from './access-log.js'

/** What an exchange needs from the frontend that received its request. */
export interface FrontendContext {
  readonly name: string
  readonly proto: 'http' | 'https'
  readonly config: FrontendConfig
  readonly accessLog: AccessLog | undefined
  readonly log: Logger
  /** True once a graceful stop began: responses then close their connection. */
  readonly shuttingDown: boolean
  /** The frontend's traffic counters (every request counts once, when it ends). */
  readonly stats: TrafficStats
}
