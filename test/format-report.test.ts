import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { phaseLatency, releaseTotals, summarize } from '../src/deploy/deployment-summary.js'
import { formatDuration, formatHistory, formatReport } from '../src/deploy/format-report.js'
import { T0, point, sample, sampleRecord } from './helpers/deployment-fixtures.js'

describe('summarize', () => {
  it('adds up the timeline: duration, requests, errors, peak and extra instances', () => {
    assert.deepEqual(summarize(sampleRecord()), {
      duration_ms: 4000,
      requests: 400,
      errors: 1,
      peak_instances: 3,
      extra_instances: 1,
      extra_instance_seconds: 2,
    })
  })

  it('weighs merged and partial points by the time they stand for', () => {
    const timeline = [
      point(1, {}, { v1: 2 }),
      point(3, {}, { v1: 2, v2: 2 }), // a merged point: two seconds at +2
      point(3.5, {}, { v1: 2, v2: 1 }), // the final partial half second at +1
    ]
    assert.equal(summarize(sampleRecord({ timeline })).extra_instance_seconds, 4.5)
  })

  it('measures a running deployment up to the latest moment it knows of, and an empty one as zero', () => {
    const running = sampleRecord({ status: 'running', ended_at: undefined, steps: [{ kind: 'start', detail: 'x', started_at: T0 + 9000 }] })
    assert.equal(summarize(running).duration_ms, 9000)
    assert.deepEqual(summarize(sampleRecord({ timeline: [], steps: [], ended_at: undefined })), {
      duration_ms: 0,
      requests: 0,
      errors: 0,
      peak_instances: 0,
      extra_instances: 0,
      extra_instance_seconds: 0,
    })
  })

  it('gives requests, errors and share per release in order of appearance', () => {
    assert.deepEqual(releaseTotals(sampleRecord()), [
      { version: 'v1', requests: 250, errors: 0, share_of_requests: 0.625 },
      { version: 'v2', requests: 150, errors: 1, share_of_requests: 0.375 },
    ])
    assert.deepEqual(releaseTotals(sampleRecord({ timeline: [point(1, { v1: sample(0) }, {})] })), [
      { version: 'v1', requests: 0, errors: 0, share_of_requests: 0 },
    ])
  })

  it('gives request-weighted p50/p99 per step from the seconds that overlap it', () => {
    const record = sampleRecord()
    record.steps.push({ kind: 'hook', detail: 'after', started_at: T0 + 3200, ended_at: T0 + 3300, result: 'ok' })
    record.steps.push({ kind: 'stop', detail: 'still running', started_at: T0 + 3500 })
    assert.deepEqual(phaseLatency(record), [
      { step: 0, kind: 'start', detail: 'start app-v2-1', requests: 200, p50_ms: 5, p99_ms: 20 },
      { step: 1, kind: 'drain', detail: 'drain app-v1-1', requests: 200, p50_ms: 8.75, p99_ms: 35 },
      { step: 2, kind: 'hook', detail: 'after', requests: 100, p50_ms: 10, p99_ms: 40 },
      { step: 3, kind: 'stop', detail: 'still running', requests: 100, p50_ms: 10, p99_ms: 40 },
    ])
  })
})

/** Column where `word` starts in each of `lines` (the ones containing it). */
const columnsOf = (lines: string[], word: RegExp) => lines.map((l) => l.search(word))

