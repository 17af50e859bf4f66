import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { it } from 'node:test'
import type { StateView } from '../src/admin/balancer-control.js'
import type { DeploymentRecord } from '../src/deploy/deployment-record.js'
import { startBalancerProcess, tempDir } from './helpers/balancer.js'
import { alive, releaseConfig, startReleaseBalancer } from './helpers/release.js'
import { waitFor } from './helpers/wait.js'

const TOKEN = 'test-token'

async function api<T>(admin: string, path: string, method = 'GET'): Promise<T> {
  const res = await fetch(`http://${admin}${path}`, {
    method,
    headers: method === 'GET' ? {} : { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
  })
  return (await res.json()) as T
}

async function post<T>(admin: string, path: string, body: unknown): Promise<T> {
  const res = await fetch(`http://${admin}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  return (await res.json()) as T
}

/** The instances the state file names now. */
function recorded(dir: string): { pid?: number; version: string }[] {
  const saved = JSON.parse(readFileSync(join(dir, 'state', 'runtime-state.json'), 'utf8')) as {
    data: { services: Record<string, { instances: { pid?: number; version: string }[] }> }
  }
  return saved.data.services.app?.instances ?? []
}

function recordedPids(dir: string): number[] {
  return recorded(dir).flatMap((i) => (i.pid === undefined ? [] : [i.pid]))
}

it('kill -9 during a rolling release: after a restart the release is interrupted, rollback brings every server to v1, and no process is left behind', async (t) => {
  const dir = tempDir()
  const yaml = releaseConfig({ strategy: 'rolling', startDelayMs: 800 })
  const seen = new Set<number>()
  let lb = await startBalancerProcess(yaml, {}, { dir })
  t.after(async () => {
    await lb.stop('SIGKILL')
    // Also on failure: every instance the state names, so that a failed run leaves no process behind.
    for (const pid of [...seen, ...recordedPids(dir)]) if (alive(pid)) process.kill(-pid, 'SIGKILL')
  })
  const serving = (version: string) => async () => {
    const state = await api<StateView>(lb.admin, '/api/v1/state')
    const service = state.services[0]!
    const up = state.backends[0]!.servers.filter((s) => s.state === 'UP' && s.release === version).length
    return service.version === version && service.deployment === null && up === 2 ? true : undefined
  }
  await waitFor('v1 serving', serving('v1'), 15_000)
  for (const pid of recordedPids(dir)) seen.add(pid)

  const started = await post<DeploymentRecord>(lb.admin, '/api/v1/deployments', { service: 'app', version: 'v2' })
  assert.ok(started.id)
  await waitFor('a v2 instance started', () => (recorded(dir).some((i) => i.version === 'v2') ? true : undefined), 10_000)
  for (const pid of recordedPids(dir)) seen.add(pid)
  lb.proc.kill('SIGKILL')
  await lb.exited

  lb = await startBalancerProcess(yaml, {}, { dir })
  const interrupted = await api<DeploymentRecord>(lb.admin, `/api/v1/deployments/${started.id}`)
  assert.equal(interrupted.status, 'interrupted')
  const back = await post<DeploymentRecord>(lb.admin, '/api/v1/services/app/rollback', {})
  assert.ok(back.id, JSON.stringify(back))
  await waitFor('rollback done', async () => {
    const record = await api<DeploymentRecord>(lb.admin, `/api/v1/deployments/${back.id}`)
    return record.status === 'running' ? undefined : record
  }, 20_000)
  const done = await api<DeploymentRecord>(lb.admin, `/api/v1/deployments/${back.id}`)
  assert.equal(done.status, 'succeeded', JSON.stringify(done.steps.map((s) => [s.detail, s.result, s.error])))
  await waitFor('every server on v1', serving('v1'), 10_000)
  const state = await api<StateView>(lb.admin, '/api/v1/state')
  assert.deepEqual(state.backends[0]!.servers.map((s) => s.release), ['v1', 'v1'])
  for (const pid of recordedPids(dir)) seen.add(pid)

  assert.equal(await lb.stop('SIGTERM'), 0)
  await waitFor('no instance left', () => ([...seen].every((pid) => !alive(pid)) ? true : undefined), 10_000)
})

it('an interrupted release can be resumed after the restart and finishes on v2', async (t) => {
  const dir = tempDir()
  const yaml = releaseConfig({ strategy: 'rolling', startDelayMs: 800 })
  let lb = await startBalancerProcess(yaml, {}, { dir })
  t.after(async () => {
    await lb.stop('SIGKILL')
    for (const pid of recordedPids(dir)) if (alive(pid)) process.kill(-pid, 'SIGKILL')
  })
  await waitFor('v1 serving, no release running', async () => {
    const service = (await api<StateView>(lb.admin, '/api/v1/state')).services[0]!
    return service.version === 'v1' && service.deployment === null ? true : undefined
  }, 15_000)
  const started = await post<DeploymentRecord>(lb.admin, '/api/v1/deployments', { service: 'app', version: 'v2' })
  assert.ok(started.id, JSON.stringify(started))
  await waitFor('a v2 instance started', () => (recorded(dir).some((i) => i.version === 'v2') ? true : undefined), 10_000)
  lb.proc.kill('SIGKILL')
  await lb.exited

  lb = await startBalancerProcess(yaml, {}, { dir })
  const resumed = await post<DeploymentRecord>(lb.admin, `/api/v1/deployments/${started.id}/resume`, {})
  assert.equal(resumed.id, started.id)
  const done = await waitFor('resumed release done', async () => {
    const record = await api<DeploymentRecord>(lb.admin, `/api/v1/deployments/${started.id}`)
    return record.status === 'running' ? undefined : record
  }, 20_000)
  assert.equal(done.status, 'succeeded', JSON.stringify(done.steps.map((s) => [s.detail, s.result, s.error])))
  const state = await api<StateView>(lb.admin, '/api/v1/state')
  assert.equal(state.services[0]!.version, 'v2')
  assert.deepEqual(state.backends[0]!.servers.map((s) => s.release), ['v2', 'v2'])
  assert.equal(await lb.stop('SIGTERM'), 0)
})

it('a graceful stop during a release leaves it interrupted for the next start, with nothing undone in between', async () => {
  const dir = tempDir()
  const yaml = releaseConfig({ strategy: 'rolling', startDelayMs: 800 })
  const first = await startReleaseBalancer(yaml, dir)
  const record = first.lb.deploy('app', 'v2')
  await waitFor('a v2 instance', () => (first.lb.serviceState('app').instances.some((i) => i.version === 'v2') ? true : undefined), 10_000)
  await first.lb.stop(1000)
  const second = await startReleaseBalancer(yaml, dir)
  try {
    const seen = await second.lb.deployment(record.id)
    assert.equal(seen.status, 'interrupted', JSON.stringify(seen.steps.map((s) => [s.detail, s.result])))
    assert.ok(!seen.steps.some((s) => s.kind === 'switch'), 'no going back was started by the stop')
  } finally {
    await second.lb.stop(1000)
  }
})
