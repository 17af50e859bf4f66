import { type BalanceTarget, type Balancer, isEligible } from './balancer.js'

/**
 * Smooth weighted round-robin (the nginx algorithm). On each pick every eligible server's `current` grows by its
 * effective weight, the server with the highest `current` is chosen, and the total eligible weight is taken off
 * it. Over any run of picks each server's share follows its weight, and a heavy server's turns are spread between
 * the others' instead of coming in a burst (weights 5:1:1 give a a b a c a a, not a a a a a b c).
 *
 * Weights are read at every pick, so a weight changed live (slow start, admin) takes effect at once. Servers that
 * are not eligible for a pick are left out of it and keep their `current` untouched.
 */
export class RoundRobin<T extends BalanceTarget> implements Balancer<T> {
  private readonly servers: readonly T[]
  private readonly current: Float64Array

  constructor(servers: readonly T[]) {
    this.servers = servers.slice()
    this.current = new Float64Array(this.servers.length)
  }

  pick(_key: string | undefined, skip: ReadonlySet<T> | undefined): T | undefined {
    const { servers, current } = this
    let best = -1
    let totalWeight = 0
    for (let i = 0; i < servers.length; i++) {
      const server = servers[i]
      if (!isEligible(server, skip)) continue
      const weight = server.effectiveWeight
      current[i] += weight
      totalWeight += weight
      if (best === -1 || current[i] > current[best]) best = i
    }
    if (best === -1) return undefined
    current[best] -= totalWeight
    return servers[best]
  }
}
