/** What Switchyard keeps of every release (a deployment): its steps, result and a per-second timeline. */

export type DeploymentStatus = 'running' | 'paused' | 'succeeded' | 'failed' | 'rolled_back' | 'aborted' | 'interrupted'

export interface StepRecord {
  /** e.g. "start", "wait-up", "drain", "stop", "switch", "deploy", "hook", "smoke". */
  readonly kind: string
  /** Human-readable, e.g. "start app-v2-1", "drain app-v1-2" (a start step names its instances once started). */
  detail: string
  readonly started_at: number
  ended_at?: number
  result?: 'ok' | 'failed'
  error?: string
}

/** Traffic of one release during one second. */
export interface ReleaseSample {
  readonly requests: number
  /** 5xx answers and failed attempts. */
  readonly errors: number
  /** Latency percentiles in ms of the requests answered in that second (0 when none). */
  readonly p50_ms: number
  readonly p99_ms: number
}

export interface TimelinePoint {
  /** Epoch seconds. */
  readonly t: number
  /** By version. */
  readonly releases: Readonly<Record<string, ReleaseSample>>
  /** Instances (servers) per version that exist at that second, in any state. */
  readonly instances: Readonly<Record<string, number>>
}

export interface DeploymentSummary {
  readonly duration_ms: number
  readonly requests: number
  readonly errors: number
  readonly peak_instances: number
  /** Instances above the starting count, at the peak. */
  readonly extra_instances: number
  /** Integral of (instances - starting count) over time, in instance-seconds. */
  readonly extra_instance_seconds: number
}

export interface DeploymentRecord {
  readonly id: string
  readonly service: string
  /** The version before the release (undefined for a first release). */
  readonly from: string | undefined
  readonly to: string
  readonly strategy: string
  status: DeploymentStatus
  readonly started_at: number
  ended_at?: number
  /** Why it failed, was rolled back or aborted. */
  error?: string
  readonly steps: StepRecord[]
  readonly timeline: TimelinePoint[]
  /** The service's instance count when the release started (the base of the extra-instance figures). */
  readonly start_instances?: number
  summary?: DeploymentSummary
}
