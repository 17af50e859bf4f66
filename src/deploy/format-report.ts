import type { DeploymentRecord } from './deployment-record.js'
import { phaseLatency, releaseTotals, summarize } from './deployment-summary.js'

/** "850 ms", "42 s", "3 min 5 s", "2 h 10 min". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 10_000) return `${(Math.floor(ms / 100) / 10).toFixed(1)} s`
  const seconds = Math.floor(ms / 1000)
  if (seconds < 60) return `${seconds} s`
  const minutes = Math.floor(seconds / 60)
  if (minutes < 60) return seconds % 60 === 0 ? `${minutes} min` : `${minutes} min ${seconds % 60} s`
  return minutes % 60 === 0 ? `${Math.floor(minutes / 60)} h` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`
}

/** "12,345" (fixed locale, so that output does not depend on the machine). */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US')
}

/** "v1 → v2", or "v2" for a first release. */
export function formatRelease(record: Pick<DeploymentRecord, 'from' | 'to'>): string {
  return record.from === undefined ? record.to : `${record.from} → ${record.to}`
}

/** "2026-11-21 21:30:00Z": UTC, like the time in deployment ids. */
export function formatTime(epochMs: number): string {
  return `${new Date(epochMs).toISOString().slice(0, 19).replace('T', ' ')}Z`
}

function formatMs(ms: number): string {
  return ms >= 100 ? `${Math.round(ms)} ms` : `${Number(ms.toPrecision(2))} ms`
}

function formatOffset(ms: number): string {
  return `+${(ms / 1000).toFixed(1)} s`
}

type Align = 'left' | 'right'

/** Rows under a header, columns padded to their widest cell; the last column is not padded. */
function table(header: readonly string[], rows: readonly (readonly string[])[], align: readonly Align[], indent = '  '): string[] {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => (row[c] ?? '').length)))
  const line = (cells: readonly string[]) =>
    indent +
    cells
      .map((cell, c) => (c === cells.length - 1 && align[c] !== 'right' ? cell : align[c] === 'right' ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd()
  return [line(header), ...rows.map(line)]
}

/** `switchyard report ID`: the deployment, its steps, its cost figures and the traffic per release. */
export function formatReport(record: DeploymentRecord): string {
  const summary = record.summary ?? summarize(record)
  const lines: string[] = [`Deployment ${record.id}`]
  const facts: [string, string][] = [
    ['service', record.service],
    ['release', formatRelease(record)],
    ['strategy', record.strategy],
    ['status', record.status],
    ['started', formatTime(record.started_at)],
    ['duration', formatDuration(summary.duration_ms) + (record.ended_at === undefined ? ' (not ended)' : '')],
  ]
  if (record.error !== undefined) facts.push(['error', record.error])
  lines.push(...table(['', ''], facts, ['left', 'left']).slice(1))

  lines.push('', 'Steps')
  if (record.steps.length === 0) lines.push('  (none)')
  else {
    const latency = phaseLatency(record)
    const rows = record.steps.map((step, i) => [
      String(i + 1),
      formatOffset(step.started_at - record.started_at),
      step.ended_at === undefined ? '-' : formatDuration(step.ended_at - step.started_at),
      step.result ?? (step.ended_at === undefined ? 'running' : '-'),
      latency[i]!.requests === 0 ? '-' : formatMs(latency[i]!.p50_ms),
      latency[i]!.requests === 0 ? '-' : formatMs(latency[i]!.p99_ms),
      step.kind,
      step.error === undefined ? step.detail : `${step.detail}: ${step.error}`,
    ])
    const header = ['#', 'start', 'duration', 'result', 'p50', 'p99', 'kind', 'detail']
    lines.push(...table(header, rows, ['right', 'right', 'right', 'left', 'right', 'right', 'left', 'left']))
  }

  lines.push('', 'Summary')
  const figures: [string, string][] = [
    ['requests', formatCount(summary.requests)],
    ['errors', formatCount(summary.errors)],
    ['peak instances', formatCount(summary.peak_instances)],
    ['extra instances', formatCount(summary.extra_instances)],
    ['extra instance-seconds', String(Math.round(summary.extra_instance_seconds * 10) / 10)],
  ]
  lines.push(...table(['', ''], figures, ['left', 'right']).slice(1))

  lines.push('', 'Releases')
  const totals = releaseTotals(record)
  if (totals.length === 0) lines.push('  (no traffic recorded)')
  else {
    const rows = totals.map((t) => [t.version, formatCount(t.requests), formatCount(t.errors), `${(t.share_of_requests * 100).toFixed(1)}%`])
    lines.push(...table(['version', 'requests', 'errors', 'share'], rows, ['left', 'right', 'right', 'right']))
  }
  return lines.join('\n') + '\n'
}

/** `switchyard history`: one line per deployment, in the order given (the store lists newest first). */
export function formatHistory(records: readonly DeploymentRecord[]): string {
  if (records.length === 0) return 'No deployments yet.\n'
  const rows = records.map((r) => [
    r.id,
    formatRelease(r),
    r.strategy,
    r.status,
    formatTime(r.started_at),
    formatDuration((r.summary ?? summarize(r)).duration_ms),
  ])
  const header = ['ID', 'RELEASE', 'STRATEGY', 'STATUS', 'STARTED', 'DURATION']
  return table(header, rows, ['left', 'left', 'left', 'left', 'left', 'right'], '').join('\n') + '\n'
}
