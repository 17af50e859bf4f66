import type { StrategyConfig } from '../config/schema.js'
import { emptySnapshot } from '../metrics/latency-histogram.js'
import { checkGate } from './analysis-gate.js'
import { ANALYSIS_DEFAULTS, CanaryJudge, judgeWindow, windowBetween, type AnalysisSettings, type Verdict } from './canary-analysis.js'
import type { ReleaseCounters, TrafficSource } from './timeline-recorder.js'
import { Wakeup } from './wakeup.js'

const TICK_MS = 50
const EMPTY: ReleaseCounters = { requests: 0, errors: 0, latency: emptySnapshot() }

/** The analysis settings of a strategy's `analysis:` section (defaults when absent). */
export function analysisSettings(strategy: StrategyConfig): { settings: AnalysisSettings; intervalMs: number; failureLimit: number; webhook: string | undefined } {
  const a = strategy.analysis
  if (a === undefined) return { settings: ANALYSIS_DEFAULTS, intervalMs: 10_000, failureLimit: 2, webhook: undefined }
  return {
    settings: {
      minRequests: a.min_requests,
      maxErrorRate: a.max_error_rate,
      maxErrorRateIncrease: a.max_error_rate_increase,
      percentile: a.percentile,
      maxLatencyMs: a.max_latency,
      maxLatencyRatio: a.max_latency_ratio,
      minLatencyDifferenceMs: a.min_latency_difference,
    },
    intervalMs: a.interval,
    failureLimit: a.failure_limit,
    webhook: a.webhook,
  }
}

/**
 * Watches a canary: every interval, the traffic of the new version and of the others during that window is
 * judged (and, when configured, a webhook gate is asked); `failure_limit` failing windows in a row reject.
 * Resolves with an account of the windows once `until()` says stop: `until` is asked every TICK_MS, and at once
 * when `wakeup` is woken (a promote).
 */
export async function watchCanary(
  source: TrafficSource,
  canary: string,
  strategy: StrategyConfig,
  until: () => boolean,
  signal: AbortSignal,
  onWindow: (verdict: Verdict) => void,
  wakeup: Wakeup = new Wakeup(),
): Promise<string> {
  const { settings, intervalMs, failureLimit, webhook } = analysisSettings(strategy)
  const judge = new CanaryJudge(settings, failureLimit)
  let before = split(source.sample().releases, canary)
  let windowStart = Date.now()
  const counts = { pass: 0, fail: 0, insufficient: 0 }
  while (!until()) {
    await wakeup.sleep(TICK_MS)
    if (until() || signal.aborted || Date.now() - windowStart < intervalMs) continue
    const now = split(source.sample().releases, canary)
    let verdict = judgeWindow(windowBetween(now.canary ?? EMPTY, before.canary), windowBetween(now.stable ?? EMPTY, before.stable), settings)
    if (verdict.kind === 'pass' && webhook !== undefined) {
      const gate = await checkGate(webhook, { canary, window_ms: intervalMs, summary: verdict.summary }, Math.min(intervalMs, 10_000))
      if (gate.kind === 'fail') verdict = gate
    }
    before = now
    windowStart = Date.now()
    counts[verdict.kind]++
    onWindow(verdict)
    if (judge.observe(verdict) === 'abort') {
      throw new Error(`canary analysis failed ${failureLimit} window(s) in a row: ${verdict.kind === 'fail' ? verdict.reasons.join('; ') : ''}`)
    }
  }
  return `${counts.pass} window(s) passed, ${counts.fail} failed, ${counts.insufficient} without enough data`
}

/** The canary's cumulative counters and the sum of every other version's (the stable side). */
function split(releases: Record<string, ReleaseCounters>, canary: string): { canary: ReleaseCounters | undefined; stable: ReleaseCounters | undefined } {
  let stable: ReleaseCounters | undefined
  for (const [release, counters] of Object.entries(releases)) {
    if (release === canary) continue
    stable = stable === undefined ? counters : sum(stable, counters)
  }
  return { canary: releases[canary], stable }
}

function sum(a: ReleaseCounters, b: ReleaseCounters): ReleaseCounters {
  const counts = Float64Array.from(a.latency.counts)
  for (let i = 0; i < counts.length; i++) counts[i]! += b.latency.counts[i]!
  return { requests: a.requests + b.requests, errors: a.errors + b.errors, latency: { counts, count: a.latency.count + b.latency.count, sum: a.latency.sum + b.latency.sum } }
}
