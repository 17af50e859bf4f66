import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, it } from 'node:test'
import { request, steadyLoad } from './helpers/load.js'
import { alive, instancePids, releaseConfig, startReleaseBalancer, versionsOf } from './helpers/release.js'
import { waitFor } from './helpers/wait.js'

describe('releases that go wrong, and going back', () => {
  it('a version that never becomes healthy fails at its deadline, rolls back by itself, and v1 keeps serving with no failed request', async (t) => {
    const { lb, url } = await startReleaseBalancer(releaseConfig({ strategy: 'rolling' }))
    t.after(() => lb.stop(1000))
    const load = steadyLoad({ url, rate: 200, durationMs: 8000 })
    await new Promise((r) => setTimeout(r, 200))
    const record = lb.deploy('app', 'bad1')
    await lb.services.settled()
    const result = await load
    const final = await lb.deployment(record.id)
    assert.equal(final.status, 'rolled_back', JSON.stringify(final.steps.map((s) => [s.detail, s.result])))
    assert.match(final.error ?? '', /not healthy within 5s/)
    assert.equal(result.failed, 0, JSON.stringify(result.failures))
    assert.deepEqual(Object.keys(versionsOf(result.bodies)), ['v1'])
    assert.equal(lb.serviceState('app').version, 'v1')
    assert.deepEqual(instancePids(lb, 'bad1'), [])
    assert.equal(instancePids(lb, 'v1').length, 2)
  })

  it('blue/green rollback within keep_previous switches back at once with no failed request', async (t) => {
    const { lb, url } = await startReleaseBalancer(releaseConfig({ strategy: 'bluegreen', strategyExtra: '      keep_previous: 1m' }))
    t.after(() => lb.stop(1000))
    lb.deploy('app', 'v2')
    await lb.services.settled()
    assert.equal(JSON.parse((await request(url)).body).version, 'v2')
    const v1 = instancePids(lb, 'v1')
    assert.equal(v1.length, 2, 'v1 is kept warm')
    const load = steadyLoad({ url, rate: 200, durationMs: 2500 })
    await new Promise((r) => setTimeout(r, 500))
    const started = Date.now()
    const back = lb.rollback('app')
    await waitFor('v1 answers', async () => (JSON.parse((await request(url)).body).version === 'v1' ? true : undefined), 5000)
    const switchedIn = Date.now() - started
    assert.ok(switchedIn < 1000, `switched back in ${switchedIn} ms`)
    await lb.services.settled()
    const result = await load
    assert.equal(result.failed, 0, JSON.stringify(result.failures))
    assert.equal((await lb.deployment(back.id)).status, 'succeeded')
    assert.deepEqual(instancePids(lb, 'v1').sort(), v1.sort(), 'the very same v1 instances serve again')
    assert.equal(lb.serviceState('app').version, 'v1')
    assert.deepEqual(instancePids(lb, 'v2'), [])
  })

  it('surge never has fewer UP servers than at the start', async (t) => {
    const { lb, url } = await startReleaseBalancer(releaseConfig({ strategy: 'surge', instances: 3 }))
    t.after(() => lb.stop(1000))
    await waitFor('3 UP', () => (upCount() === 3 ? true : undefined), 10_000)
    let lowest = Infinity
    function upCount(): number {
      return lb.state().backends[0]!.servers.filter((s) => s.state === 'UP').length
    }
    const watch = setInterval(() => (lowest = Math.min(lowest, upCount())), 5)
    const load = steadyLoad({ url, rate: 100, durationMs: 1000 })
    lb.deploy('app', 'v2')
    await lb.services.settled()
    clearInterval(watch)
    assert.equal((await load).failed, 0)
    assert.ok(lowest >= 3, `lowest UP count ${lowest}`)
  })

  it('the webhook gets JSON with a Slack-style text at the start and at the end of a release', async (t) => {
    const received: { event: string; text: string; deployment: { id: string } }[] = []
    const receiver = http.createServer((req, res) => {
      let body = ''
      req.on('data', (c: Buffer) => (body += c.toString()))
      req.on('end', () => {
        received.push(JSON.parse(body) as (typeof received)[number])
        res.end('ok')
      })
    })
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r))
    t.after(() => new Promise<void>((r) => receiver.close(() => r())))
    const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`
    const { lb } = await startReleaseBalancer(releaseConfig({ serviceExtra: `    notify: { webhook: "${hook}" }` }))
    t.after(() => lb.stop(1000))
    await waitFor('first release notified', () => (received.some((r) => r.event === 'succeeded') ? true : undefined), 5000)
    received.length = 0
    const record = lb.deploy('app', 'v2')
    await lb.services.settled()
    await waitFor('two messages', () => (received.length >= 2 ? true : undefined), 5000)
    assert.deepEqual(received.map((r) => r.event), ['started', 'succeeded'])
    assert.ok(received.every((r) => r.deployment.id === record.id))
    assert.match(received[1]!.text, /app v1 → v2 \(rolling\) succeeded/)
  })

  it('stopping the balancer stops the instances it started (no orphans)', async () => {
    const { lb } = await startReleaseBalancer(releaseConfig({}))
    const pids = instancePids(lb)
    assert.equal(pids.length, 2)
    await lb.stop(1000)
    assert.ok(pids.every((pid) => !alive(pid)))
  })
})
