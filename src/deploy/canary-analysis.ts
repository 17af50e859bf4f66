import { emptySnapshot, snapshotQuantile, subtractSnapshots, type HistogramSnapshot } from '../metrics/latency-histogram.js'
import type { ReleaseCounters } from './timeline-recorder.js'

/** The traffic of one release during one analysis window. */
export interface WindowStats {
  readonly requests: number
  readonly errors: number
  readonly latency: HistogramSnapshot
}

/**
 * The traffic between two cumulative samples of one release (`earlier` undefined: since the counters started).
 * When any counter went backwards the counters were replaced (e.g. the release was registered again), and what they
 * hold now covers an unknown span of time, so the window counts as empty: that is "not enough data", never a failure.
 */
export function windowBetween(later: ReleaseCounters, earlier: ReleaseCounters | undefined): WindowStats {
  if (earlier === undefined) return bounded(later.requests, later.errors, later.latency)
  const replaced = later.requests < earlier.requests || later.errors < earlier.errors || later.latency.count < earlier.latency.count
  if (replaced) return { requests: 0, errors: 0, latency: emptySnapshot() }
  return bounded(later.requests - earlier.requests, later.errors - earlier.errors, subtractSnapshots(later.latency, earlier.latency))
}

// Samples of the two counters are not atomic, so a window may see an error whose request lands in the next one.
function bounded(requests: number, errors: number, latency: HistogramSnapshot): WindowStats {
  return { requests, errors: Math.min(errors, requests), latency }
}

export interface AnalysisSettings {
  /** Canary requests needed in a window to judge it; with fewer the window is "not enough data". */
  readonly minRequests: number
  /** Absolute limit on the canary's error rate, 0..1. */
  readonly maxErrorRate: number
  /** The canary's error rate minus the stable's may not exceed this (0..1, i.e. 0.02 = 2 percentage points). */
  readonly maxErrorRateIncrease: number
  /** The latency percentile judged, 0..100 (e.g. 99 for p99). */
  readonly percentile: number
  /** Absolute limit on the canary's percentile in ms; undefined for none. */
  readonly maxLatencyMs: number | undefined
  /** The canary's percentile may not exceed this multiple of the stable's ... */
  readonly maxLatencyRatio: number
  /** ... unless the two differ by less than this many ms (sub-millisecond noise must not fail a canary). */
  readonly minLatencyDifferenceMs: number
}

export const ANALYSIS_DEFAULTS: AnalysisSettings = Object.freeze({
  minRequests: 50,
  maxErrorRate: 0.05,
  maxErrorRateIncrease: 0.02,
  percentile: 99,
  maxLatencyMs: undefined,
  maxLatencyRatio: 1.5,
  minLatencyDifferenceMs: 5,
})

export type Verdict =
  | { readonly kind: 'pass'; readonly summary: string }
  | { readonly kind: 'fail'; readonly reasons: readonly string[] }
  | { readonly kind: 'insufficient'; readonly summary: string }

// Rates are quotients of counts: 7/100 - 5/100 is 0.020000000000000004, which must not exceed a limit of 0.02.
const RATE_TOLERANCE = 1e-9

/**
 * Judges one window of a canary against the stable release's same window. Rules relative to stable need the
 * stable to have had minRequests requests as well: a handful of stable requests gives no baseline worth failing on.
 */
export function judgeWindow(canary: WindowStats, stable: WindowStats, settings: AnalysisSettings): Verdict {
  const needed = Math.max(1, settings.minRequests)
  if (canary.requests < needed) return { kind: 'insufficient', summary: `${canary.requests} canary requests < ${needed}: not enough data` }
  const compared = stable.requests >= needed
  const reasons = [...errorRateProblems(canary, stable, compared, settings), ...latencyProblems(canary, stable, compared, settings)]
  if (reasons.length > 0) return { kind: 'fail', reasons }
  return { kind: 'pass', summary: passSummary(canary, stable, compared, settings) }
}

