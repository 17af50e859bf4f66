import { emptySnapshot, quantileOfDifference, type HistogramSnapshot } from '../metrics/latency-histogram.js'
import type { ReleaseSample, TimelinePoint } from './deployment-record.js'

/** Cumulative counters of one release since some earlier moment (they only grow, unless replaced). */
export interface ReleaseCounters {
  readonly requests: number
  readonly errors: number
  readonly latency: HistogramSnapshot
}

/** Where the recorder reads traffic: cumulative counters per release and the current instance count per release. */
export interface TrafficSource {
  sample(): { releases: Record<string, ReleaseCounters>; instances: Record<string, number> }
}

/** The recorder's view of time (the same shape as the health monitor's clock, so one fake serves both). */
export interface RecorderClock {
  now(): number
  setTimeout(callback: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

export interface TimelineRecorderOptions {
  readonly source: TrafficSource
  /** The record's timeline; points are appended to (and, when it grows too long, compacted in) this array. */
  readonly timeline: TimelinePoint[]
  /** Called after each point is appended (e.g. to save the record). */
  readonly onPoint?: (point: TimelinePoint) => void
  /** Told when sampling or onPoint throws; the recorder keeps going. */
  readonly onProblem?: (message: string) => void
  readonly clock?: RecorderClock
  readonly intervalMs?: number
  /** Default 21,600: six hours of one-second points. */
  readonly maxPoints?: number
}

const realClock: RecorderClock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
}

export const DEFAULT_MAX_TIMELINE_POINTS = 6 * 60 * 60

interface Baseline {
  readonly at: number
  readonly releases: Record<string, ReleaseCounters>
}

/**
 * Samples a TrafficSource every second and appends per-second differences (requests, errors, p50/p99 of that
 * second, instances per release) to a deployment's timeline. Points carry the sample time in epoch seconds with
 * millisecond precision, so a late tick or the final partial sample still tells how long its point covers.
 */
export class TimelineRecorder {
  private readonly source: TrafficSource
  private readonly timeline: TimelinePoint[]
  private readonly onPoint: (point: TimelinePoint) => void
  private readonly onProblem: (message: string) => void
  private readonly clock: RecorderClock
  private readonly intervalMs: number
  private readonly maxPoints: number
  private baseline: Baseline | undefined
  private timer: unknown
  private due = 0

  constructor(options: TimelineRecorderOptions) {
    this.source = options.source
    this.timeline = options.timeline
    this.onPoint = options.onPoint ?? (() => undefined)
    this.onProblem = options.onProblem ?? ((message) => process.emitWarning(message))
    this.clock = options.clock ?? realClock
    this.intervalMs = options.intervalMs ?? 1000
    this.maxPoints = Math.max(4, options.maxPoints ?? DEFAULT_MAX_TIMELINE_POINTS)
  }

  get running(): boolean {
    return this.baseline !== undefined
  }

  /** Takes the baseline sample now; the first point follows one interval later. */
  start(): void {
    if (this.baseline !== undefined) return
    const at = this.clock.now()
    this.baseline = { at, releases: this.read()?.releases ?? {} }
    this.due = at
    this.schedule()
  }

  /** Stops the timer and appends a last, partial point covering the time since the previous one. */
  stop(): void {
    if (this.baseline === undefined) return
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer)
    this.timer = undefined
    if (this.clock.now() > this.baseline.at) this.takePoint()
    this.baseline = undefined
  }

  private schedule(): void {
    const now = this.clock.now()
    // Fixed cadence from the start, so that points do not drift; after a stall, one point covers the gap.
    this.due += this.intervalMs
    if (this.due <= now) this.due = now + this.intervalMs
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined
      this.takePoint()
      if (this.baseline !== undefined) this.schedule()
    }, this.due - now)
  }

  private takePoint(): void {
    const baseline = this.baseline
    const sample = this.read()
    if (baseline === undefined || sample === undefined) return
    const at = this.clock.now()
    const releases: Record<string, ReleaseSample> = {}
    for (const [version, counters] of Object.entries(sample.releases)) {
      releases[version] = difference(counters, baseline.releases[version])
    }
    const point: TimelinePoint = { t: at / 1000, releases, instances: { ...sample.instances } }
    this.baseline = { at, releases: sample.releases }
    this.timeline.push(point)
    if (this.timeline.length > this.maxPoints) compactTimeline(this.timeline)
    try {
      this.onPoint(point)
    } catch (err) {
      this.onProblem(`timeline onPoint failed: ${errorMessage(err)}`)
    }
  }

  private read(): ReturnType<TrafficSource['sample']> | undefined {
    try {
      return this.source.sample()
    } catch (err) {
      this.onProblem(`timeline sample failed: ${errorMessage(err)}`)
      return undefined
    }
  }
}

/** One interval's traffic of a release. A release seen for the first time, or whose counters went down (they were replaced), starts from zero. */
function difference(now: ReleaseCounters, before: ReleaseCounters | undefined): ReleaseSample {
  const reset = before === undefined || now.requests < before.requests || now.errors < before.errors || now.latency.count < before.latency.count
  const base = reset ? { requests: 0, errors: 0, latency: emptySnapshot() } : before
  return {
    requests: now.requests - base.requests,
    errors: now.errors - base.errors,
    p50_ms: quantileOfDifference(now.latency, base.latency, 0.5),
    p99_ms: quantileOfDifference(now.latency, base.latency, 0.99),
  }
}

/**
 * Bounds a timeline by merging neighbours rather than dropping: the oldest half (after the first point, kept as
 * the baseline of instance counts) is merged pairwise, so totals stay exact and old points get coarser (2 s,
 * then 4 s, ...) while recent ones keep one-second resolution. A merged point keeps the later time, the summed
 * requests and errors, the request-weighted mean p50, the larger p99 (an upper bound of the pair's p99) and the
 * larger instance count per release (so peaks survive; instance-seconds may be overstated by at most the
 * difference within a pair).
 */
export function compactTimeline(timeline: TimelinePoint[]): void {
  const end = 1 + 2 * Math.floor((timeline.length - 1) / 4)
  const merged: TimelinePoint[] = []
  for (let i = 1; i < end; i += 2) merged.push(mergePoints(timeline[i]!, timeline[i + 1]!))
  timeline.splice(1, end - 1, ...merged)
}

function mergePoints(a: TimelinePoint, b: TimelinePoint): TimelinePoint {
  const releases: Record<string, ReleaseSample> = {}
  for (const version of new Set([...Object.keys(a.releases), ...Object.keys(b.releases)])) {
    releases[version] = mergeSamples(a.releases[version], b.releases[version])
  }
  const instances: Record<string, number> = {}
  for (const version of new Set([...Object.keys(a.instances), ...Object.keys(b.instances)])) {
    instances[version] = Math.max(a.instances[version] ?? 0, b.instances[version] ?? 0)
  }
  return { t: b.t, releases, instances }
}

function mergeSamples(a: ReleaseSample | undefined, b: ReleaseSample | undefined): ReleaseSample {
  if (a === undefined || b === undefined) return (a ?? b)!
  const requests = a.requests + b.requests
  const p50 = requests === 0 ? Math.max(a.p50_ms, b.p50_ms) : (a.p50_ms * a.requests + b.p50_ms * b.requests) / requests
  return { requests, errors: a.errors + b.errors, p50_ms: p50, p99_ms: Math.max(a.p99_ms, b.p99_ms) }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
