import { type BalanceTarget, type Balancer, isEligible } from './balancer.js'
import { lowerLoad } from './least-connections.js'

export interface RandomTwoChoicesOptions {
  /** Returns a number in [0, 1), like Math.random (the default). Tests pass a seeded generator. */
  readonly random?: () => number
}

/**
 * Power of two random choices: draws two distinct eligible servers at random, each with probability proportional
 * to its effective weight, and takes the one with the lower (active + 1) / effectiveWeight. Nearly as even as least
 * connections, but without every balancer (or every process) herding onto the same least-loaded server at once.
 * With a single eligible server, that server is taken.
 */
export class RandomTwoChoices<T extends BalanceTarget> implements Balancer<T> {
  private readonly servers: readonly T[]
  private readonly random: () => number

  constructor(servers: readonly T[], options: RandomTwoChoicesOptions = {}) {
    this.servers = servers.slice()
    this.random = options.random ?? Math.random
  }

  pick(_key: string | undefined, skip: ReadonlySet<T> | undefined): T | undefined {
    const { servers } = this
    let totalWeight = 0
    let eligibleCount = 0
    let onlyEligible = -1
    for (let i = 0; i < servers.length; i++) {
      const server = servers[i]
      if (!isEligible(server, skip)) continue
      totalWeight += server.effectiveWeight
      eligibleCount++
      onlyEligible = i
    }
    if (eligibleCount === 0) return undefined
    if (eligibleCount === 1) return servers[onlyEligible]

    const first = this.draw(skip, totalWeight, -1)
    const second = this.draw(skip, totalWeight - servers[first].effectiveWeight, first)
    return lowerLoad(servers[second], servers[first]) ? servers[second] : servers[first]
  }

  /**
   * Index of an eligible server other than `excluded`, drawn with probability proportional to weight;
   * `totalWeight` is the total weight of those candidates.
   */
  private draw(skip: ReadonlySet<T> | undefined, totalWeight: number, excluded: number): number {
    const { servers } = this
    let remaining = this.random() * totalWeight
    let last = -1
    for (let i = 0; i < servers.length; i++) {
      const server = servers[i]
      if (i === excluded || !isEligible(server, skip)) continue
      remaining -= server.effectiveWeight
      if (remaining < 0) return i
      last = i
    }
    return last // only reached when rounding left `remaining` at or just above 0
  }
}
