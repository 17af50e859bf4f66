/** What `deploy` shows while following a release: step lines, progress figures and the summary (pure parts). */
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { describe, it } from 'node:test'
import { LineDisplay, StepLog } from '../src/cli/deployment-display.js'
import { headline, inProgress, progressOf, stepEndLine, summaryLines, trafficSoFar } from '../src/cli/deployment-figures.js'
import type { DeploymentRecord, StepRecord } from '../src/deploy/deployment-record.js'
import { sampleRecord, T0 } from './helpers/deployment-fixtures.js'

/** The sample record while its second step runs. */
function runningRecord(): DeploymentRecord {
  const record = sampleRecord({ status: 'running', ended_at: undefined })
  const drain = record.steps[1]!
  record.steps[1] = { kind: drain.kind, detail: drain.detail, started_at: drain.started_at }
  return record
}

describe('deployment figures', () => {
  it('sums requests and errors over every second and release of the timeline', () => {
    assert.deepEqual(trafficSoFar(sampleRecord()), { requests: 400, errors: 1 })
    assert.deepEqual(trafficSoFar(sampleRecord({ timeline: [] })), { requests: 0, errors: 0 })
  })

  it('progress: finished steps of finished + 1, the running step, elapsed and counters', () => {
    const p = progressOf(runningRecord(), T0 + 2500)
    assert.deepEqual(p, { finished: 1, total: 2, current: 'drain app-v1-1', elapsed: '2.5 s', requests: '400', errors: '1' })
    const ended = progressOf(sampleRecord(), T0 + 60_000)
    assert.deepEqual([ended.finished, ended.total, ended.current, ended.elapsed], [2, 2, 'succeeded', '4.0 s'])
    const paused = progressOf({ ...runningRecord(), status: 'paused' }, T0 + 3000)
    assert.equal(paused.current, 'paused (drain app-v1-1)')
    assert.equal(progressOf(runningRecord(), T0 - 5000).elapsed, '0 ms', 'a clock behind the balancer never shows a negative time')
  })

  it('only running and paused releases are in progress', () => {
    assert.deepEqual(
      (['running', 'paused', 'succeeded', 'failed', 'rolled_back', 'aborted', 'interrupted'] as const).filter(inProgress),
      ['running', 'paused'],
    )
  })

  it('step lines: ✓ with the duration, ✗ with the reason', () => {
    const failed: StepRecord = { kind: 'wait-up', detail: 'wait until app-v2-1 is UP', started_at: T0, ended_at: T0 + 5000, result: 'failed', error: 'not healthy within 5s' }
    assert.equal(stepEndLine(sampleRecord().steps[1]!), '  ✓ drain app-v1-1 (2.0 s)')
    assert.equal(stepEndLine(failed), '  ✗ wait until app-v2-1 is UP (5.0 s): not healthy within 5s')
  })

  it('headline and summary', () => {
    assert.equal(headline(sampleRecord()), 'Deploying app v1 → v2 (rolling): app-20261121-213000-a3f')
    assert.equal(headline(sampleRecord({ strategy: 'rollback', from: 'v2', to: 'v1' })), 'Rolling back app v2 → v1: app-20261121-213000-a3f')
    assert.deepEqual(summaryLines(sampleRecord()), ['app v1 → v2: succeeded in 4.0 s', '  requests 400, errors 1, peak instances 3'])
    const rolledBack = sampleRecord({
      status: 'rolled_back',
      error: 'not healthy within 5s',
      summary: { duration_ms: 7200, requests: 12_345, errors: 0, peak_instances: 3, extra_instances: 1, extra_instance_seconds: 5 },
    })
    assert.deepEqual(summaryLines(rolledBack), [
      'app v1 → v2: rolled_back in 7.2 s',
      '  requests 12,345, errors 0, peak instances 3',
      '  reason: not healthy within 5s',
      '  details: switchyard report app-20261121-213000-a3f',
    ])
  })
})

describe('step log (the display without a terminal)', () => {
  it('prints a line when a step starts and one when it ends, each once, and pause and resume', () => {
    const log = new StepLog(true)
    const running = runningRecord()
    assert.deepEqual(log.changes(running), ['  ✓ start app-v2-1 (2.0 s)', '  ▸ drain app-v1-1'])
    assert.deepEqual(log.changes(running), [])
    assert.deepEqual(log.changes({ ...running, status: 'paused' }), ['  ‖ paused: continue with switchyard resume app-20261121-213000-a3f'])
    assert.deepEqual(log.changes(running), ['  ▸ resumed'])
    assert.deepEqual(log.changes(sampleRecord()), ['  ✓ drain app-v1-1 (2.0 s)'])
  })

  it('a step that started and ended between two polls gets its end line only; without start lines for the bar', () => {
    assert.deepEqual(new StepLog(true).changes(sampleRecord()), ['  ✓ start app-v2-1 (2.0 s)', '  ✓ drain app-v1-1 (2.0 s)'])
    assert.deepEqual(new StepLog(false).changes(runningRecord()), ['  ✓ start app-v2-1 (2.0 s)'])
  })

  it('LineDisplay writes the lines and notes to its stream', () => {
    let text = ''
    const out = new Writable({ write: (chunk: Buffer, _enc, done) => ((text += chunk.toString()), done()) })
    const display = new LineDisplay(out)
    display.show(runningRecord())
    display.note('a note')
    display.close()
    assert.equal(text, '  ✓ start app-v2-1 (2.0 s)\n  ▸ drain app-v1-1\na note\n')
  })
})
