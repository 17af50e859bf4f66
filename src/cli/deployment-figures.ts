/** What `deploy` and `rollback` show of a deployment record while following it and at the end (pure). */
import type { DeploymentRecord, DeploymentStatus, StepRecord } from '../deploy/deployment-record.js'
import { summarize } from '../deploy/deployment-summary.js'
import { formatCount, formatDuration, formatRelease } from '../deploy/format-report.js'

/** Still going: a follower keeps polling these. */
export function inProgress(status: DeploymentStatus): boolean {
  return status === 'running' || status === 'paused'
}

/** Requests and errors so far, summed over every second and release of the timeline. */
export function trafficSoFar(record: DeploymentRecord): { requests: number; errors: number } {
  let requests = 0
  let errors = 0
  for (const point of record.timeline) {
    for (const sample of Object.values(point.releases)) {
      requests += sample.requests
      errors += sample.errors
    }
  }
  return { requests, errors }
}

/** The figures of the live progress display. */
export interface Progress {
  /** Steps that ended. */
  readonly finished: number
  /** finished + 1 while the release runs (the plan's length is not in the record), finished once it ended. */
  readonly total: number
  readonly current: string
  readonly elapsed: string
  readonly requests: string
  readonly errors: string
}

/** `now` is this machine's clock: a remote balancer's clock may differ a little, so elapsed never goes below 0. */
export function progressOf(record: DeploymentRecord, now: number): Progress {
  const finished = record.steps.filter((s) => s.ended_at !== undefined).length
  const running = record.steps.find((s) => s.ended_at === undefined)
  const ended = !inProgress(record.status)
  const traffic = trafficSoFar(record)
  const current = record.status === 'paused' ? `paused (${running?.detail ?? 'between steps'})` : (running?.detail ?? (ended ? record.status : 'planning'))
  return {
    finished,
    total: ended ? Math.max(finished, 1) : finished + 1,
    current,
    elapsed: formatDuration(Math.max(0, (record.ended_at ?? now) - record.started_at)),
    requests: formatCount(traffic.requests),
    errors: formatCount(traffic.errors),
  }
}

/** `  ▸ start app-v2-1` when a step starts. */
export function stepStartLine(step: StepRecord): string {
  return `  ▸ ${step.detail}`
}

/** `  ✓ drain app-v1-1 (0.3 s)` or `  ✗ wait until app-v2-1 is UP (5.0 s): not UP within 5 s` when it ends. */
export function stepEndLine(step: StepRecord): string {
  const took = step.ended_at === undefined ? '' : ` (${formatDuration(step.ended_at - step.started_at)})`
  if (step.result === 'failed') return `  ✗ ${step.detail}${took}${step.error === undefined ? '' : `: ${step.error}`}`
  return `  ✓ ${step.detail}${took}`
}

/** The first line: `Deploying app v1 → v2 (rolling): app-20261121-213000-a3f`. */
export function headline(record: DeploymentRecord): string {
  const verb = record.strategy === 'rollback' ? 'Rolling back' : 'Deploying'
  const how = record.strategy === 'rollback' ? '' : ` (${record.strategy})`
  return `${verb} ${record.service} ${formatRelease(record)}${how}: ${record.id}`
}

/** The closing lines: status and duration, the cost figures, and why it did not succeed. */
export function summaryLines(record: DeploymentRecord): string[] {
  const summary = record.summary ?? summarize(record)
  const lines = [
    `${record.service} ${formatRelease(record)}: ${record.status} in ${formatDuration(summary.duration_ms)}`,
    `  requests ${formatCount(summary.requests)}, errors ${formatCount(summary.errors)}, peak instances ${formatCount(summary.peak_instances)}`,
  ]
  if (record.error !== undefined) lines.push(`  reason: ${record.error}`)
  if (record.status !== 'succeeded') lines.push(`  details: switchyard report ${record.id}`)
  return lines
}
