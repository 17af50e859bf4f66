import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { planRelease, planReturn, resolveCount, type PlanInput, type Step } from '../src/deploy/plan-release.js'

const v1 = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `app-v1-${i + 1}`, version: 'v1' }))

function input(overrides: Partial<PlanInput>): PlanInput {
  return { strategy: 'rolling', to: 'v2', from: 'v1', servers: v1(2), instances: 2, startsInstances: true, batch: 1, maxSurge: 1, ...overrides }
}

function steps(plan: ReturnType<typeof planRelease>): Step[] {
  assert.ok(plan.ok, plan.ok ? '' : plan.error)
  return plan.steps
}

/** Servers with traffic after each step, simulating the plan: started instances count once they are UP. */
function capacityTrace(plan: Step[], start: number): number[] {
  let up = start
  let pending = 0
  const trace: number[] = []
  for (const step of plan) {
    if (step.kind === 'start') pending += step.count
    if (step.kind === 'wait-up') (up += pending), (pending = 0)
    if (step.kind === 'drain') up -= step.servers.length
    trace.push(up)
  }
  return trace
}

describe('release plans', () => {
  it('rolling, batch 1: drain, stop, start, wait for each old server; ends with every server in rotation', () => {
    assert.deepEqual(steps(planRelease(input({}))), [
      { kind: 'rotate', releases: ['v1', 'v2'] },
      { kind: 'drain', servers: ['app-v1-1'] },
      { kind: 'stop', servers: ['app-v1-1'] },
      { kind: 'start', count: 1 },
      { kind: 'wait-up' },
      { kind: 'drain', servers: ['app-v1-2'] },
      { kind: 'stop', servers: ['app-v1-2'] },
      { kind: 'start', count: 1 },
      { kind: 'wait-up' },
      { kind: 'rotate', releases: null },
    ])
  })

  it('rolling with a percentage batch and a larger target starts the missing instances at the end', () => {
    const plan = steps(planRelease(input({ servers: v1(4), instances: 6, batch: '50%' })))
    const drains = plan.filter((s) => s.kind === 'drain').map((s) => (s.kind === 'drain' ? s.servers.length : 0))
    assert.deepEqual(drains, [3, 1])
    assert.equal(plan.filter((s) => s.kind === 'start').reduce((n, s) => n + (s.kind === 'start' ? s.count : 0), 0), 6)
  })

  it('a first release only starts instances', () => {
    assert.deepEqual(steps(planRelease(input({ from: undefined, servers: [] }))), [
      { kind: 'rotate', releases: ['v2'] },
      { kind: 'start', count: 1 },
      { kind: 'wait-up' },
      { kind: 'start', count: 1 },
      { kind: 'wait-up' },
      { kind: 'rotate', releases: null },
    ])
  })

  it('surge never has fewer servers with traffic than at the start, and stops exactly as many old as it started', () => {
    for (const [n, surge] of [[2, 1], [3, 2], [5, 2], [4, '50%']] as const) {
      const plan = steps(planRelease(input({ strategy: 'surge', servers: v1(n), instances: n, maxSurge: surge })))
      assert.ok(capacityTrace(plan, n).every((c) => c >= n), `n=${n} surge=${surge}: ${capacityTrace(plan, n).join(',')}`)
      const started = plan.reduce((k, s) => k + (s.kind === 'start' ? s.count : 0), 0)
      const stopped = plan.reduce((k, s) => k + (s.kind === 'stop' ? s.servers.length : 0), 0)
      assert.equal(started, n)
      assert.equal(stopped, n)
    }
  })

  it('a plan made again after an interruption continues where the release stopped', () => {
    const halfway = [{ name: 'app-v2-1', version: 'v2' }, { name: 'app-v1-2', version: 'v1' }]
    assert.deepEqual(steps(planRelease(input({ servers: halfway }))), [
      { kind: 'rotate', releases: ['v1', 'v2'] },
      { kind: 'drain', servers: ['app-v1-2'] },
      { kind: 'stop', servers: ['app-v1-2'] },
      { kind: 'start', count: 1 },
      { kind: 'wait-up' },
      { kind: 'rotate', releases: null },
    ])
  })

  it('blue/green starts the whole new set out of rotation, smokes, switches, and keeps the old one warm', () => {
    assert.deepEqual(steps(planRelease(input({ strategy: 'bluegreen' }))), [
      { kind: 'rotate', releases: ['v1'] },
      { kind: 'start', count: 2 },
      { kind: 'wait-up' },
      { kind: 'smoke' },
      { kind: 'switch', to: 'v2' },
      { kind: 'retire-later', servers: ['app-v1-1', 'app-v1-2'] },
    ])
  })

  it('static servers are updated in place by rolling only', () => {
    const fixed = [{ name: 's1', version: 'v1' }, { name: 's2', version: 'v1' }]
    assert.deepEqual(steps(planRelease(input({ servers: fixed, startsInstances: false }))), [
      { kind: 'drain', servers: ['s1'] },
      { kind: 'deploy', servers: ['s1'] },
      { kind: 'wait-up' },
      { kind: 'ready', servers: ['s1'] },
      { kind: 'drain', servers: ['s2'] },
      { kind: 'deploy', servers: ['s2'] },
      { kind: 'wait-up' },
      { kind: 'ready', servers: ['s2'] },
    ])
    const surge = planRelease(input({ servers: fixed, startsInstances: false, strategy: 'surge' }))
    assert.equal(surge.ok, false)
  })

  it('going back switches at once to a warm release, otherwise starts what is missing before removing the rest', () => {
    const both = [...v1(2), { name: 'app-v2-1', version: 'v2' }, { name: 'app-v2-2', version: 'v2' }]
    assert.deepEqual(steps(planReturn(input({ to: 'v1', from: 'v2', servers: both }))), [
      { kind: 'switch', to: 'v1' },
      { kind: 'drain', servers: ['app-v2-1', 'app-v2-2'] },
      { kind: 'stop', servers: ['app-v2-1', 'app-v2-2'] },
      { kind: 'rotate', releases: null },
    ])
    const partial = [{ name: 'app-v2-1', version: 'v2' }, { name: 'app-v1-2', version: 'v1' }]
    const back = steps(planReturn(input({ to: 'v1', from: 'v2', servers: partial })))
    assert.deepEqual(back.slice(0, 3), [{ kind: 'rotate', releases: ['v2', 'v1'] }, { kind: 'start', count: 1 }, { kind: 'wait-up' }])
    assert.ok(capacityTrace(back, 2).every((c) => c >= 2))
  })

  it('resolves counts and percentages, never below one', () => {
    assert.equal(resolveCount(3, 10), 3)
    assert.equal(resolveCount('25%', 10), 2)
    assert.equal(resolveCount('10%', 3), 1)
  })
})
