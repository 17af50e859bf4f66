// The contract every balancing algorithm keeps, run against each of them.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Balancer } from '../src/balance/balancer.js'
import { ConsistentHash } from '../src/balance/consistent-hash.js'
import { createBalancer } from '../src/balance/create-balancer.js'
import { FirstAvailable } from '../src/balance/first-available.js'
import { LeastConnections } from '../src/balance/least-connections.js'
import { RandomTwoChoices } from '../src/balance/random-two-choices.js'
import { RoundRobin } from '../src/balance/round-robin.js'
import { countPicks, makeServers, seededRandom, type TestServer } from './helpers/balance-servers.js'

interface AlgorithmUnderTest {
  readonly name: string
  readonly create: (servers: readonly TestServer[]) => Balancer<TestServer>
  /** False for `first`, which by design keeps every request on the first server while it is available. */
  readonly spreadsIdleLoad: boolean
  /** True when `active` decides the choice. */
  readonly loadAware: boolean
}

const ALGORITHMS: readonly AlgorithmUnderTest[] = [
  { name: 'RoundRobin', create: (servers) => new RoundRobin(servers), spreadsIdleLoad: true, loadAware: false },
  { name: 'LeastConnections', create: (servers) => new LeastConnections(servers), spreadsIdleLoad: true, loadAware: true },
  {
    name: 'RandomTwoChoices',
    create: (servers) => new RandomTwoChoices(servers, { random: seededRandom(42) }),
    spreadsIdleLoad: true,
    loadAware: true,
  },
  { name: 'FirstAvailable', create: (servers) => new FirstAvailable(servers), spreadsIdleLoad: false, loadAware: false },
  { name: 'ConsistentHash', create: (servers) => new ConsistentHash(servers), spreadsIdleLoad: true, loadAware: false },
]

/** Every pick gets a different key, so the hash algorithm sees many users; the others ignore keys. */
const keyFor = (call: number): string => `user-${call}`

for (const algorithm of ALGORITHMS) {
  describe(`balancer contract: ${algorithm.name}`, () => {
    it('never returns an unavailable server', () => {
      const servers = makeServers(1, 1, 1, 1)
      servers[1].available = false
      servers[3].available = false
      const balancer = algorithm.create(servers)
      const counts = countPicks(500, (call) => balancer.pick(keyFor(call), undefined))
      assert.deepEqual([...counts.keys()].sort(), algorithm.spreadsIdleLoad ? ['s0', 's2'] : ['s0'])
    })

    it('never returns a server with effective weight 0, also when the weight drops to 0 after construction', () => {
      const servers = makeServers(1, 0, 1)
      const balancer = algorithm.create(servers)
      servers[2].effectiveWeight = 0
      const counts = countPicks(500, (call) => balancer.pick(keyFor(call), undefined))
      assert.deepEqual([...counts.entries()], [['s0', 500]])
    })

    it('never returns a server in skip', () => {
      const servers = makeServers(1, 1, 1)
      const balancer = algorithm.create(servers)
      const skip = new Set([servers[0], servers[2]])
      const counts = countPicks(500, (call) => balancer.pick(keyFor(call), skip))
      assert.deepEqual([...counts.entries()], [['s1', 500]])
    })

    it('returns undefined when nothing qualifies', () => {
      const servers = makeServers(1, 1, 1)
      const balancer = algorithm.create(servers)
      assert.equal(balancer.pick('key', new Set(servers)), undefined, 'all skipped')
      for (const server of servers) server.available = false
      assert.equal(balancer.pick('key', undefined), undefined, 'all unavailable')
      assert.equal(balancer.pick(undefined, undefined), undefined, 'all unavailable, no key')
      assert.equal(algorithm.create([]).pick('key', undefined), undefined, 'no servers')
      assert.equal(algorithm.create(makeServers(0, 0)).pick('key', undefined), undefined, 'all weights 0')
    })

    it('picks a server for a request without a key', () => {
      const servers = makeServers(1, 1)
      const balancer = algorithm.create(servers)
      const picked = balancer.pick(undefined, undefined)
      assert.ok(picked !== undefined && servers.includes(picked))
    })

    if (algorithm.spreadsIdleLoad) {
      it('picks every server within a few rounds when all are eligible with equal weight', () => {
        const servers = makeServers(1, 1, 1, 1, 1)
        const balancer = algorithm.create(servers)
        const counts = countPicks(100, (call) => balancer.pick(keyFor(call), undefined))
        assert.deepEqual([...counts.keys()].sort(), ['s0', 's1', 's2', 's3', 's4'])
      })
    }

    it('picks every server when the ones picked fill up (connection limit)', () => {
      const limit = 3
      const servers = makeServers(1, 1, 1, 1)
      const balancer = algorithm.create(servers)
      for (let call = 0; call < servers.length * limit; call++) {
        const server = balancer.pick(keyFor(call), undefined)
        assert.ok(server !== undefined, `pick ${call} found a server`)
        server.active++
        server.available = server.active < limit
      }
      assert.deepEqual(servers.map((server) => server.active), [limit, limit, limit, limit])
      assert.equal(balancer.pick('one more', undefined), undefined)
    })

    it('reads availability live: a server that comes back is picked again', () => {
      const servers = makeServers(1, 1, 1)
      const balancer = algorithm.create(servers)
      servers[0].available = false
      const whileDown = countPicks(300, (call) => balancer.pick(keyFor(call), undefined))
      assert.equal(whileDown.get('s0'), undefined)
      servers[0].available = true
      const afterReturn = countPicks(300, (call) => balancer.pick(keyFor(call), undefined))
      assert.ok((afterReturn.get('s0') ?? 0) > 0, 's0 is picked again')
    })

    if (algorithm.loadAware) {
      it('reads `active` live: a server that becomes busy is avoided, and taken again once idle', () => {
        const servers = makeServers(1, 1)
        const balancer = algorithm.create(servers)
        servers[0].active = 50
        assert.deepEqual([...countPicks(20, () => balancer.pick(undefined, undefined)).entries()], [['s1', 20]])
        servers[0].active = 0
        servers[1].active = 50
        assert.deepEqual([...countPicks(20, () => balancer.pick(undefined, undefined)).entries()], [['s0', 20]])
      })
    }
  })
}

describe('createBalancer', () => {
  it('creates the class of each algorithm', () => {
    const servers = makeServers(1, 1)
    assert.ok(createBalancer('roundrobin', servers) instanceof RoundRobin)
    assert.ok(createBalancer('leastconn', servers) instanceof LeastConnections)
    assert.ok(createBalancer('random', servers) instanceof RandomTwoChoices)
    assert.ok(createBalancer('first', servers) instanceof FirstAvailable)
    assert.ok(createBalancer('hash', servers) instanceof ConsistentHash)
  })
})
