import assert from 'node:assert/strict'
import http from 'node:http'
import { describe, it } from 'node:test'
import { releaseTotals } from '../src/deploy/deployment-summary.js'
import type { LoadBalancer } from '../src/load-balancer.js'
import { request, steadyLoad } from './helpers/load.js'
import { instancePids, releaseConfig, startReleaseBalancer } from './helpers/release.js'
import { SAMPLE_APP } from './helpers/sample-app.js'
import { waitFor } from './helpers/wait.js'

/** The sample app, with per-version behaviour: `err*` versions fail 20% of requests, `slow*` add latency. */
const COMMAND =
  'case "$SWITCHYARD_VERSION" in err*) export ERROR_RATE=0.2;; slow*) export EXTRA_LATENCY_MS=40;; *) export EXTRA_LATENCY_MS=${BASE_LATENCY_MS:-0};; esac; ' +
  `exec node ${SAMPLE_APP}`

function canaryConfig(strategyExtra: string, instances = 2, env: Record<string, string> = {}): string {
  return releaseConfig({ command: COMMAND, instances, startDelayMs: 200, strategy: 'canary', strategyExtra, env })
}

/** Resolves once the release is watching its canary (the split is on). */
async function watching(lb: LoadBalancer, id: string, step = 1): Promise<void> {
  await waitFor(`canary step ${step}`, async () => {
    const record = await lb.deployment(id)
    return record.steps.filter((s) => s.kind === 'analyze').length >= step && record.steps.at(-1)!.kind === 'analyze' ? true : undefined
  }, 10_000)
}

function versionOf(body: string): string {
  return (JSON.parse(body) as { version: string }).version
}

