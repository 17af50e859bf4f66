import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { steadyLoad, request } from './helpers/load.js'
import { alive, instancePids, releaseConfig, startReleaseBalancer, versionsOf } from './helpers/release.js'
import { waitFor } from './helpers/wait.js'

describe('releases under load', () => {
  for (const strategy of ['rolling', 'surge', 'bluegreen']) {
    it(`${strategy}: v1 -> v2 of the sample app (2 instances, 500 ms start) under 250 req/s costs no failed request`, async (t) => {
      const { lb, url } = await startReleaseBalancer(releaseConfig({ strategy, strategyExtra: '      keep_previous: 1s' }))
      t.after(() => lb.stop(1000))
      const v1Pids = instancePids(lb, 'v1')
      assert.equal(v1Pids.length, 2)
      const load = steadyLoad({ url, rate: 250, durationMs: 6000 })
      await new Promise((r) => setTimeout(r, 300))
      const record = lb.deploy('app', 'v2')
      await lb.services.settled()
      const result = await load
      const final = await lb.deployment(record.id)
      assert.equal(final.status, 'succeeded', `${final.error ?? ''} ${JSON.stringify(final.steps.map((s) => [s.detail, s.result, s.error]))}`)
      assert.equal(result.failed, 0, JSON.stringify(result.failures))
      const seen = versionsOf(result.bodies)
      assert.ok((seen.v1 ?? 0) > 0 && (seen.v2 ?? 0) > 0, JSON.stringify(seen))
      // Blue/green keeps v1 warm for keep_previous (1 s) before stopping it.
      await waitFor('v1 gone', () => (v1Pids.every((pid) => !alive(pid)) ? true : undefined), 8000)
      for (let i = 0; i < 10; i++) assert.equal(JSON.parse((await request(url)).body).version, 'v2')
      assert.equal(lb.serviceState('app').version, 'v2')
      assert.equal(instancePids(lb, 'v2').length, 2)
      assert.ok(final.timeline.length >= 1)
    })
  }
})
