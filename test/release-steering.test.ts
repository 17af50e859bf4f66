import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { request, steadyLoad } from './helpers/load.js'
import { tempDir } from './helpers/balancer.js'
import { instancePids, releaseConfig, startReleaseBalancer } from './helpers/release.js'
import { waitFor } from './helpers/wait.js'

describe('steering a release', () => {
  it('abort during a rolling release goes back to v1 (aborted) without a failed request', async (t) => {
    const { lb, url } = await startReleaseBalancer(releaseConfig({ startDelayMs: 800 }))
    t.after(() => lb.stop(1000))
    const load = steadyLoad({ url, rate: 150, durationMs: 6000 })
    const record = lb.deploy('app', 'v2')
    await waitFor('a v2 instance', () => (instancePids(lb, 'v2').length > 0 ? true : undefined), 5000)
    await lb.steerDeployment(record.id, 'abort')
    await lb.services.settled()
    const final = await lb.deployment(record.id)
    assert.equal(final.status, 'aborted')
    assert.equal((await load).failed, 0)
    assert.deepEqual(instancePids(lb, 'v2'), [])
    assert.equal(instancePids(lb, 'v1').length, 2)
    assert.equal(JSON.parse((await request(url)).body).version, 'v1')
  })

  it('pause holds a release between steps; resume lets it finish; a second release meanwhile is refused', async (t) => {
    const { lb } = await startReleaseBalancer(releaseConfig({}))
    t.after(() => lb.stop(1000))
    const record = lb.deploy('app', 'v2')
    await lb.steerDeployment(record.id, 'pause')
    assert.throws(() => lb.deploy('app', 'v3'), (err: Error & { code?: string }) => err.code === 'SY_ERR_DEPLOYMENT_RUNNING')
    const stepsWhenPaused = (await lb.deployment(record.id)).steps.length
    await new Promise((r) => setTimeout(r, 1500))
    const paused = await lb.deployment(record.id)
    assert.equal(paused.status, 'paused')
    assert.ok(paused.steps.length <= stepsWhenPaused + 1, 'at most the step running at the pause completes')
    await lb.steerDeployment(record.id, 'resume')
    await lb.services.settled()
    assert.equal((await lb.deployment(record.id)).status, 'succeeded')
  })

  it('time paused while waiting for new instances does not count against healthy_deadline', async (t) => {
    // The new instance needs ~2.8 s against a 2 s deadline; a 2 s pause (resumed before it is healthy) must
    // push the deadline out to ~4 s, so it succeeds, where counting the pause would have failed it at resume.
    const { lb } = await startReleaseBalancer(releaseConfig({ startDelayMs: 0, healthyDeadline: '2s', instances: 1 }))
    t.after(() => lb.stop(1000))
    const slow = releaseConfig({ startDelayMs: 2500, healthyDeadline: '2s', instances: 1 })
    await lb.applyConfig(await (await import('../src/config/load-config.js')).parseConfigText(slow, lb.configFile!, {}))
    const record = lb.deploy('app', 'v2')
    await waitFor('waiting for v2', async () => ((await lb.deployment(record.id)).steps.some((s) => s.kind === 'wait-up') ? true : undefined))
    await lb.steerDeployment(record.id, 'pause')
    await new Promise((r) => setTimeout(r, 2000))
    await lb.steerDeployment(record.id, 'resume')
    await lb.services.settled()
    assert.equal((await lb.deployment(record.id)).status, 'succeeded')
  })

  it('blue/green: the preview header reaches the new release before the switch; a failing smoke check rolls back', async (t) => {
    const dir = tempDir()
    const marker = join(dir, 'smoke.log')
    const smoke = `echo {{version}} >> ${marker}; sleep 1; test {{version}} != v3`
    const { lb, url } = await startReleaseBalancer(
      releaseConfig({ strategy: 'bluegreen', startDelayMs: 0, strategyExtra: `      preview_header: X-Preview\n      smoke:\n        - { command: '${smoke}' }` }),
      dir,
    )
    t.after(() => lb.stop(1000))
    const record = lb.deploy('app', 'v2')
    // The smoke command holds the release for a second with v2 UP and v1 still serving.
    await waitFor('smoke of v2 running', () => (smokedVersions(marker).includes('v2') ? true : undefined), 5000)
    assert.equal(JSON.parse((await request(url, { headers: { 'x-preview': 'v2' } })).body).version, 'v2')
    assert.equal(JSON.parse((await request(url)).body).version, 'v1')
    await lb.services.settled()
    assert.equal((await lb.deployment(record.id)).status, 'succeeded')
    assert.equal(JSON.parse((await request(url)).body).version, 'v2')

    const bad = lb.deploy('app', 'v3')
    await lb.services.settled()
    const failed = await lb.deployment(bad.id)
    assert.equal(failed.status, 'rolled_back')
    assert.match(failed.error ?? '', /smoke command/)
    assert.deepEqual(smokedVersions(marker), ['v1', 'v2', 'v3'], 'the first release (v1) was smoked too')
    assert.equal(JSON.parse((await request(url)).body).version, 'v2')
    assert.deepEqual(instancePids(lb, 'v3'), [])
  })

  it('hooks run around a release with its versions in the environment', async (t) => {
    const dir = tempDir()
    const log = join(dir, 'hooks.log')
    const hook = (name: string) => `echo ${name} $SWITCHYARD_FROM $SWITCHYARD_TO >> ${log}`
    const { lb } = await startReleaseBalancer(
      releaseConfig({ serviceExtra: `    hooks:\n      before: '${hook('before')}'\n      after: '${hook('after')}'\n      on_failure: '${hook('failure')}'` }),
      dir,
    )
    t.after(() => lb.stop(1000))
    lb.deploy('app', 'v2')
    await lb.services.settled()
    lb.deploy('app', 'bad')
    await lb.services.settled()
    const lines = readFileSync(log, 'utf8').trim().split('\n')
    assert.deepEqual(lines.slice(-4), ['before v1 v2', 'after v1 v2', 'before v2 bad', 'failure v2 bad'])
  })
})

function smokedVersions(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n') : []
}
