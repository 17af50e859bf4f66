import type { ProviderConfig } from '../config/schema.js'

/**
 * A provider starts and stops the instances of a service's versions (process, exec), or deploys a version in
 * place on fixed servers (static). One interface; one contract suite (test/provider-contract.test.ts).
 */

/** One running instance, as recorded in the runtime state (so that a restarted balancer can adopt it). */
export interface InstanceRecord {
  /** Unique and stable: also the server's name in the backend, e.g. "app-v2-1". */
  readonly id: string
  readonly service: string
  readonly version: string
  /** host:port the instance serves on. */
  readonly address: string
  /** Process provider: the process id (the leader of its own process group). */
  readonly pid?: number | undefined
  /** Epoch ms. */
  readonly started_at: number
}

export interface StartRequest {
  readonly service: string
  readonly version: string
  /** 1-based number of the instance within its release ({{instance}} in templates). */
  readonly index: number
  /** The id the new instance gets. */
  readonly id: string
}

/** A fixed server of the backend, for in-place deploys. */
export interface FixedServer {
  readonly name: string
  readonly host: string
  readonly port: number
}

/** Told about instances that end on their own (a crash), and about their restarts. */
export interface ProviderObserver {
  instanceExited(instance: InstanceRecord, detail: string): void
  instanceRestarted(instance: InstanceRecord): void
}

export interface Provider {
  readonly type: 'process' | 'static' | 'exec'
  /** Whether the provider starts instances (process, exec) or deploys in place on fixed servers (static). */
  readonly startsInstances: boolean
  /** Starts one instance; resolves once it is started (health is the runtime's business). Rejects with a reason. */
  start(request: StartRequest, signal: AbortSignal): Promise<InstanceRecord>
  /** Stops an instance for good (a graceful stop, then a forced one). Never rejects for an instance already gone. */
  stop(instance: InstanceRecord): Promise<void>
  /** After a restart of the balancer: the recorded instances that are still alive, now watched again. */
  adopt(instances: readonly InstanceRecord[]): Promise<InstanceRecord[]>
  /** Static provider only: deploys `version` on `server` in place. Rejects with a reason. */
  deployInPlace(server: FixedServer, version: string, signal: AbortSignal): Promise<void>
  /**
   * A reload changed the provider's settings: later starts (and deploys) use them; running instances keep theirs.
   * False when the new settings are for another type of provider (that needs a restart of the balancer).
   */
  reconfigure(config: ProviderConfig): boolean
  /** Stops watching instances (they keep running). */
  close(): Promise<void>
}
