import { type BalanceTarget, type Balancer, isEligible } from './balancer.js'

/**
 * Weighted least connections: chooses the server with the lowest (active + 1) / effectiveWeight, i.e. the one that
 * would be least loaded relative to its weight after taking this request (the + 1 makes a heavier server win
 * between idle ones). Equal scores are broken by rotation: the scan starts just after the last chosen server, so
 * idle servers of equal weight take turns instead of the first one taking every request of a quiet period.
 */
export class LeastConnections<T extends BalanceTarget> implements Balancer<T> {
  private readonly servers: readonly T[]
  private start = 0

  constructor(servers: readonly T[]) {
    this.servers = servers.slice()
  }

  pick(_key: string | undefined, skip: ReadonlySet<T> | undefined): T | undefined {
    const { servers } = this
    const count = servers.length
    let best: T | undefined
    let bestIndex = -1
    for (let step = 0; step < count; step++) {
      const index = (this.start + step) % count
      const server = servers[index]
      if (!isEligible(server, skip)) continue
      if (best === undefined || lowerLoad(server, best)) {
        best = server
        bestIndex = index
      }
    }
    if (bestIndex !== -1) this.start = (bestIndex + 1) % count
    return best
  }
}

/**
 * (a.active + 1) / a.weight < (b.active + 1) / b.weight, compared by cross-multiplication: no division, so equal
 * loads compare equal exactly. Both weights are above 0 for eligible servers. Shared with RandomTwoChoices.
 */
export function lowerLoad(a: BalanceTarget, b: BalanceTarget): boolean {
  return (a.active + 1) * b.effectiveWeight < (b.active + 1) * a.effectiveWeight
}
