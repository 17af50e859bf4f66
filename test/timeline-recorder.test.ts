import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { TimelinePoint } from '../src/deploy/deployment-record.js'
import { summarize } from '../src/deploy/deployment-summary.js'
import { TimelineRecorder, compactTimeline, type ReleaseCounters, type TrafficSource } from '../src/deploy/timeline-recorder.js'
import { LATENCY_BUCKET_BOUNDS_MS, LatencyHistogram } from '../src/metrics/latency-histogram.js'
import { FakeMonitorClock } from './helpers/fake-monitor-clock.js'
import { sampleRecord } from './helpers/deployment-fixtures.js'
import { waitFor } from './helpers/wait.js'

const bucket = (ms: number) => LATENCY_BUCKET_BOUNDS_MS.find((b) => ms <= b)!

/** Cumulative counters per release, as the balancer would keep them. */
class FakeTraffic implements TrafficSource {
  readonly releases = new Map<string, { requests: number; errors: number; latency: LatencyHistogram }>()
  instances: Record<string, number> = {}
  failNext = false

  serve(version: string, requests: number, ms: number, errors = 0): void {
    let r = this.releases.get(version)
    if (r === undefined) this.releases.set(version, (r = { requests: 0, errors: 0, latency: new LatencyHistogram() }))
    r.requests += requests
    r.errors += errors
    for (let i = 0; i < requests; i++) r.latency.record(ms)
  }

  sample(): { releases: Record<string, ReleaseCounters>; instances: Record<string, number> } {
    if (this.failNext) {
      this.failNext = false
      throw new Error('source unavailable')
    }
    const releases: Record<string, ReleaseCounters> = {}
    for (const [v, r] of this.releases) releases[v] = { requests: r.requests, errors: r.errors, latency: r.latency.snapshot() }
    return { releases, instances: { ...this.instances } }
  }
}

function setup(options: { maxPoints?: number } = {}) {
  const clock = new FakeMonitorClock()
  const traffic = new FakeTraffic()
  const timeline: TimelinePoint[] = []
  const seen: TimelinePoint[] = []
  const problems: string[] = []
  const recorder = new TimelineRecorder({
    source: traffic,
    timeline,
    clock,
    onPoint: (p) => seen.push(p),
    onProblem: (m) => problems.push(m),
    ...options,
  })
  return { clock, traffic, timeline, seen, problems, recorder }
}

