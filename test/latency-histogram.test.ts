import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  LATENCY_BUCKET_BOUNDS_MS,
  LATENCY_BUCKET_COUNT,
  LatencyHistogram,
  emptySnapshot,
  quantileOfDifference,
  snapshotQuantile,
  subtractSnapshots,
} from '../src/metrics/latency-histogram.js'

const bounds = LATENCY_BUCKET_BOUNDS_MS
const last = bounds[bounds.length - 1]!

/** The bucket a value belongs in, by a plain scan of the exported bounds. */
function expectedBound(ms: number): number {
  return bounds.find((b) => ms <= b) ?? last
}

function single(ms: number): number {
  const h = new LatencyHistogram()
  h.record(ms)
  return h.quantile(1)
}

describe('LatencyHistogram', () => {
  it('has log-spaced bounds from 0.1 ms to at least 60 s, each about 5% above the previous', () => {
    assert.equal(bounds[0], 0.1)
    assert.ok(last >= 60_000 && last < 70_000)
    assert.equal(LATENCY_BUCKET_COUNT, bounds.length + 1)
    for (let i = 1; i < bounds.length; i++) {
      const ratio = bounds[i]! / bounds[i - 1]!
      assert.ok(ratio > 1.04 && ratio < 1.06, `bounds ${bounds[i - 1]} -> ${bounds[i]}`)
    }
    assert.ok(Object.isFrozen(bounds))
  })

  it('puts every value in the bucket whose bound is the first at or above it', () => {
    for (const b of bounds) {
      assert.equal(single(b), b, `exactly ${b}`)
      assert.equal(single(b * 1.000001), expectedBound(b * 1.000001), `just above ${b}`)
    }
    for (let i = 0; i < 5000; i++) {
      const ms = Math.exp(Math.log(0.05) + Math.random() * Math.log(2_000_000))
      assert.equal(single(ms), expectedBound(ms), `value ${ms}`)
    }
  })

  it('is 0 when empty, counts, sums, and reports quantiles within 5% above the true value', () => {
    const h = new LatencyHistogram()
    assert.equal(h.quantile(0.5), 0)
    for (let ms = 1; ms <= 1000; ms++) h.record(ms)
    assert.equal(h.count, 1000)
    assert.equal(h.sum, 500_500)
    for (const [q, truth] of [[0.5, 500], [0.99, 990], [0, 1], [1, 1000]] as const) {
      const got = h.quantile(q)
      assert.ok(got >= truth && got <= truth * 1.05, `q${q}: ${got}`)
    }
  })

  it('puts zero, negative and NaN latencies in the first bucket without spoiling the sum', () => {
    const h = new LatencyHistogram()
    h.record(0)
    h.record(-3)
    h.record(Number.NaN)
    assert.equal(h.count, 3)
    assert.equal(h.sum, 0)
    assert.equal(h.quantile(1), 0.1)
  })

  it('reports latencies above the last bound as the last bound', () => {
    assert.equal(single(10 * 60_000), last)
  })

  it('snapshots are copies', () => {
    const h = new LatencyHistogram()
    h.record(5)
    const s = h.snapshot()
    h.record(500)
    assert.equal(s.count, 1)
    assert.equal(snapshotQuantile(s, 1), expectedBound(5))
    assert.equal(h.count, 2)
  })

  it('gives the quantile of what was recorded between two snapshots', () => {
    const h = new LatencyHistogram()
    for (let i = 0; i < 1000; i++) h.record(1)
    const before = h.snapshot()
    for (let i = 0; i < 100; i++) h.record(200)
    const after = h.snapshot()
    assert.equal(quantileOfDifference(after, before, 0.5), expectedBound(200))
    assert.equal(quantileOfDifference(after, before, 0.99), expectedBound(200))
    assert.equal(snapshotQuantile(after, 0.5), expectedBound(1))
    assert.equal(quantileOfDifference(after, after, 0.99), 0)
    assert.equal(quantileOfDifference(after, emptySnapshot(), 0.5), expectedBound(1))
    const diff = subtractSnapshots(after, before)
    assert.equal(diff.count, 100)
    assert.equal(diff.sum, 20_000)
    assert.equal(snapshotQuantile(diff, 0.5), expectedBound(200))
  })

  it('counts buckets that went down (a replaced histogram) as zero', () => {
    const old = new LatencyHistogram()
    for (let i = 0; i < 10; i++) old.record(50)
    const fresh = new LatencyHistogram()
    fresh.record(2)
    assert.equal(quantileOfDifference(fresh.snapshot(), old.snapshot(), 0.99), expectedBound(2))
    assert.equal(subtractSnapshots(fresh.snapshot(), old.snapshot()).count, 1)
  })

  it('merges histograms and snapshots', () => {
    const a = new LatencyHistogram()
    const b = new LatencyHistogram()
    for (let i = 0; i < 90; i++) a.record(1)
    for (let i = 0; i < 10; i++) b.record(1000)
    const merged = new LatencyHistogram()
    merged.merge(a)
    merged.merge(b.snapshot())
    assert.equal(merged.count, 100)
    assert.equal(merged.sum, 90 + 10_000)
    assert.equal(merged.quantile(0.5), expectedBound(1))
    assert.equal(merged.quantile(0.95), expectedBound(1000))
  })
})