describe('formatReport', () => {
  it('shows the header, the steps with offsets and latency, the summary and the releases', () => {
    const record = sampleRecord({ summary: summarize(sampleRecord()) })
    record.steps[1] = { ...record.steps[1]!, result: 'failed', error: 'drain timeout' }
    const text = formatReport(record)
    const lines = text.split('\n')
    assert.equal(lines[0], 'Deployment app-20261121-213000-a3f')
    assert.match(text, /^ {2}service +app$/m)
    assert.match(text, /^ {2}release +v1 → v2$/m)
    assert.match(text, /^ {2}status +succeeded$/m)
    assert.match(text, /^ {2}started +2026-11-21 21:30:00Z$/m)
    assert.match(text, /^ {2}duration +4\.0 s$/m)

    const steps = lines.slice(lines.indexOf('Steps') + 1, lines.indexOf('Steps') + 4)
    assert.match(steps[0]!, /#\s+start\s+duration\s+result\s+p50\s+p99\s+kind\s+detail/)
    assert.match(steps[1]!, /1\s+\+0\.0 s\s+2\.0 s\s+ok\s+5 ms\s+20 ms\s+start\s+start app-v2-1$/)
    assert.match(steps[2]!, /2\s+\+2\.0 s\s+2\.0 s\s+failed\s+8\.8 ms\s+35 ms\s+drain\s+drain app-v1-1: drain timeout$/)
    assert.equal(new Set(columnsOf(steps, /(kind|start|drain) +(detail|start app|drain app)/)).size, 1, 'the kind column is aligned')

    assert.match(text, /^ {2}requests +400$/m)
    assert.match(text, /^ {2}errors +1$/m)
    assert.match(text, /^ {2}peak instances +3$/m)
    assert.match(text, /^ {2}extra instances +1$/m)
    assert.match(text, /^ {2}extra instance-seconds +2$/m)
    assert.match(text, /^ {2}version +requests +errors +share$/m)
    assert.match(text, /^ {2}v1 +250 +0 +62\.5%$/m)
    assert.match(text, /^ {2}v2 +150 +1 +37\.5%$/m)
  })

  it('shows a running deployment, its error, and no steps or traffic yet', () => {
    const text = formatReport(sampleRecord({ status: 'running', ended_at: undefined, steps: [], timeline: [], error: 'waiting' }))
    assert.match(text, /duration +0 ms \(not ended\)/)
    assert.match(text, /^ {2}error +waiting$/m)
    assert.match(text, /Steps\n {2}\(none\)/)
    assert.match(text, /Releases\n {2}\(no traffic recorded\)/)
  })
})

describe('formatHistory', () => {
  it('prints one aligned line per deployment', () => {
    const records = [
      sampleRecord({ id: 'app-20261121-220000-b01', from: 'v2', to: 'v10', strategy: 'bluegreen', status: 'failed', started_at: T0 + 1_800_000, ended_at: T0 + 1_925_000 }),
      sampleRecord(),
      sampleRecord({ id: 'app-20261121-200000-c02', from: undefined, to: 'v1', status: 'interrupted', ended_at: undefined, started_at: T0 - 5_400_000 }),
    ]
    const lines = formatHistory(records).trimEnd().split('\n')
    assert.equal(lines.length, 4)
    assert.match(lines[0]!, /^ID\s+RELEASE\s+STRATEGY\s+STATUS\s+STARTED\s+DURATION$/)
    assert.match(lines[1]!, /^app-20261121-220000-b01\s+v2 → v10\s+bluegreen\s+failed\s+2026-11-21 22:00:00Z\s+2 min 5 s$/)
    assert.match(lines[2]!, /^app-20261121-213000-a3f\s+v1 → v2\s+rolling\s+succeeded\s+2026-11-21 21:30:00Z\s+4\.0 s$/)
    assert.match(lines[3]!, /^app-20261121-200000-c02\s+v1\s+rolling\s+interrupted\s+2026-11-21 20:00:00Z/)
    assert.equal(new Set(columnsOf(lines, /STATUS|failed|succeeded|interrupted/)).size, 1)
    assert.equal(new Set(lines.map((l) => l.length)).size, 1, 'durations are right-aligned')
  })

  it('says so when there are none', () => {
    assert.equal(formatHistory([]), 'No deployments yet.\n')
  })
})

describe('formatDuration', () => {
  it('reads well at every scale', () => {
    const cases: [number, string][] = [
      [0, '0 ms'],
      [850, '850 ms'],
      [1000, '1.0 s'],
      [9_990, '9.9 s'],
      [42_000, '42 s'],
      [185_000, '3 min 5 s'],
      [180_000, '3 min'],
      [7_800_000, '2 h 10 min'],
      [7_200_000, '2 h'],
    ]
    for (const [ms, text] of cases) assert.equal(formatDuration(ms), text)
  })
})
