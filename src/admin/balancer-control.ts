import type { DeploymentRecord } from '../deploy/deployment-record.js'
import type { AdminState, EffectiveState, Health } from '../runtime/server.js'

/** One server as the admin API, the CLI and the stats page show it. */
export interface ServerView {
  readonly name: string
  readonly backend: string
  readonly address: string
  readonly weight: number
  readonly effective_weight: number
  readonly backup: boolean
  readonly admin: AdminState
  readonly health: Health
  readonly state: EffectiveState
  /** Requests in flight. */
  readonly active: number
  /** Requests sent to this server since it was added. */
  readonly requests: number
  readonly failures: number
  readonly max_connections: number
  /** Epoch ms of the last change of state. */
  readonly last_change: number
  readonly last_check: { readonly ok: boolean; readonly detail: string; readonly duration_ms: number } | null
  /** The version this server runs (servers of a service). */
  readonly release: string | null
}

export interface BackendView {
  readonly name: string
  readonly balance: string
  readonly queue: { readonly current: number; readonly max: number; readonly limit: number }
  readonly retries: number
  readonly servers: ServerView[]
}

export interface FrontendView {
  readonly name: string
  readonly mode: string
  readonly listen: string[]
  readonly active: number
}

/** A service: its current and previous release and the release running now, if any. */
export interface ServiceView {
  readonly name: string
  readonly backend: string
  readonly version: string | null
  readonly previous: string | null
  /** Versions in rotation; null = every version. */
  readonly rotation: string[] | null
  readonly deployment: { readonly id: string; readonly status: string; readonly to: string; readonly strategy: string } | null
}

export interface StateView {
  readonly frontends: FrontendView[]
  readonly backends: BackendView[]
  readonly services: ServiceView[]
}

export interface ServerChange {
  readonly admin?: AdminState
  readonly weight?: number
}

export interface NewServer {
  readonly name: string
  readonly address: string
  readonly weight?: number
  readonly backup?: boolean
  readonly max_connections?: number
}

export interface DrainOutcome {
  /** True when in-flight reached 0 before the timeout. */
  readonly drained: boolean
  readonly active: number
  readonly waited_ms: number
}

/**
 * What the admin side (API, CLI through the API, stats page) may ask of a running balancer. Every method
 * validates its input and throws a SwitchyardError (unknown backend or server, bad value) without changing
 * anything when the input is wrong.
 */
export interface BalancerControl {
  state(): StateView
  server(backend: string, server: string): ServerView
  changeServer(backend: string, server: string, change: ServerChange): ServerView
  /** Resolves when the server has no request in flight, or after timeoutMs. */
  waitDrained(backend: string, server: string, timeoutMs: number): Promise<DrainOutcome>
  /** Adds a server; it starts STARTING and takes traffic only after passing its checks. */
  addServer(backend: string, server: NewServer): ServerView
  /** Drains the server (up to timeoutMs), then removes it. */
  removeServer(backend: string, server: string, timeoutMs: number): Promise<DrainOutcome>
  /** Re-reads the configuration file; throws (and changes nothing) when it is invalid. */
  reload(): Promise<void>
  /** Starts a release of `service` to `version`; it runs in the background (see deployment()). */
  deploy(service: string, version: string, strategy?: string): DeploymentRecord
  rollback(service: string): DeploymentRecord
  deployment(id: string): Promise<DeploymentRecord>
  /** Newest first. */
  deployments(service?: string): Promise<DeploymentRecord[]>
  steerDeployment(id: string, action: 'pause' | 'resume' | 'abort' | 'promote'): Promise<DeploymentRecord>
}