describe('TimelineRecorder', () => {
  it('appends one point per second with that second’s requests, errors, percentiles and instances', async () => {
    const { clock, traffic, timeline, seen, recorder } = setup()
    traffic.serve('v1', 1000, 3) // before the start: not part of the deployment
    traffic.instances = { v1: 2 }
    recorder.start()
    traffic.serve('v1', 90, 2)
    traffic.serve('v1', 10, 300, 4)
    await clock.advance(1000)
    assert.equal(timeline.length, 1)
    assert.deepEqual(timeline[0], { t: 1, releases: { v1: { requests: 100, errors: 4, p50_ms: bucket(2), p99_ms: bucket(300) } }, instances: { v1: 2 } })
    assert.deepEqual(seen, timeline)

    traffic.instances = { v1: 2, v2: 1 }
    await clock.advance(1000)
    assert.deepEqual(timeline[1], { t: 2, releases: { v1: { requests: 0, errors: 0, p50_ms: 0, p99_ms: 0 } }, instances: { v1: 2, v2: 1 } })
    recorder.stop()
  })

  it('starts a release that appears later from zero', async () => {
    const { clock, traffic, timeline, recorder } = setup()
    traffic.serve('v1', 10, 1)
    recorder.start()
    await clock.advance(1000)
    traffic.serve('v2', 7, 40, 1)
    await clock.advance(1000)
    assert.deepEqual(timeline[1]!.releases.v2, { requests: 7, errors: 1, p50_ms: bucket(40), p99_ms: bucket(40) })
    recorder.stop()
  })

  it('treats counters that went down (replaced) as starting from zero', async () => {
    const { clock, traffic, timeline, recorder } = setup()
    traffic.serve('v1', 50, 1)
    recorder.start()
    traffic.releases.delete('v1')
    traffic.serve('v1', 5, 8)
    await clock.advance(1000)
    assert.deepEqual(timeline[0]!.releases.v1, { requests: 5, errors: 0, p50_ms: bucket(8), p99_ms: bucket(8) })
    recorder.stop()
  })

  it('takes a final partial point on stop and leaves no timer behind', async () => {
    const { clock, traffic, timeline, recorder } = setup()
    recorder.start()
    await clock.advance(1000)
    traffic.serve('v1', 3, 1)
    await clock.advance(500)
    recorder.stop()
    assert.equal(clock.pending, 0)
    assert.deepEqual(timeline.map((p) => p.t), [1, 1.5])
    assert.equal(timeline[1]!.releases.v1!.requests, 3)
    await clock.advance(5000)
    assert.equal(timeline.length, 2)
    assert.equal(recorder.running, false)
  })

  it('adds no empty point when stopped right after a tick', async () => {
    const { clock, timeline, recorder } = setup()
    recorder.start()
    await clock.advance(2000)
    recorder.stop()
    assert.deepEqual(timeline.map((p) => p.t), [1, 2])
  })

  it('keeps its cadence and reports a failing source without stopping', async () => {
    const { clock, traffic, timeline, problems, recorder } = setup()
    recorder.start()
    await clock.advance(1000)
    traffic.failNext = true
    traffic.serve('v1', 4, 1)
    await clock.advance(2000)
    recorder.stop()
    assert.deepEqual(timeline.map((p) => p.t), [1, 3])
    assert.equal(timeline[1]!.releases.v1!.requests, 4, 'the skipped second is included in the next point')
    assert.match(problems[0]!, /source unavailable/)
  })

  it('bounds the timeline by merging old points, keeping totals, the first point and the peak', async () => {
    const { clock, traffic, timeline, recorder } = setup({ maxPoints: 20 })
    traffic.instances = { v1: 2 }
    recorder.start()
    for (let s = 1; s <= 100; s++) {
      traffic.serve('v1', 10, s === 30 ? 900 : 5)
      traffic.instances = s === 30 ? { v1: 2, v2: 3 } : { v1: 2 }
      await clock.advance(1000)
    }
    recorder.stop()
    assert.ok(timeline.length <= 20, `${timeline.length} points`)
    assert.equal(timeline[0]!.t, 1)
    assert.equal(timeline[timeline.length - 1]!.t, 100)
    for (let i = 1; i < timeline.length; i++) assert.ok(timeline[i]!.t > timeline[i - 1]!.t)
    const requests = timeline.reduce((n, p) => n + p.releases.v1!.requests, 0)
    assert.equal(requests, 1000)
    const summary = summarize({ ...sampleRecord(), started_at: 0, ended_at: 100_000, steps: [], timeline })
    assert.equal(summary.peak_instances, 5)
    assert.ok(Math.max(...timeline.map((p) => p.releases.v1!.p99_ms)) >= 900, 'the slow second survives as an upper bound')
  })

  it('samples on real timers too', async () => {
    const timeline: TimelinePoint[] = []
    const traffic = new FakeTraffic()
    const recorder = new TimelineRecorder({ source: traffic, timeline, intervalMs: 10 })
    recorder.start()
    await waitFor('three points', () => (timeline.length >= 3 ? true : undefined))
    recorder.stop()
  })
})

describe('compactTimeline', () => {
  it('merges the older half pairwise: sums, weighted p50, max p99, max instances, later time', () => {
    const p = (t: number, requests: number, p50: number, p99: number, v2: number): TimelinePoint => ({
      t,
      releases: { v1: { requests, errors: 1, p50_ms: p50, p99_ms: p99 } },
      instances: { v1: 2, v2 },
    })
    const timeline = [p(1, 1, 1, 1, 0), p(2, 10, 10, 30, 0), p(3, 30, 20, 10, 1), p(4, 5, 5, 5, 0), p(5, 5, 5, 5, 0), p(6, 5, 5, 5, 0)]
    compactTimeline(timeline)
    assert.deepEqual(timeline.map((x) => x.t), [1, 3, 4, 5, 6])
    assert.deepEqual(timeline[1], { t: 3, releases: { v1: { requests: 40, errors: 2, p50_ms: 17.5, p99_ms: 30 } }, instances: { v1: 2, v2: 1 } })
  })
})
