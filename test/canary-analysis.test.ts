import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ANALYSIS_DEFAULTS, CanaryJudge, judgeWindow, windowBetween, type AnalysisSettings, type Verdict, type WindowStats } from '../src/deploy/canary-analysis.js'
import type { ReleaseCounters } from '../src/deploy/timeline-recorder.js'
import { LATENCY_BUCKET_BOUNDS_MS, LatencyHistogram, snapshotQuantile } from '../src/metrics/latency-histogram.js'

/** The value a histogram reports for `ms`: the upper bound of its bucket. */
const bucket = (ms: number) => LATENCY_BUCKET_BOUNDS_MS.find((b) => ms <= b)!

/** A window of `requests` requests, `errors` of them failed, each taking `ms` (a number, or by index). */
function traffic(requests: number, errors: number, ms: number | ((i: number) => number)): WindowStats {
  const h = new LatencyHistogram()
  for (let i = 0; i < requests; i++) h.record(typeof ms === 'number' ? ms : ms(i))
  return { requests, errors, latency: h.snapshot() }
}

const settings = (overrides: Partial<AnalysisSettings> = {}): AnalysisSettings => ({ ...ANALYSIS_DEFAULTS, ...overrides })
const fail = (...reasons: string[]): Verdict => ({ kind: 'fail', reasons })

