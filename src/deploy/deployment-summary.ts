import type { DeploymentRecord, DeploymentSummary, StepRecord, TimelinePoint } from './deployment-record.js'

/*
 * Cost figures of a deployment, computed from its timeline (pure functions).
 *
 * A point stands for the time since the previous point: one second normally, more for points merged by
 * compactTimeline or after a stalled tick, less for the final partial sample. The first point stands for one
 * second. Integrals (extra instance-seconds) weigh each point by that span, which for plain one-second points is
 * exactly "each point is one second".
 */

export interface ReleaseTotal {
  readonly version: string
  readonly requests: number
  readonly errors: number
  /** This release's requests / all requests of the deployment, in [0, 1] (0 when there were none). */
  readonly share_of_requests: number
}

/** Latency during one step (phase) of the deployment, over all releases. */
export interface PhaseLatency {
  /** Index into record.steps. */
  readonly step: number
  readonly kind: string
  readonly detail: string
  readonly requests: number
  readonly p50_ms: number
  readonly p99_ms: number
}

export function summarize(record: DeploymentRecord): DeploymentSummary {
  const points = record.timeline
  let requests = 0
  let errors = 0
  let peak = 0
  let extraSeconds = 0
  const first = record.start_instances ?? (points.length > 0 ? totalInstances(points[0]!) : 0)
  points.forEach((point, i) => {
    for (const sample of Object.values(point.releases)) {
      requests += sample.requests
      errors += sample.errors
    }
    const total = totalInstances(point)
    peak = Math.max(peak, total)
    extraSeconds += Math.max(0, total - first) * spanOf(points, i)
  })
  return {
    duration_ms: Math.max(0, endOf(record) - record.started_at),
    requests,
    errors,
    peak_instances: peak,
    extra_instances: Math.max(0, peak - first),
    extra_instance_seconds: Math.round(extraSeconds * 1000) / 1000,
  }
}

/** Requests and errors per release, in order of first appearance in the timeline. */
export function releaseTotals(record: DeploymentRecord): ReleaseTotal[] {
  const totals = new Map<string, { requests: number; errors: number }>()
  let all = 0
  for (const point of record.timeline) {
    for (const [version, sample] of Object.entries(point.releases)) {
      const total = totals.get(version) ?? { requests: 0, errors: 0 }
      total.requests += sample.requests
      total.errors += sample.errors
      totals.set(version, total)
      all += sample.requests
    }
  }
  return [...totals].map(([version, t]) => ({ version, ...t, share_of_requests: all === 0 ? 0 : t.requests / all }))
}

/**
 * p50/p99 per step (not per step kind: a rolling release drains batch after batch, and each batch's latency is
 * what the report lines up with the step table). A step gets every timeline point whose span overlaps the step,
 * so a step shorter than a second still gets the second it ran in. The figures are request-weighted means of the
 * per-second percentiles of all releases: an approximation, as the record keeps percentiles, not histograms.
 */
export function phaseLatency(record: DeploymentRecord): PhaseLatency[] {
  return record.steps.map((step, index) => latencyDuring(record.timeline, step, index))
}

function latencyDuring(points: readonly TimelinePoint[], step: StepRecord, index: number): PhaseLatency {
  const from = step.started_at / 1000
  const to = step.ended_at === undefined ? Infinity : step.ended_at / 1000
  let requests = 0
  let p50 = 0
  let p99 = 0
  points.forEach((point, i) => {
    if (point.t <= from || point.t - spanOf(points, i) >= to) return
    for (const sample of Object.values(point.releases)) {
      requests += sample.requests
      p50 += sample.p50_ms * sample.requests
      p99 += sample.p99_ms * sample.requests
    }
  })
  const mean = (weighted: number) => (requests === 0 ? 0 : Math.round((weighted / requests) * 1000) / 1000)
  return { step: index, kind: step.kind, detail: step.detail, requests, p50_ms: mean(p50), p99_ms: mean(p99) }
}

export function totalInstances(point: TimelinePoint): number {
  let total = 0
  for (const count of Object.values(point.instances)) total += count
  return total
}

/** Seconds that point i stands for. */
function spanOf(points: readonly TimelinePoint[], i: number): number {
  return i === 0 ? 1 : Math.max(0, points[i]!.t - points[i - 1]!.t)
}

/** ended_at, or for a deployment still running (or interrupted) the latest moment the record knows of. */
function endOf(record: DeploymentRecord): number {
  if (record.ended_at !== undefined) return record.ended_at
  let end = record.started_at
  for (const step of record.steps) end = Math.max(end, step.ended_at ?? step.started_at)
  const last = record.timeline[record.timeline.length - 1]
  if (last !== undefined) end = Math.max(end, last.t * 1000)
  return end
}