describe('canary releases', () => {
  it('at weight 10, 10,000 requests land 9-11% on the canary with 1 canary and 4 stable instances', async (t) => {
    const { lb, url } = await startReleaseBalancer(canaryConfig('      canary_instances: 1\n      steps: [{ weight: 10 }]', 4))
    t.after(() => lb.stop(1000))
    const record = lb.deploy('app', 'v2')
    await watching(lb, record.id)
    assert.equal(lb.state().backends[0]!.servers.filter((s) => s.release === 'v2').length, 1)
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 })
    const counts: Record<string, number> = {}
    let next = 0
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next++ < 10_000) {
          const version = versionOf((await request(url, { agent })).body)
          counts[version] = (counts[version] ?? 0) + 1
        }
      }),
    )
    agent.destroy()
    const share = (counts.v2 ?? 0) / 10_000
    assert.ok(share >= 0.09 && share <= 0.11, `canary share ${share}`)
    await lb.steerDeployment(record.id, 'promote')
    await lb.services.settled()
    assert.equal((await lb.deployment(record.id)).status, 'succeeded')
    assert.equal(versionOf((await request(url)).body), 'v2')
  })

  it('a promote answers with the next split already in effect (the watch is woken, not polled)', async (t) => {
    const { lb, url } = await startReleaseBalancer(canaryConfig('      steps: [{ weight: 0 }, { weight: 100 }, { weight: 0 }]'))
    t.after(() => lb.stop(1000))
    const record = lb.deploy('app', 'v2')
    const splitOf = (): unknown => lb.state().backends[0]!.split?.find((e) => e.release === 'v2')?.weight
    for (const [step, next, version] of [[1, 100, 'v2'], [2, 0, 'v1']] as const) {
      await watching(lb, record.id, step)
      await lb.steerDeployment(record.id, 'promote')
      // Synchronously after the answer: the split and the very next request follow the next step.
      assert.equal(splitOf(), next)
      assert.equal(versionOf((await request(url)).body), version)
      for (let i = 0; i < 20; i++) assert.equal(versionOf((await request(url)).body), version)
    }
    await watching(lb, record.id, 3)
    await lb.steerDeployment(record.id, 'promote')
    await lb.services.settled()
    assert.equal((await lb.deployment(record.id)).status, 'succeeded')
  })

  it('with stickiness, 200 clients keep one release each while the weight rises 5 -> 25 -> 50; none moves back', async (t) => {
    const steps = '      steps: [{ weight: 5 }, { weight: 25 }, { weight: 50 }]\n      sticky: { cookie: SY_RELEASE }'
    const { lb, url } = await startReleaseBalancer(canaryConfig(steps))
    t.after(() => lb.stop(1000))
    const record = lb.deploy('app', 'v2')
    const cookies: (string | undefined)[] = Array.from({ length: 200 }, () => undefined)
    const seen: string[][] = cookies.map(() => [])
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 })
    const round = async (requests: number): Promise<void> => {
      let next = 0
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          for (let i = next++; i < cookies.length; i = next++) {
            for (let n = 0; n < requests; n++) {
              const reply = await request(url, { agent, headers: cookies[i] === undefined ? {} : { cookie: cookies[i]! } })
              const set = reply.headers['set-cookie']?.[0]
              if (set !== undefined) cookies[i] = set.split(';')[0]
              seen[i]!.push(versionOf(reply.body))
            }
          }
        }),
      )
    }
    for (const [stage, requests] of [[1, 17], [2, 17], [3, 16]] as const) {
      await watching(lb, record.id, stage)
      await round(requests)
      await lb.steerDeployment(record.id, 'promote')
    }
    agent.destroy()
    await lb.services.settled()
    let movedBack = 0
    let onCanary = 0
    for (const versions of seen) {
      assert.equal(versions.length, 50)
      const firstV2 = versions.indexOf('v2')
      if (firstV2 >= 0) onCanary++
      if (firstV2 >= 0 && versions.slice(firstV2).includes('v1')) movedBack++
      // Within a stage a client never changes release.
      for (const [from, to] of [[0, 17], [17, 34], [34, 50]]) assert.equal(new Set(versions.slice(from, to)).size, 1)
    }
    assert.equal(movedBack, 0)
    assert.ok(onCanary > 60 && onCanary < 140, `${onCanary} of 200 clients on the canary at 50%`)
  })

  it('a canary that fails 20% of requests is aborted by the analysis; under 2% of all requests reached it', async (t) => {
    const analysis = '      steps: [{ weight: 2, pause: 1m }, { weight: 50, pause: 1m }]\n      analysis: { interval: 1s, min_requests: 5, failure_limit: 2 }'
    const { lb, url } = await startReleaseBalancer(canaryConfig(analysis))
    t.after(() => lb.stop(1000))
    const load = steadyLoad({ url, rate: 300, durationMs: 7000 })
    await new Promise((r) => setTimeout(r, 300))
    const record = lb.deploy('app', 'err1')
    await lb.services.settled()
    await load
    const final = await lb.deployment(record.id)
    assert.equal(final.status, 'rolled_back', JSON.stringify(final.steps.map((s) => [s.detail, s.result])))
    assert.match(final.error ?? '', /canary analysis failed .* error rate/)
    const canaryShare = releaseTotals(final).find((r) => r.version === 'err1')?.share_of_requests ?? 0
    assert.ok(canaryShare > 0 && canaryShare <= 0.02, `canary share ${canaryShare}`)
    assert.deepEqual(instancePids(lb, 'err1'), [])
    for (let i = 0; i < 10; i++) assert.equal(versionOf((await request(url)).body), 'v1')
  })

  it('a canary with twice the p99 latency is aborted by the latency rule', async (t) => {
    const analysis = '      steps: [{ weight: 20, pause: 1m }]\n      analysis: { interval: 1s, min_requests: 5, failure_limit: 2 }'
    const { lb, url } = await startReleaseBalancer(canaryConfig(analysis, 2, { BASE_LATENCY_MS: '20' }))
    t.after(() => lb.stop(1000))
    const load = steadyLoad({ url, rate: 150, durationMs: 6000 })
    const record = lb.deploy('app', 'slow1')
    await lb.services.settled()
    await load
    const final = await lb.deployment(record.id)
    assert.equal(final.status, 'rolled_back')
    assert.match(final.error ?? '', /p99 .* x stable/)
  })

  it('a good canary completes under load with no failed request', async (t) => {
    const analysis = '      steps: [{ weight: 10, pause: 1s }, { weight: 50, pause: 1s }]\n      analysis: { interval: 500ms, min_requests: 5, failure_limit: 2 }'
    const { lb, url } = await startReleaseBalancer(canaryConfig(analysis))
    t.after(() => lb.stop(1000))
    const load = steadyLoad({ url, rate: 250, durationMs: 5000 })
    const record = lb.deploy('app', 'v2')
    await lb.services.settled()
    const result = await load
    const final = await lb.deployment(record.id)
    assert.equal(final.status, 'succeeded', final.error)
    assert.equal(result.failed, 0, JSON.stringify(result.failures))
    assert.ok(final.steps.filter((s) => s.kind === 'analyze').every((s) => /passed/.test(s.detail)))
    assert.deepEqual(instancePids(lb, 'v1'), [])
    assert.equal(versionOf((await request(url)).body), 'v2')
  })

  it('low traffic (fewer requests than min_requests) never aborts a good canary', async (t) => {
    const analysis = '      steps: [{ weight: 50, pause: 3s }]\n      analysis: { interval: 500ms, min_requests: 50, failure_limit: 1 }'
    const { lb, url } = await startReleaseBalancer(canaryConfig(analysis))
    t.after(() => lb.stop(1000))
    const load = steadyLoad({ url, rate: 5, durationMs: 4000 })
    const record = lb.deploy('app', 'v2')
    await lb.services.settled()
    await load
    const final = await lb.deployment(record.id)
    assert.equal(final.status, 'succeeded', final.error)
    assert.match(final.steps.find((s) => s.kind === 'analyze')!.detail, /0 failed, \d+ without enough data/)
  })
})
