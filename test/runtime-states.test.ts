import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { startBackend, type TestBackend } from './helpers/backend.js'
import { startBalancer } from './helpers/balancer.js'
import { balancerYaml } from './helpers/config-yaml.js'
import { request } from './helpers/load.js'
import { waitFor } from './helpers/wait.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A backend whose /healthz answers `control.health`; it counts checks and other requests. */
async function controlled(name: string) {
  const control = { health: 200, checks: 0, served: 0 }
  const backend = await startBackend(name, (req, res) => {
    if (req.url === '/healthz') {
      control.checks++
      res.writeHead(control.health)
      return res.end()
    }
    control.served++
    res.end(name)
  })
  return { backend, control }
}

function yaml(servers: readonly TestBackend[], backendExtra = ''): string {
  const health = '    health: { type: http, path: /healthz, interval: 100ms, timeout: 200ms, rise: 2, fall: 2 }'
  return balancerYaml({ backend: `${health}\n    timeouts: { queue: 5s }\n${backendExtra}`, servers })
}

const isUp = (lb: Awaited<ReturnType<typeof startBalancer>>, server: string) => () => lb.server('app', server).state === 'UP' || undefined

describe('server states', () => {
  it('a server added by a reload is STARTING and gets no request until its checks pass', async (t) => {
    const a = await controlled('a')
    const c = await controlled('c')
    c.control.health = 500
    const lb = await startBalancer(yaml([a.backend]))
    t.after(async () => {
      await lb.stop(0)
      await a.backend.close()
      await c.backend.close()
    })
    await waitFor('a UP', isUp(lb, 'a'))
    writeFileSync(lb.configFile!, yaml([a.backend, c.backend]))
    await lb.reload()
    assert.equal(lb.server('app', 'c').state, 'STARTING')
    for (let i = 0; i < 10; i++) assert.equal((await request(lb.url())).body, 'a')
    await sleep(300)
    assert.notEqual(lb.server('app', 'c').state, 'UP')
    assert.equal(c.control.served, 0)
    c.control.health = 200
    await waitFor('c UP', isUp(lb, 'c'))
    const bodies = new Set<string>()
    for (let i = 0; i < 6; i++) bodies.add((await request(lb.url())).body)
    assert.ok(bodies.has('c'))
  })

  it('MAINT gets nothing and is not checked; leaving it, the server is STARTING until rise passes', async (t) => {
    const a = await controlled('a')
    const b = await controlled('b')
    const lb = await startBalancer(yaml([a.backend, b.backend]))
    t.after(async () => {
      await lb.stop(0)
      await a.backend.close()
      await b.backend.close()
    })
    await waitFor('a UP', isUp(lb, 'a'))
    lb.changeServer('app', 'a', { admin: 'maint' })
    assert.equal(lb.server('app', 'a').state, 'MAINT')
    await sleep(150)
    const checks = a.control.checks
    const served = a.control.served
    await sleep(400)
    assert.equal(a.control.checks, checks, 'no checks in maintenance')
    for (let i = 0; i < 6; i++) assert.equal((await request(lb.url())).body, 'b')
    assert.equal(a.control.served, served)
    lb.changeServer('app', 'a', { admin: 'ready' })
    assert.equal(lb.server('app', 'a').state, 'STARTING', 'never UP before a check passed')
    await waitFor('a UP', isUp(lb, 'a'))
    assert.ok(a.control.checks - checks >= 2)
  })

  it('DRAIN keeps clients whose persistence cookie names the server, and sends it no one else', async (t) => {
    const a = await controlled('a')
    const b = await controlled('b')
    const lb = await startBalancer(yaml([a.backend, b.backend], '    sticky: { cookie: SRV }'))
    t.after(async () => {
      await lb.stop(0)
      await a.backend.close()
      await b.backend.close()
    })
    await waitFor('both UP', () => (lb.state().backends[0]!.servers.every((s) => s.state === 'UP') ? true : undefined))
    let cookieForA: string | undefined
    for (let i = 0; i < 6 && cookieForA === undefined; i++) {
      const r = await request(lb.url())
      if (r.body === 'a') cookieForA = String(r.headers['set-cookie']).split(';')[0]
    }
    assert.ok(cookieForA !== undefined)
    lb.changeServer('app', 'a', { admin: 'drain' })
    for (let i = 0; i < 5; i++) assert.equal((await request(lb.url(), { headers: { cookie: cookieForA } })).body, 'a')
    for (let i = 0; i < 5; i++) assert.equal((await request(lb.url())).body, 'b')
  })

  it('slow start ramps the effective weight of a server that comes back up', async (t) => {
    const a = await controlled('a')
    const b = await controlled('b')
    const servers = `    slow_start: 1s`
    const lb = await startBalancer(yaml([a.backend, b.backend], servers).replace(/(\w): \{ address: ([^ ]+) \}/g, '$1: { address: $2, weight: 20 }'))
    t.after(async () => {
      await lb.stop(0)
      await a.backend.close()
      await b.backend.close()
    })
    await waitFor('a UP', isUp(lb, 'a'))
    assert.equal(lb.server('app', 'a').effective_weight, 20, 'no ramp for the servers present at start')
    a.control.health = 500
    await waitFor('a DOWN', () => (lb.server('app', 'a').state === 'DOWN' ? true : undefined))
    a.control.health = 200
    await waitFor('a UP', isUp(lb, 'a'))
    const early = lb.server('app', 'a').effective_weight
    assert.ok(early < 10, `just after coming up the weight is low (${early})`)
    await sleep(500)
    const middle = lb.server('app', 'a').effective_weight
    assert.ok(middle > early && middle < 20, `half-way it is in between (${middle})`)
    await waitFor('full weight', () => (lb.server('app', 'a').effective_weight === 20 ? true : undefined), 3000)
    assert.equal(lb.server('app', 'a').weight, 20)
  })
})