function errorRateProblems(canary: WindowStats, stable: WindowStats, compared: boolean, s: AnalysisSettings): string[] {
  const rate = canary.errors / canary.requests
  if (rate > s.maxErrorRate + RATE_TOLERANCE) return [`error rate ${percent(rate)} > ${percent(s.maxErrorRate)}`]
  if (!compared) return []
  const stableRate = stable.errors / stable.requests
  if (rate - stableRate > s.maxErrorRateIncrease + RATE_TOLERANCE) {
    return [`error rate ${percent(rate)} > stable ${percent(stableRate)} + ${points(s.maxErrorRateIncrease)}`]
  }
  return []
}

function latencyProblems(canary: WindowStats, stable: WindowStats, compared: boolean, s: AnalysisSettings): string[] {
  const name = `p${s.percentile}`
  const value = snapshotQuantile(canary.latency, s.percentile / 100)
  if (s.maxLatencyMs !== undefined && value > s.maxLatencyMs) return [`${name} ${ms(value)} > ${ms(s.maxLatencyMs)}`]
  if (!compared || stable.latency.count === 0) return []
  const base = snapshotQuantile(stable.latency, s.percentile / 100)
  if (value > s.maxLatencyRatio * base && value - base >= s.minLatencyDifferenceMs) {
    return [`${name} ${ms(value)} > ${s.maxLatencyRatio} x stable ${ms(base)}`]
  }
  return []
}

function passSummary(canary: WindowStats, stable: WindowStats, compared: boolean, s: AnalysisSettings): string {
  const q = s.percentile / 100
  const rate = `error rate ${percent(canary.errors / canary.requests)}`
  const latency = `p${s.percentile} ${ms(snapshotQuantile(canary.latency, q))}`
  if (!compared) return `${canary.requests} canary requests: ${rate}, ${latency} (stable: ${stable.requests} requests, not compared)`
  const stableRate = percent(stable.errors / stable.requests)
  return `${canary.requests} canary requests: ${rate} (stable ${stableRate}), ${latency} (stable ${ms(snapshotQuantile(stable.latency, q))})`
}

/** 0.2 -> "20.0%"; tiny non-zero rates keep two significant digits rather than showing as "0.0%". */
function percent(rate: number): string {
  const value = rate * 100
  return `${value > 0 && value < 0.05 ? value.toPrecision(2) : value.toFixed(1)}%`
}

function points(rate: number): string {
  return `${(rate * 100).toFixed(1)} points`
}

/** Whole ms from 10 ms up (bucket bounds are only 5% exact anyway), two significant digits below. */
function ms(value: number): string {
  return `${value >= 10 ? Math.round(value) : Number(value.toPrecision(2))} ms`
}

export interface JudgedWindow {
  /** Epoch ms at which the window was judged. */
  readonly at: number
  readonly verdict: Verdict
}

const MAX_KEPT_WINDOWS = 1000

/**
 * Decides a canary from its windows: failureLimit consecutive failing windows abort it. A passing window resets
 * the streak; "not enough data" neither counts nor resets, so quiet periods can neither abort a canary nor hide
 * failures on both sides of them. Once aborted, it stays aborted.
 */
export class CanaryJudge {
  private readonly kept: JudgedWindow[] = []
  private streak = 0
  private decided = false

  constructor(
    readonly settings: AnalysisSettings,
    readonly failureLimit: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The judged windows, oldest first; only the latest 1,000 are kept. */
  get windows(): ReadonlyArray<JudgedWindow> {
    return this.kept
  }

  /** Consecutive failing windows so far. */
  get failures(): number {
    return this.streak
  }

  get aborted(): boolean {
    return this.decided
  }

  observe(verdict: Verdict, at: number = this.now()): 'continue' | 'abort' {
    this.kept.push({ at, verdict })
    if (this.kept.length > MAX_KEPT_WINDOWS) this.kept.shift()
    if (verdict.kind === 'fail') this.streak++
    else if (verdict.kind === 'pass') this.streak = 0
    if (this.streak >= Math.max(1, this.failureLimit)) this.decided = true
    return this.decided ? 'abort' : 'continue'
  }

  /** judgeWindow with this judge's settings, then observe. */
  judge(canary: WindowStats, stable: WindowStats, at?: number): { verdict: Verdict; decision: 'continue' | 'abort' } {
    const verdict = judgeWindow(canary, stable, this.settings)
    return { verdict, decision: this.observe(verdict, at) }
  }
}
