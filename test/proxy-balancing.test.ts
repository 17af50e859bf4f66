import assert from 'node:assert/strict'
import http from 'node:http'
import { after, before, describe, it } from 'node:test'
import { startBackend, type TestBackend } from './helpers/backend.js'
import { startBalancer } from './helpers/balancer.js'
import { balancerYaml } from './helpers/config-yaml.js'
import { request } from './helpers/load.js'

function backendsYaml(backends: readonly TestBackend[], extra: string, weights: readonly number[] = []): string {
  return balancerYaml({ backend: extra, servers: backends.map((b, i) => ({ name: b.name, address: `${b.address}, weight: ${weights[i] ?? 1}` })) })
}

/** Sends `count` requests with `concurrency` at a time over kept-alive connections; returns body -> count. */
async function spread(url: string, count: number, concurrency: number, headers: (i: number) => http.OutgoingHttpHeaders = () => ({})) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency })
  const counts: Record<string, number> = {}
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++
      const r = await request(url, { agent, headers: headers(i) })
      assert.equal(r.status, 200)
      counts[r.body] = (counts[r.body] ?? 0) + 1
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  agent.destroy()
  return counts
}

describe('balancing over real sockets', () => {
  const backends: TestBackend[] = []
  before(async () => {
    for (const name of ['a', 'b', 'c']) backends.push(await startBackend(name))
  })
  after(async () => {
    await Promise.all(backends.map((b) => b.close()))
  })

  it('splits 4000 requests 1000:3000 (within 2%) over servers weighted 1:3 with roundrobin', async () => {
    const lb = await startBalancer(backendsYaml(backends.slice(0, 2), '    balance: roundrobin', [1, 3]))
    try {
      const counts = await spread(lb.url(), 4000, 16)
      assert.ok(Math.abs((counts.a ?? 0) - 1000) <= 80, `a got ${counts.a}`)
      assert.ok(Math.abs((counts.b ?? 0) - 3000) <= 80, `b got ${counts.b}`)
    } finally {
      await lb.stop(100)
    }
  })

  it('leastconn sends new requests to the server with fewer requests in flight', async () => {
    let release: () => void = () => undefined
    const held = new Promise<void>((resolve) => (release = resolve))
    const slow = await startBackend('slow', (_req, res) => void held.then(() => res.end('slow')))
    const fast = await startBackend('fast')
    const lb = await startBalancer(backendsYaml([slow, fast], '    balance: leastconn'))
    try {
      // Occupy each server once: the request that lands on "slow" stays in flight.
      const first = request(lb.url())
      const second = request(lb.url())
      await new Promise((r) => setTimeout(r, 100))
      const counts = await spread(lb.url(), 20, 1)
      assert.deepEqual(counts, { fast: 20 })
      release()
      const bodies = [(await first).body, (await second).body].sort()
      assert.deepEqual(bodies, ['fast', 'slow'])
    } finally {
      release()
      await lb.stop(100)
      await slow.close()
      await fast.close()
    }
  })

  it('consistent hashing keeps a key on one server and moves only the keys of a removed server', async () => {
    const extra = '    balance: hash\n    hash_key: header:x-user'
    const keys = Array.from({ length: 300 }, (_, i) => `user-${i}`)
    const assign = async (url: string): Promise<Map<string, string>> => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 8 })
      const map = new Map<string, string>()
      for (const key of keys) {
        const r = await request(url, { agent, headers: { 'x-user': key } })
        map.set(key, r.body)
      }
      agent.destroy()
      return map
    }
    const three = await startBalancer(backendsYaml(backends, extra))
    const two = await startBalancer(backendsYaml(backends.slice(0, 2), extra))
    try {
      const before3 = await assign(three.url())
      const again3 = await assign(three.url())
      assert.deepEqual(again3, before3, 'a key always reaches the same server')
      assert.equal(new Set(before3.values()).size, 3, 'all three servers get keys')
      const after2 = await assign(two.url())
      let moved = 0
      for (const key of keys) {
        if (before3.get(key) === 'c') moved++
        else assert.equal(after2.get(key), before3.get(key), `${key} stayed where it was`)
      }
      assert.ok(moved > 0)
    } finally {
      await three.stop(100)
      await two.stop(100)
    }
  })

  it('cookie persistence keeps a client on the server of its cookie', async () => {
    const lb = await startBalancer(backendsYaml(backends, '    sticky: { cookie: SRV }'))
    try {
      const first = await request(lb.url())
      const cookie = String(first.headers['set-cookie']?.[0]).split(';')[0]!
      assert.match(cookie, /^SRV=/)
      for (let i = 0; i < 10; i++) {
        const r = await request(lb.url(), { headers: { cookie: `theme=dark; ${cookie}` } })
        assert.equal(r.body, first.body)
        assert.equal(r.headers['set-cookie'], undefined, 'no new cookie while the server is kept')
      }
    } finally {
      await lb.stop(100)
    }
  })

  it('uses backup servers only when no regular server is available', async () => {
    const main = await startBackend('main')
    const spare = await startBackend('spare')
    const lb = await startBalancer(balancerYaml({ servers: { main: main.address, spare: `${spare.address}, backup: true` } }))
    try {
      assert.deepEqual(await spread(lb.url(), 10, 2), { main: 10 })
      await main.kill()
      assert.deepEqual(await spread(lb.url(), 10, 2), { spare: 10 })
    } finally {
      await lb.stop(100)
      await spare.close()
    }
  })
})
