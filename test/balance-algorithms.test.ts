// Behaviour specific to each balancing algorithm (the shared contract is in balance-contract.test.ts).
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ConsistentHash } from '../src/balance/consistent-hash.js'
import { FirstAvailable } from '../src/balance/first-available.js'
import { LeastConnections } from '../src/balance/least-connections.js'
import { RandomTwoChoices } from '../src/balance/random-two-choices.js'
import { RoundRobin } from '../src/balance/round-robin.js'
import { countPicks, makeServers, seededRandom, type TestServer } from './helpers/balance-servers.js'

function pickNames(count: number, pickOne: () => TestServer | undefined): string[] {
  const names: string[] = []
  for (let i = 0; i < count; i++) names.push(pickOne()?.name ?? 'none')
  return names
}

/**
 * Picks `picks` times with a fixed number of requests in flight: each pick adds a request to the chosen server,
 * and once `inFlight` requests are running the oldest one finishes. Returns the picks per server.
 */
function pickUnderLoad(pickOne: () => TestServer | undefined, picks: number, inFlight: number): Map<string, number> {
  const running: TestServer[] = []
  const counts = new Map<string, number>()
  for (let i = 0; i < picks; i++) {
    const server = pickOne()
    assert.ok(server !== undefined)
    server.active++
    running.push(server)
    if (running.length > inFlight) running.shift()!.active--
    counts.set(server.name, (counts.get(server.name) ?? 0) + 1)
  }
  return counts
}

function assertShare(actual: number, total: number, expected: number, tolerance: number, label: string): void {
  const share = actual / total
  assert.ok(Math.abs(share - expected) <= tolerance, `${label}: share ${share.toFixed(3)}, expected ${expected} ± ${tolerance}`)
}

describe('RoundRobin', () => {
  it('splits 1:3 exactly, one light pick in every 4, never two in a row', () => {
    const servers = makeServers(1, 3)
    const balancer = new RoundRobin(servers)
    const names = pickNames(4000, () => balancer.pick(undefined, undefined))
    assert.equal(names.filter((name) => name === 's0').length, 1000)
    assert.equal(names.filter((name) => name === 's1').length, 3000)
    for (let start = 0; start < names.length; start += 4) {
      assert.equal(names.slice(start, start + 4).filter((name) => name === 's0').length, 1, `window at ${start}`)
    }
    for (let i = 1; i < names.length; i++) assert.ok(!(names[i] === 's0' && names[i - 1] === 's0'), `s0 twice at ${i}`)
    assert.deepEqual(names.slice(0, 4), ['s1', 's0', 's1', 's1'], 'the light server is interleaved, not left for last')
  })

  it('interleaves turns smoothly instead of in bursts', () => {
    const fiveOneOne = new RoundRobin(makeServers(5, 1, 1))
    assert.deepEqual(pickNames(7, () => fiveOneOne.pick(undefined, undefined)), ['s0', 's0', 's1', 's0', 's2', 's0', 's0'])
    const twoThree = new RoundRobin(makeServers(2, 3))
    assert.deepEqual(pickNames(5, () => twoThree.pick(undefined, undefined)), ['s1', 's0', 's1', 's0', 's1'])
  })

  it('applies a weight changed live from the next pick on', () => {
    const servers = makeServers(1, 1)
    const balancer = new RoundRobin(servers)
    const before = countPicks(101, () => balancer.pick(undefined, undefined))
    assert.ok(Math.abs((before.get('s0') ?? 0) - (before.get('s1') ?? 0)) <= 1)
    servers[1].effectiveWeight = 3
    const after = countPicks(4000, () => balancer.pick(undefined, undefined))
    assert.ok(Math.abs((after.get('s0') ?? 0) - 1000) <= 2, `s0 ${after.get('s0')}`)
    servers[0].effectiveWeight = 0.5 // slow start ramps weights through fractions
    const ramped = countPicks(3500, () => balancer.pick(undefined, undefined))
    assert.ok(Math.abs((ramped.get('s0') ?? 0) - 500) <= 2, `s0 ${ramped.get('s0')}`)
  })

  it('spreads over the remaining servers while one is out, and takes it back in', () => {
    const servers = makeServers(1, 1, 1)
    const balancer = new RoundRobin(servers)
    servers[1].available = false
    assert.deepEqual(pickNames(4, () => balancer.pick(undefined, undefined)), ['s0', 's2', 's0', 's2'])
    servers[1].available = true
    const counts = countPicks(300, () => balancer.pick(undefined, undefined))
    for (const name of ['s0', 's1', 's2']) assert.ok(Math.abs((counts.get(name) ?? 0) - 100) <= 2, `${name} ${counts.get(name)}`)
  })
})