describe('judgeWindow', () => {
  const stable = traffic(2000, 0, 20)
  const cases: { name: string; canary: WindowStats; stable?: WindowStats; settings?: Partial<AnalysisSettings>; kind: Verdict['kind']; reasons?: string[] }[] = [
    { name: 'a canary failing 20% of requests fails', canary: traffic(200, 40, 20), kind: 'fail', reasons: ['error rate 20.0% > 5.0%'] },
    { name: 'a good canary passes', canary: traffic(200, 1, 20), kind: 'pass' },
    { name: 'a canary at exactly the error limit passes', canary: traffic(100, 5, 20), stable: traffic(100, 3, 20), kind: 'pass' },
    { name: 'twice the stable latency fails the ratio rule', canary: traffic(200, 0, 40), kind: 'fail', reasons: [`p99 ${Math.round(bucket(40))} ms > 1.5 x stable ${Math.round(bucket(20))} ms`] },
    { name: 'sub-ms noise below the floor passes though 3x', canary: traffic(200, 0, 0.9), stable: traffic(2000, 0, 0.3), kind: 'pass' },
    { name: 'a 4 ms difference at 2x passes under the 5 ms floor', canary: traffic(200, 0, 8), stable: traffic(2000, 0, 4), kind: 'pass' },
    { name: 'the floor is configurable', canary: traffic(200, 0, 8), stable: traffic(2000, 0, 4), settings: { minLatencyDifferenceMs: 1 }, kind: 'fail' },
    { name: 'an absolute latency limit fails even when stable is as slow', canary: traffic(200, 0, 150), stable: traffic(2000, 0, 150), settings: { maxLatencyMs: 100 }, kind: 'fail', reasons: [`p99 ${Math.round(bucket(150))} ms > 100 ms`] },
    { name: 'under the absolute latency limit passes', canary: traffic(200, 0, 80), stable: traffic(2000, 0, 80), settings: { maxLatencyMs: 100 }, kind: 'pass' },
    { name: 'the judged percentile is configurable', canary: traffic(200, 0, (i) => (i < 10 ? 500 : 20)), settings: { percentile: 50 }, kind: 'pass' },
    { name: 'a slow 5% tail fails p99', canary: traffic(200, 0, (i) => (i < 10 ? 500 : 20)), kind: 'fail', reasons: [`p99 ${Math.round(bucket(500))} ms > 1.5 x stable ${Math.round(bucket(20))} ms`] },
    { name: 'both rules fail together', canary: traffic(200, 40, 40), kind: 'fail', reasons: ['error rate 20.0% > 5.0%', `p99 ${Math.round(bucket(40))} ms > 1.5 x stable ${Math.round(bucket(20))} ms`] },
    // Stable errors raise the bar by maxErrorRateIncrease only, and never above maxErrorRate.
    { name: 'canary 4.5% vs stable 3% passes', canary: traffic(200, 9, 20), stable: traffic(2000, 60, 20), kind: 'pass' },
    { name: 'canary 4.5% vs stable 2% fails the increase', canary: traffic(200, 9, 20), stable: traffic(2000, 40, 20), kind: 'fail', reasons: ['error rate 4.5% > stable 2.0% + 2.0 points'] },
    { name: 'canary 7% vs stable 5% is exactly the increase: passes', canary: traffic(100, 7, 20), stable: traffic(100, 5, 20), settings: { maxErrorRate: 0.1 }, kind: 'pass' },
    { name: 'canary 6% vs stable 10% still fails the absolute rule', canary: traffic(200, 12, 20), stable: traffic(2000, 200, 20), kind: 'fail', reasons: ['error rate 6.0% > 5.0%'] },
    // Without a stable baseline only the absolute rules apply.
    { name: 'no stable traffic: 4% errors and 10x latency pass', canary: traffic(200, 8, 200), stable: traffic(0, 0, 0), kind: 'pass' },
    { name: 'no stable traffic: the absolute rules still fail', canary: traffic(200, 20, 200), stable: traffic(0, 0, 0), settings: { maxLatencyMs: 100 }, kind: 'fail', reasons: ['error rate 10.0% > 5.0%', `p99 ${Math.round(bucket(200))} ms > 100 ms`] },
    { name: 'too little stable traffic is no baseline', canary: traffic(200, 8, 200), stable: traffic(10, 0, 20), kind: 'pass' },
    { name: '12 requests all failing are not enough data', canary: traffic(12, 12, 900), kind: 'insufficient' },
    { name: 'no canary requests with minRequests 0 are not enough data', canary: traffic(0, 0, 0), settings: { minRequests: 0 }, kind: 'insufficient' },
  ]
  for (const c of cases) {
    it(c.name, () => {
      const verdict = judgeWindow(c.canary, c.stable ?? stable, settings(c.settings))
      assert.equal(verdict.kind, c.kind, JSON.stringify(verdict))
      if (c.reasons !== undefined) assert.deepEqual(verdict, fail(...c.reasons))
    })
  }

  it('says why a window is not judged and what a passing one measured', () => {
    assert.deepEqual(judgeWindow(traffic(12, 0, 20), stable, ANALYSIS_DEFAULTS), { kind: 'insufficient', summary: '12 canary requests < 50: not enough data' })
    const r = Math.round(bucket(20))
    assert.deepEqual(judgeWindow(traffic(200, 1, 20), traffic(2000, 2, 20), ANALYSIS_DEFAULTS), {
      kind: 'pass',
      summary: `200 canary requests: error rate 0.5% (stable 0.1%), p99 ${r} ms (stable ${r} ms)`,
    })
    assert.deepEqual(judgeWindow(traffic(200, 0, 0.5), traffic(0, 0, 0), ANALYSIS_DEFAULTS), {
      kind: 'pass',
      summary: `200 canary requests: error rate 0.0%, p99 ${Number(bucket(0.5).toPrecision(2))} ms (stable: 0 requests, not compared)`,
    })
  })
})

