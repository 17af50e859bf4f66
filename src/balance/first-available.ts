import { type BalanceTarget, type Balancer, isEligible } from './balancer.js'

/**
 * The first eligible server in declared order (HAProxy's `balance first`). With per-server connection limits a
 * full server stops being `available`, so servers fill up one after the other and the last ones stay idle -
 * which lets spare servers be stopped or scaled down when traffic is low.
 */
export class FirstAvailable<T extends BalanceTarget> implements Balancer<T> {
  private readonly servers: readonly T[]

  constructor(servers: readonly T[]) {
    this.servers = servers.slice()
  }

  pick(_key: string | undefined, skip: ReadonlySet<T> | undefined): T | undefined {
    const { servers } = this
    for (let i = 0; i < servers.length; i++) {
      const server = servers[i]
      if (isEligible(server, skip)) return server
    }
    return undefined
  }
}