describe('LeastConnections', () => {
  it('chooses the server with the fewest requests in flight', () => {
    const servers = makeServers(1, 1, 1)
    servers[0].active = 5
    servers[1].active = 2
    servers[2].active = 3
    const balancer = new LeastConnections(servers)
    assert.equal(balancer.pick(undefined, undefined), servers[1])
    servers[1].active = 4
    assert.equal(balancer.pick(undefined, undefined), servers[2])
  })

  it('keeps requests in flight in proportion to the weights', () => {
    const servers = makeServers(1, 3)
    const balancer = new LeastConnections(servers)
    for (let i = 0; i < 400; i++) balancer.pick(undefined, undefined)!.active++
    assert.deepEqual(servers.map((server) => server.active), [100, 300])
    const counts = pickUnderLoad(() => balancer.pick(undefined, undefined), 4000, 40)
    assertShare(counts.get('s0') ?? 0, 4000, 0.25, 0.01, 's0 under load')
  })

  it('prefers a heavier server between idle ones', () => {
    const servers = makeServers(1, 2)
    assert.equal(new LeastConnections(servers).pick(undefined, undefined), servers[1])
  })

  it('rotates between equally loaded servers', () => {
    const balancer = new LeastConnections(makeServers(1, 1, 1))
    assert.deepEqual(pickNames(6, () => balancer.pick(undefined, undefined)), ['s0', 's1', 's2', 's0', 's1', 's2'])
  })
})

describe('RandomTwoChoices', () => {
  it('splits requests roughly by weight under load', () => {
    const servers = makeServers(1, 3)
    const balancer = new RandomTwoChoices(servers, { random: seededRandom(7) })
    const counts = pickUnderLoad(() => balancer.pick(undefined, undefined), 20_000, 40)
    assertShare(counts.get('s0') ?? 0, 20_000, 0.25, 0.03, 's0')

    const three = makeServers(1, 1, 2)
    const threeBalancer = new RandomTwoChoices(three, { random: seededRandom(11) })
    const threeCounts = pickUnderLoad(() => threeBalancer.pick(undefined, undefined), 20_000, 40)
    assertShare(threeCounts.get('s2') ?? 0, 20_000, 0.5, 0.03, 's2')
  })

  it('draws the two candidates in proportion to weight', () => {
    // Equal load scores make the first draw win, which exposes the draw itself: (active + 1) / weight is 1 for
    // all three servers here.
    const servers = makeServers(1, 2, 4)
    servers[1].active = 1
    servers[2].active = 3
    const balancer = new RandomTwoChoices(servers, { random: seededRandom(3) })
    const counts = countPicks(14_000, () => balancer.pick(undefined, undefined))
    assertShare(counts.get('s0') ?? 0, 14_000, 1 / 7, 0.02, 's0')
    assertShare(counts.get('s2') ?? 0, 14_000, 4 / 7, 0.02, 's2')
  })

  it('favours a less loaded server', () => {
    const servers = makeServers(1, 1, 1)
    servers[0].active = 10
    servers[1].active = 1
    const balancer = new RandomTwoChoices(servers, { random: seededRandom(5) })
    const counts = countPicks(3000, () => balancer.pick(undefined, undefined))
    assert.equal(counts.get('s0'), undefined, 'the busiest server loses every draw')
    // s2 wins both pairs it is drawn in, s1 only the pair with s0: about 2:1.
    assert.ok((counts.get('s2') ?? 0) > 1.5 * (counts.get('s1') ?? 0), `s1 ${counts.get('s1')}, s2 ${counts.get('s2')}`)
  })

  it('is deterministic for a given random function', () => {
    const run = (): string[] => {
      const balancer = new RandomTwoChoices(makeServers(1, 2, 3, 4), { random: seededRandom(99) })
      return pickNames(50, () => balancer.pick(undefined, undefined))
    }
    assert.deepEqual(run(), run())
  })
})

