/**
 * HealthMonitor's rules on a fake clock with a scripted check (our own seams; the network is covered by
 * health-monitor.test.ts): rise/fall, which interval applies when, jitter, no overlapping checks, pause, cleanup.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { CheckResult, CheckTarget, HealthCheck } from '../src/health/health-check.js'
import { resolveHealthSettings } from '../src/health/health-defaults.js'
import { HealthMonitor, type HealthStatus } from '../src/health/health-monitor.js'
import { FakeMonitorClock } from './helpers/fake-monitor-clock.js'

const settings = resolveHealthSettings({ type: 'tcp', interval: 1000, fast_interval: 250, down_interval: 3000, timeout: 100, rise: 2, fall: 3 })
const target: CheckTarget = { host: '127.0.0.1', port: 8080, name: 'app/s1' }

/** Answers from a script (true = pass; the last answer repeats); each check takes `takesMs` of fake time. */
class ScriptedCheck implements HealthCheck {
  readonly startedAt: number[] = []
  readonly signals: AbortSignal[] = []
  running = 0
  maxRunning = 0

  constructor(
    private readonly clock: FakeMonitorClock,
    public script: boolean[],
    private readonly takesMs = 0,
  ) {}

  async run(_target: CheckTarget, signal: AbortSignal): Promise<CheckResult> {
    this.startedAt.push(this.clock.now())
    this.signals.push(signal)
    const ok = this.script.length > 1 ? this.script.shift()! : this.script[0]!
    this.running += 1
    this.maxRunning = Math.max(this.maxRunning, this.running)
    if (this.takesMs > 0) await new Promise<void>((r) => this.clock.setTimeout(r, this.takesMs))
    this.running -= 1
    return { ok, durationMs: this.takesMs, detail: ok ? 'pass' : 'fail' }
  }
}

function setup(script: boolean[], options: { random?: number; takesMs?: number; initial?: HealthStatus } = {}) {
  const clock = new FakeMonitorClock()
  const check = new ScriptedCheck(clock, script, options.takesMs)
  const changes: [number, string][] = []
  const monitor = new HealthMonitor(
    settings,
    { healthChanged: (_t, status) => changes.push([clock.now(), status]) },
    { clock, check, random: () => options.random ?? 0.5 },
  )
  monitor.add(target, options.initial)
  return { clock, check, changes, monitor }
}

describe('health monitor rules', () => {
  it('uses fast_interval while unchecked or transitional, interval when up, down_interval when down', async () => {
    // random 0.5: the first check at 0.5 x min(interval, 1s), later delays exactly their interval.
    const { clock, check, changes } = setup([true, true, false, false, false, true, true, true])
    await clock.advance(8000)
    assert.deepEqual(check.startedAt, [500, 750, 1750, 2000, 2250, 5250, 5500, 6500, 7500])
    assert.deepEqual(changes, [[750, 'up'], [2250, 'down'], [5500, 'up']])
  })

  it('jitters later delays by at most 10% either way', async () => {
    for (const [random, expected] of [[0, 900], [0.999999, 1100]] as const) {
      const { clock, check } = setup([true], { random, initial: 'up' })
      await clock.advance(5000)
      const gaps = check.startedAt.slice(1).map((t, i) => t - check.startedAt[i]!)
      for (const gap of gaps) assert.ok(Math.abs(gap - expected) < 0.01, `gap ${gap}, expected ${expected}`)
    }
  })

  it('never runs two checks of one target at once, even when a check outlasts the interval', async () => {
    const { clock, check } = setup([true], { takesMs: 5000, initial: 'up' })
    await clock.advance(20_000)
    assert.equal(check.maxRunning, 1)
    assert.deepEqual(check.startedAt, [500, 6500, 12500, 18500])
  })

  it('keeps a known status: an up target needs `fall` failures, a down one `rise` passes', async () => {
    const up = setup([false], { initial: 'up' })
    await up.clock.advance(999) // failures at 500 and 750; the third is due at 1000
    assert.deepEqual([up.monitor.status(target)!.status, up.monitor.status(target)!.consecutiveFailures], ['up', 2])
    await up.clock.advance(2000)
    assert.deepEqual(up.changes, [[1000, 'down']])

    const down = setup([true], { initial: 'down' })
    await down.clock.advance(600)
    assert.deepEqual(down.changes, [])
    await down.clock.advance(1000)
    assert.deepEqual(down.changes, [[750, 'up']])
  })

  it('pause aborts the running check and ignores its result; resume starts from unchecked', async () => {
    const { clock, check, changes, monitor } = setup([true], { takesMs: 50 })
    // Passes end at 550 and 850 (up); the third check runs from 1850 to 1900.
    await clock.advance(1800)
    assert.deepEqual([monitor.status(target)!.status, check.running], ['up', 0])
    await clock.advance(60)
    assert.equal(check.running, 1)
    monitor.pause(target)
    assert.equal(check.signals.at(-1)!.aborted, true)
    await clock.advance(10_000)
    assert.equal(check.startedAt.length, 3)
    assert.equal(monitor.status(target)!.checks, 2)

    monitor.resume(target)
    assert.equal(monitor.status(target)!.status, 'unchecked')
    await clock.advance(560) // first pass ends at 550
    assert.deepEqual([monitor.status(target)!.status, monitor.status(target)!.consecutivePasses], ['unchecked', 1])
    await clock.advance(300)
    assert.equal(monitor.status(target)!.status, 'up')
    assert.deepEqual(changes.map(([, s]) => s), ['up', 'up'])
  })

  it('remove and stop leave no timer behind and abort running checks', async () => {
    const { clock, check, monitor } = setup([true], { takesMs: 50 })
    monitor.add({ ...target, name: 'app/s2' })
    await clock.advance(520)
    assert.ok(check.running > 0)
    monitor.remove(target)
    assert.equal(clock.pending, 2) // s2's timer and the scripted check's own delay
    monitor.stop()
    assert.ok(check.signals.every((s) => s.aborted))
    await clock.advance(10_000)
    assert.equal(clock.pending, 0)
    assert.throws(() => monitor.add(target), /stopped/)
  })
})
