import type { HostPort } from '../config/address.js'
import type { FrontendConfig } from '../config/schema.js'
import type { Logger } from '../log.js'
import type { TrafficStats } from '../metrics/traffic-stats.js'
import type { Runtime } from '../runtime/runtime.js'
import type { AccessLog } from './access-log.js'
import { HttpFrontend } from './http-frontend.js'
import { TcpFrontend } from './tcp-frontend.js'

/** A frontend as the balancer drives it, whatever it speaks (mode http, with or without TLS, or tcp). */
export interface Frontend {
  readonly name: string
  readonly config: FrontendConfig
  readonly stats: TrafficStats
  /** Requests (http) or connections (tcp) in flight. */
  readonly activeRequests: number
  listen(): Promise<void>
  /** Bound addresses (ports resolved when port 0 was asked for). */
  addresses(): HostPort[]
  /** A reload: new routes, backends, timeouts (and certificates); the listeners and open connections stay. */
  useConfig(config: FrontendConfig, runtime: Runtime): void
  /** Graceful stop: stop accepting, let what is in flight finish for up to `graceMs`, then close the rest. */
  close(graceMs: number): Promise<void>
}

export interface FrontendOptions {
  readonly accessLog: AccessLog | undefined
  readonly log: Logger
}

export function createFrontend(name: string, config: FrontendConfig, runtime: Runtime, options: FrontendOptions): Frontend {
  return config.mode === 'tcp' ? new TcpFrontend(name, config, runtime, options) : new HttpFrontend(name, config, runtime, options)
}

/**
 * What a reload would change about a listener it keeps (same addresses) but cannot apply to it: the protocol
 * the listener speaks. Undefined when the new configuration fits the open listener.
 */
export function listenerChange(current: FrontendConfig, next: FrontendConfig): string | undefined {
  if (current.mode !== next.mode) return `changing mode from ${current.mode} to ${next.mode}`
  if ((current.tls === undefined) !== (next.tls === undefined)) return next.tls === undefined ? 'turning TLS off' : 'turning TLS on'
  if (current.tls !== undefined && next.tls !== undefined && current.tls.http2 !== next.tls.http2) return 'turning HTTP/2 on or off'
  return undefined
}
