import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { loadConfigFile } from '../src/config/load-config.js'
import { LoadBalancer } from '../src/load-balancer.js'
import { startBackend, type TestBackend } from './helpers/backend.js'
import { tempDir } from './helpers/balancer.js'
import { balancerYaml } from './helpers/config-yaml.js'
import { request, steadyLoad } from './helpers/load.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A backend whose /healthz answers `state.health` and whose other paths answer with its name. */
async function checkedBackend(name: string, delays: Record<string, number> = {}) {
  const state = { health: 200, served: 0, firstServedAfterCheck: true, checks: 0, slowInFlight: 0 }
  const backend = await startBackend(name, (req, res) => {
    if (req.url === '/healthz') {
      state.checks++
      res.writeHead(state.health)
      res.end()
      return
    }
    if (state.checks === 0) state.firstServedAfterCheck = false
    state.served++
    const slow = req.url === '/slow'
    if (slow) state.slowInFlight++
    setTimeout(() => {
      if (slow) state.slowInFlight--
      res.end(name)
    }, delays[req.url ?? ''] ?? 0)
  })
  return { backend, state }
}

function yaml(servers: readonly TestBackend[], weights: readonly number[] = [], health = 'interval: 100ms, timeout: 200ms, rise: 2, fall: 2'): string {
  return balancerYaml({
    backend: `    health: { type: http, path: /healthz, ${health} }\n    timeouts: { queue: 5s }`,
    servers: servers.map((b, i) => ({ name: b.name, address: `${b.address}, weight: ${weights[i] ?? 1}` })),
  })
}

async function start(text: string): Promise<{ lb: LoadBalancer; file: string; url: string }> {
  const dir = tempDir()
  const file = join(dir, 'switchyard.yaml')
  writeFileSync(file, text)
  const lb = await LoadBalancer.start(await loadConfigFile(file), { configFile: file })
  const a = lb.addresses('web')[0]!
  return { lb, file, url: `http://${a.host}:${a.port}` }
}

