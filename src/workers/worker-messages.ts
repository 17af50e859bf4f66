import type { HostPort } from '../config/address.js'
import type { Config } from '../config/schema.js'
import type { RuntimeState } from '../runtime/runtime-state.js'

/**
 * What the control plane and its data-plane workers say to each other over node:cluster's IPC channel
 * (docs/performance.md, "Workers"). Every message is plain JSON.
 */

/** One server as the control plane decided it: what it is (id, identity) and the state the data plane obeys. */
export interface ServerSnapshot {
  /** Unique per server object of the control plane: a server replaced under the same name gets a new id. */
  readonly id: number
  readonly name: string
  readonly identity: string
  readonly address: string
  readonly backup: boolean
  readonly maxConnections: number
  readonly release: string | null
  readonly weight: number
  readonly effectiveWeight: number
  readonly admin: 'ready' | 'drain' | 'maint'
  readonly health: 'up' | 'down' | 'unchecked'
  readonly ejected: boolean
}

export interface BackendSnapshot {
  readonly name: string
  readonly rotation: readonly string[] | null
  readonly split: { readonly entries: readonly { release: string; weight: number }[]; readonly cookie: string | null; readonly forceHeader: string | null } | null
  readonly preview: { readonly header: string; readonly version: string } | null
  readonly servers: readonly ServerSnapshot[]
}

export interface RuntimeSnapshot {
  readonly backends: readonly BackendSnapshot[]
}

/** Control plane -> worker. */
export type ToWorker =
  | { readonly type: 'config'; readonly version: number; readonly config: Config; readonly state: RuntimeState; readonly snapshot: RuntimeSnapshot }
  | { readonly type: 'snapshot'; readonly version: number; readonly snapshot: RuntimeSnapshot }
  | { readonly type: 'stop'; readonly graceMs: number }

/** Counters since the previous report, and gauges as they are now, of one server (by its id). */
export interface ServerActivity {
  readonly id: number
  readonly active: number
  readonly requests: number
  readonly errors: number
  readonly bytesIn: number
  readonly bytesOut: number
  readonly connectionErrors: number
  readonly responseErrors: number
  /** [frontend, status, count] */
  readonly codes: readonly (readonly [string, number, number])[]
  /** Latency buckets that counted anything: [bucket, count], with the count and sum of the latencies. */
  readonly latency: readonly (readonly [number, number])[]
  readonly latencyCount: number
  readonly latencySum: number
}

export interface FrontendActivity {
  readonly name: string
  readonly active: number
  readonly requests: number
  readonly requestErrors: number
  readonly bytesIn: number
  readonly bytesOut: number
  readonly codes: readonly (readonly [number, number])[]
}

export interface BackendActivity {
  readonly name: string
  readonly retries: number
  readonly queued: number
  readonly waiting: number
}

/** Worker -> control plane. */
export type FromWorker =
  /** The worker listens for messages: the configuration can come. */
  | { readonly type: 'hello' }
  | { readonly type: 'ready'; readonly addresses: Record<string, HostPort[]> }
  | { readonly type: 'failed'; readonly version: number; readonly message: string; readonly code?: string | undefined }
  | {
      readonly type: 'report'
      /** The last configuration or snapshot version this worker applied (its acknowledgement). */
      readonly version: number
      readonly servers: readonly ServerActivity[]
      readonly frontends: readonly FrontendActivity[]
      readonly backends: readonly BackendActivity[]
      /**
       * Request outcomes for passive checks, in the order seen, as runs: [server id, failed, how many in a row].
       * Successes are sent only for backends with `passive:` (elsewhere they decide nothing).
       */
      readonly outcomes: readonly (readonly [number, boolean, number])[]
      /** Servers this worker saw fail (a refused connection): [server id, reason]. */
      readonly down: readonly (readonly [number, string])[]
    }
  | { readonly type: 'stopped' }