describe('CanaryJudge', () => {
  const pass: Verdict = { kind: 'pass', summary: 'ok' }
  const bad: Verdict = fail('error rate 20.0% > 5.0%')
  const quiet: Verdict = { kind: 'insufficient', summary: '3 canary requests < 50: not enough data' }

  it('aborts on failureLimit consecutive failures; a pass resets the streak, not enough data does not', () => {
    const judge = new CanaryJudge(ANALYSIS_DEFAULTS, 3)
    const decisions = [bad, bad, pass, bad, quiet, bad, quiet, quiet].map((v) => judge.observe(v))
    assert.deepEqual(decisions, Array(8).fill('continue'))
    assert.equal(judge.failures, 2)
    assert.equal(judge.observe(bad), 'abort')
    assert.equal(judge.aborted, true)
    assert.equal(judge.observe(pass), 'abort', 'an abort is final')
  })

  it('never aborts on low traffic, even a failing canary over 100 windows', () => {
    const judge = new CanaryJudge(ANALYSIS_DEFAULTS, 1)
    for (let i = 0; i < 100; i++) {
      const { verdict, decision } = judge.judge(traffic(49, 49, 5000), traffic(2000, 0, 20), i * 1000)
      assert.equal(verdict.kind, 'insufficient')
      assert.equal(decision, 'continue')
    }
    assert.equal(judge.aborted, false)
  })

  it('judges with its settings and aborts a 20%-failing canary after failureLimit windows', () => {
    const judge = new CanaryJudge(settings({ minRequests: 100 }), 2)
    assert.equal(judge.judge(traffic(60, 12, 20), traffic(600, 0, 20)).decision, 'continue')
    assert.equal(judge.judge(traffic(150, 30, 20), traffic(1500, 0, 20)).decision, 'continue')
    assert.equal(judge.judge(traffic(150, 30, 20), traffic(1500, 0, 20)).decision, 'abort')
    assert.deepEqual(judge.windows.map((w) => w.verdict.kind), ['insufficient', 'fail', 'fail'])
  })

  it('keeps the windows with their time, at most 1,000', () => {
    let now = 5000
    const judge = new CanaryJudge(ANALYSIS_DEFAULTS, 3, () => now)
    judge.observe(quiet)
    now = 6000
    judge.observe(pass)
    judge.observe(bad, 6500)
    assert.deepEqual(judge.windows, [{ at: 5000, verdict: quiet }, { at: 6000, verdict: pass }, { at: 6500, verdict: bad }])
    for (let i = 0; i < 1200; i++) judge.observe(pass, 10_000 + i)
    assert.equal(judge.windows.length, 1000)
    assert.equal(judge.windows[0]!.at, 10_200)
    assert.equal(judge.windows[999]!.at, 11_199)
  })
})

describe('windowBetween', () => {
  /** Cumulative counters: the histogram keeps growing between samples, like the balancer's. */
  function counters() {
    const h = new LatencyHistogram()
    let requests = 0
    let errors = 0
    return {
      serve(n: number, failed: number, ms: number) {
        for (let i = 0; i < n; i++) h.record(ms)
        requests += n
        errors += failed
      },
      sample: (): ReleaseCounters => ({ requests, errors, latency: h.snapshot() }),
    }
  }

  it('is the traffic between two samples, with the latency of that window only', () => {
    const c = counters()
    c.serve(1000, 10, 5)
    const first = c.sample()
    c.serve(100, 7, 300)
    const w = windowBetween(c.sample(), first)
    assert.equal(w.requests, 100)
    assert.equal(w.errors, 7)
    assert.equal(w.latency.count, 100)
    assert.equal(snapshotQuantile(w.latency, 0.5), bucket(300), 'the fast earlier requests are not in the window')
  })

  it('counts from zero without an earlier sample', () => {
    const c = counters()
    c.serve(80, 2, 12)
    const w = windowBetween(c.sample(), undefined)
    assert.deepEqual([w.requests, w.errors, w.latency.count, snapshotQuantile(w.latency, 0.99)], [80, 2, 80, bucket(12)])
  })

  it('counts counters that went backwards (they were replaced) as an empty window', () => {
    const before = counters()
    before.serve(1000, 100, 20)
    const replaced = counters()
    replaced.serve(60, 60, 20)
    const w = windowBetween(replaced.sample(), before.sample())
    assert.deepEqual([w.requests, w.errors, w.latency.count], [0, 0, 0])
    assert.equal(judgeWindow(w, traffic(2000, 0, 20), ANALYSIS_DEFAULTS).kind, 'insufficient')
  })

  it('never reports more errors than requests in a window', () => {
    const w = windowBetween({ requests: 10, errors: 12, latency: traffic(10, 0, 1).latency }, undefined)
    assert.equal(w.errors, 10)
  })
})
