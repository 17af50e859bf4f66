import type { WorkerView } from '../workers/worker-pool.js'
import type { DeploymentRecord } from '../deploy/deployment-record.js'
import type { HaView } from '../ha/role-file.js'
import type { BalancerEvent } from '../runtime/event-bus.js'
import type { AdminState, EffectiveState, Health } from '../runtime/server.js'

/** Answers by status class. */
export interface ResponseClasses {
  readonly '1xx': number
  readonly '2xx': number
  readonly '3xx': number
  readonly '4xx': number
  readonly '5xx': number
}

/** Traffic counters of a frontend or a server since it was created (stats page, /stats.csv, /stats.json). */
export interface TrafficView {
  readonly requests: number
  readonly bytes_in: number
  readonly bytes_out: number
  /** Most requests in flight at once. */
  readonly max_active: number
  /** Requests the balancer refused itself (frontends). */
  readonly request_errors: number
  /** Attempts that could not connect (servers). */
  readonly connection_errors: number
  /** Attempts that failed after connecting (servers). */
  readonly response_errors: number
  readonly responses: ResponseClasses
}

/** Active check counters of a server (null without active checks). */
export interface CheckCounters {
  readonly checks: number
  readonly failures: number
}

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
  readonly last_check: {
    readonly ok: boolean
    readonly detail: string
    readonly duration_ms: number
    /** The HTTP status or exit code of the check, when it had one. */
    readonly code?: number | null
  } | null
  /** The version this server runs (servers of a service). */
  readonly release: string | null
  // The figures below are set by the balancer; a control without live traffic (a test double) may leave them out.
  readonly traffic?: TrafficView
  /** Total time spent DOWN, in ms. */
  readonly downtime_ms?: number
  /** Changes from UP to DOWN (failed checks or passive ejections). */
  readonly down_transitions?: number
  readonly check_counts?: CheckCounters | null
}

export interface BackendView {
  readonly name: string
  readonly balance: string
  readonly queue: { readonly current: number; readonly max: number; readonly limit: number }
  readonly retries: number
  readonly servers: ServerView[]
  /** Canary: the share of requests (percent) per version while a split is on; null otherwise. */
  readonly split?: readonly { readonly release: string; readonly weight: number }[] | null
}

export interface FrontendView {
  readonly name: string
  readonly mode: string
  readonly listen: string[]
  readonly active: number
  readonly traffic?: TrafficView
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

/** A balancer's link to the shared state in etcd (`cluster:`). */
export interface ClusterView {
  /** This balancer's name in the cluster. */
  readonly node: string
  readonly prefix: string
  readonly endpoints: string[]
  /** The watch on the prefix is established (changes of other balancers arrive). */
  readonly connected: boolean
  /** The shared state was read at least once (until then the local state file serves, and writes are refused). */
  readonly synced: boolean
  /** The newest etcd revision this balancer has seen. */
  readonly revision: number
  /** Why it is not connected (null when it is). */
  readonly error: string | null
}

export interface StateView {
  readonly frontends: FrontendView[]
  readonly backends: BackendView[]
  readonly services: ServiceView[]
  /** The shared state in etcd; null without `cluster:` (a control without one may leave it out). */
  readonly cluster?: ClusterView | null
  /** The VRRP role keepalived last reported for this balancer (docs/high-availability.md); a control without one may leave it out. */
  readonly ha?: HaView
  /** The data-plane worker processes (`workers:` above 1); empty when the balancer serves in its own process. */
  readonly workers?: readonly WorkerView[]
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

export interface EventFeed {
  /** Returns the function that unsubscribes. */
  subscribe(listener: (event: BalancerEvent) => void): () => void
}

/**
 * What the admin side (API, CLI through the API, stats page) may ask of a running balancer. Every method
 * validates its input and throws a SwitchyardError (unknown backend or server, bad value) without changing
 * anything when the input is wrong.
 */
export interface BalancerControl {
  /** State changes for `GET /api/v1/events` (absent: the stream only sends heartbeats). */
  readonly events?: EventFeed
  /** Resolves once every change so far is durable; a successful write is answered only then (when present). */
  durable?(): Promise<void>
  state(): StateView
  server(backend: string, server: string): ServerView
  // Writes may answer later: with `cluster:` they are committed in etcd before they are applied.
  changeServer(backend: string, server: string, change: ServerChange): ServerView | Promise<ServerView>
  /** Resolves when the server has no request in flight, or after timeoutMs. */
  waitDrained(backend: string, server: string, timeoutMs: number): Promise<DrainOutcome>
  /** Adds a server; it starts STARTING and takes traffic only after passing its checks. */
  addServer(backend: string, server: NewServer): ServerView | Promise<ServerView>
  /** Drains the server (up to timeoutMs), then removes it. */
  removeServer(backend: string, server: string, timeoutMs: number): Promise<DrainOutcome>
  /** Re-reads the configuration file; throws (and changes nothing) when it is invalid. */
  reload(): Promise<void>
  /** Starts a release of `service` to `version`; it runs in the background (see deployment()). */
  deploy(service: string, version: string, strategy?: string): DeploymentRecord | Promise<DeploymentRecord>
  rollback(service: string): DeploymentRecord | Promise<DeploymentRecord>
  deployment(id: string): Promise<DeploymentRecord>
  /** Newest first. */
  deployments(service?: string): Promise<DeploymentRecord[]>
  steerDeployment(id: string, action: 'pause' | 'resume' | 'abort' | 'promote'): Promise<DeploymentRecord>
}