async function until(condition: () => boolean, timeoutMs: number): Promise<number> {
  const started = Date.now()
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`)
    await sleep(10)
  }
  return Date.now() - started
}

describe('health checks in the runtime', () => {
  it('servers take traffic only after rise passes; a failing /healthz takes a server DOWN within interval x fall + timeout, and back after rise', async () => {
    const a = await checkedBackend('a')
    const b = await checkedBackend('b')
    const { lb, url } = await start(yaml([a.backend, b.backend]))
    const servers = lb.runtime.backends.get('app')!.servers
    try {
      assert.equal(servers[0]!.state, 'STARTING')
      const first = await request(url) // waits in the queue until a server is UP
      assert.equal(first.status, 200)
      assert.ok(a.state.firstServedAfterCheck && b.state.firstServedAfterCheck, 'no request before the first passing check')
      await until(() => servers.every((s) => s.state === 'UP'), 3000)

      a.state.health = 500
      const tookDown = await until(() => servers[0]!.state === 'DOWN', 2000)
      assert.ok(tookDown <= 100 * 2 + 200 + 300, `down after ${tookDown} ms`)
      const servedBefore = a.state.served
      for (let i = 0; i < 10; i++) assert.equal((await request(url)).body, 'b')
      assert.equal(a.state.served, servedBefore, 'a DOWN server receives no request')

      a.state.health = 200
      const checksAtRecovery = a.state.checks
      await until(() => servers[0]!.state === 'UP', 3000)
      assert.ok(a.state.checks - checksAtRecovery >= 2, 'UP again only after rise (2) passes')
    } finally {
      await lb.stop(100)
      await a.backend.close()
      await b.backend.close()
    }
  })

  it('a server added at run time never receives a request before its first passing check', async () => {
    const a = await checkedBackend('a')
    const c = await checkedBackend('c')
    c.state.health = 500
    const { lb, url } = await start(yaml([a.backend]))
    try {
      await request(url)
      lb.addServer('app', { name: 'c', address: c.backend.address })
      assert.equal(lb.server('app', 'c').state, 'STARTING')
      const load = steadyLoad({ url, rate: 100, durationMs: 800 })
      await sleep(400)
      assert.equal(c.state.served, 0, 'STARTING and failing: no traffic')
      c.state.health = 200
      const result = await load
      assert.equal(result.failed, 0)
      await until(() => lb.server('app', 'c').state === 'UP', 3000)
      assert.ok(c.state.firstServedAfterCheck)
    } finally {
      await lb.stop(100)
      await a.backend.close()
      await c.backend.close()
    }
  })

  it('drain under load: no new request reaches the server, a 2-second request completes, the wait ends at zero in flight', async () => {
    const a = await checkedBackend('a', { '/slow': 2000 })
    const b = await checkedBackend('b', { '/slow': 2000 })
    const { lb, url } = await start(yaml([a.backend, b.backend]))
    try {
      await until(() => lb.state().backends[0]!.servers.every((s) => s.state === 'UP'), 3000)
      const load = steadyLoad({ url, rate: 150, durationMs: 2500 })
      // Slow requests until one of them is in flight on "a".
      const slow: ReturnType<typeof request>[] = []
      for (let i = 0; i < 10 && a.state.slowInFlight === 0; i++) {
        slow.push(request(url + '/slow'))
        await sleep(50)
      }
      assert.ok(a.state.slowInFlight > 0)
      const view = lb.changeServer('app', 'a', { admin: 'drain' })
      assert.equal(view.state, 'DRAIN')
      // Counted by the balancer when it sends a request to the server, so in-flight arrivals do not blur it.
      const sentAtDrain = lb.server('app', 'a').requests
      const outcome = await lb.waitDrained('app', 'a', 10_000)
      assert.equal(outcome.drained, true)
      assert.equal(outcome.active, 0)
      assert.ok(outcome.waited_ms >= 1500, `waited ${outcome.waited_ms} ms for the slow request`)
      for (const r of await Promise.all(slow)) assert.equal(r.status, 200)
      const result = await load
      assert.equal(result.failed, 0, JSON.stringify(result.failures))
      assert.equal(lb.server('app', 'a').requests, sentAtDrain, 'no new request after drain')
    } finally {
      await lb.stop(100)
      await a.backend.close()
      await b.backend.close()
    }
  })

  it('20 reloads under steady load (weights changed, a server added and one removed each time): zero failed requests, unchanged servers stay UP', async () => {
    const stable = await checkedBackend('stable')
    const extras = [await checkedBackend('x1'), await checkedBackend('x2')]
    const { lb, file, url } = await start(yaml([stable.backend, extras[0]!.backend]))
    const stableServer = lb.runtime.backends.get('app')!.servers[0]!
    try {
      await until(() => lb.state().backends[0]!.servers.every((s) => s.state === 'UP'), 3000)
      let leftUp = false
      const watch = setInterval(() => {
        if (stableServer.state !== 'UP') leftUp = true
      }, 5)
      const load = steadyLoad({ url, rate: 200, durationMs: 3000 })
      for (let i = 0; i < 20; i++) {
        const extra = extras[i % 2 === 0 ? 1 : 0]!.backend // swap which extra server is configured
        writeFileSync(file, yaml([stable.backend, extra], [1 + (i % 3), 1]))
        await lb.reload()
        await sleep(120)
      }
      const result = await load
      clearInterval(watch)
      assert.equal(result.failed, 0, JSON.stringify(result.failures))
      assert.equal(leftUp, false, 'the unchanged server never left UP')
      assert.equal(lb.runtime.backends.get('app')!.servers[0], stableServer, 'the same server object (health, counters, pool) was kept')
    } finally {
      await lb.stop(100)
      await stable.backend.close()
      for (const e of extras) await e.backend.close()
    }
  })

  it('an invalid file on reload changes nothing and says why', async () => {
    const a = await checkedBackend('a')
    const { lb, file } = await start(yaml([a.backend]))
    try {
      const before = lb.config
      writeFileSync(file, 'frontends: {}\nbackends:\n  app:\n    retries: many\n')
      await assert.rejects(lb.reload(), (err: Error & { code?: string }) => err.code === 'SY_ERR_CONFIG_INVALID' && /retries/.test(err.message))
      assert.equal(lb.config, before)
    } finally {
      await lb.stop(100)
      await a.backend.close()
    }
  })
})