describe('FirstAvailable', () => {
  it('takes the first eligible server in declared order', () => {
    const servers = makeServers(1, 1, 1)
    const balancer = new FirstAvailable(servers)
    assert.deepEqual(pickNames(3, () => balancer.pick(undefined, undefined)), ['s0', 's0', 's0'])
    servers[0].available = false
    assert.equal(balancer.pick(undefined, undefined), servers[1])
    assert.equal(balancer.pick(undefined, new Set([servers[1]])), servers[2])
    servers[0].available = true
    assert.equal(balancer.pick(undefined, undefined), servers[0])
  })
})

describe('ConsistentHash', () => {
  const KEYS = Array.from({ length: 10_000 }, (_, i) => `client-${i}`)

  function assignments(balancer: ConsistentHash<TestServer>): string[] {
    return KEYS.map((key) => balancer.pick(key, undefined)?.name ?? 'none')
  }

  it('sends one key to one server, every time and in every instance', () => {
    const balancer = new ConsistentHash(makeServers(1, 1, 1, 1))
    const first = balancer.pick('203.0.113.7', undefined)
    for (let i = 0; i < 100; i++) assert.equal(balancer.pick('203.0.113.7', undefined), first)
    assert.equal(new ConsistentHash(makeServers(1, 1, 1, 1)).pick('203.0.113.7', undefined)?.name, first?.name)
    assert.equal(balancer.pick(undefined, undefined), balancer.pick('', undefined), 'no key behaves like the key ""')
  })

  it('places servers by name and weight only, not by declared order', () => {
    const servers = makeServers(1, 2, 1, 3)
    assert.deepEqual(assignments(new ConsistentHash([...servers].reverse())), assignments(new ConsistentHash(servers)))
  })

  it('moves only the keys of a removed server', () => {
    const servers = makeServers(1, 1, 1, 1, 1)
    const before = assignments(new ConsistentHash(servers))
    const after = assignments(new ConsistentHash(servers.filter((server) => server.name !== 's2')))
    let moved = 0
    for (let i = 0; i < KEYS.length; i++) {
      if (before[i] === 's2') {
        assert.notEqual(after[i], 's2')
        moved++
      } else {
        assert.equal(after[i], before[i], `${KEYS[i]} stays on ${before[i]}`)
      }
    }
    assertShare(moved, KEYS.length, 0.2, 0.05, 'keys that were on s2')
  })

  it('moves keys only to an added server', () => {
    const servers = makeServers(1, 1, 1, 1, 1, 1)
    const before = assignments(new ConsistentHash(servers.slice(0, 5)))
    const after = assignments(new ConsistentHash(servers))
    let moved = 0
    for (let i = 0; i < KEYS.length; i++) {
      if (after[i] !== before[i]) {
        assert.equal(after[i], 's5', `${KEYS[i]} moved to ${after[i]}`)
        moved++
      }
    }
    assertShare(moved, KEYS.length, 1 / 6, 0.05, 'keys that moved to s5')
  })

  it('gives each server a share of the keys in proportion to its weight', () => {
    // The share depends on where the names' points fall: 3 standard deviations (see POINTS_PER_WEIGHT) allowed.
    const names = assignments(new ConsistentHash(makeServers(1, 3)))
    assertShare(names.filter((name) => name === 's0').length, KEYS.length, 0.25, 0.06, 's0')
  })

  it("sends an unavailable server's keys to the others, keeps every other key, and takes them back", () => {
    const servers = makeServers(1, 1, 1, 1)
    const balancer = new ConsistentHash(servers)
    const before = assignments(balancer)
    servers[1].available = false
    const during = assignments(balancer)
    const movedTo = new Set<string>()
    for (let i = 0; i < KEYS.length; i++) {
      if (before[i] === 's1') movedTo.add(during[i])
      else assert.equal(during[i], before[i])
    }
    assert.deepEqual([...movedTo].sort(), ['s0', 's2', 's3'], 'spread over the successors, not piled on one')
    servers[1].available = true
    assert.deepEqual(assignments(balancer), before)
  })
})
