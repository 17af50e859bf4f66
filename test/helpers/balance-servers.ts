import type { BalanceTarget } from '../../src/balance/balancer.js'

/** A plain mutable server for balancer tests: tests change `available`, `active` and weights between picks. */
export interface TestServer extends BalanceTarget {
  name: string
  effectiveWeight: number
  active: number
  available: boolean
}

/** One available, idle server per weight, named s0, s1, ... */
export function makeServers(...weights: number[]): TestServer[] {
  return weights.map((weight, index) => ({ name: `s${index}`, effectiveWeight: weight, active: 0, available: true }))
}

/** How many times each server was picked (by name), for `picks` calls of `pickOne`. */
export function countPicks(picks: number, pickOne: (call: number) => TestServer | undefined): Map<string, number> {
  const counts = new Map<string, number>()
  for (let call = 0; call < picks; call++) {
    const server = pickOne(call)
    const name = server?.name ?? 'none'
    counts.set(name, (counts.get(name) ?? 0) + 1)
  }
  return counts
}

/** A small seeded PRNG (mulberry32): the same seed gives the same sequence in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) | 0
    let t = Math.imul(state ^ (state >>> 15), 1 | state)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
