import type { BalanceAlgorithm } from '../config/schema.js'
import type { BalanceTarget, Balancer } from './balancer.js'
import { ConsistentHash } from './consistent-hash.js'
import { FirstAvailable } from './first-available.js'
import { LeastConnections } from './least-connections.js'
import { RandomTwoChoices } from './random-two-choices.js'
import { RoundRobin } from './round-robin.js'

/** The balancer for a backend's `balance` setting, over `servers` in declared order. */
export function createBalancer<T extends BalanceTarget>(algorithm: BalanceAlgorithm, servers: readonly T[]): Balancer<T> {
  switch (algorithm) {
    case 'roundrobin':
      return new RoundRobin(servers)
    case 'leastconn':
      return new LeastConnections(servers)
    case 'random':
      return new RandomTwoChoices(servers)
    case 'first':
      return new FirstAvailable(servers)
    case 'hash':
      return new ConsistentHash(servers)
    default:
      return unknownAlgorithm(algorithm)
  }
}

function unknownAlgorithm(algorithm: never): never {
  throw new Error(`unknown balance algorithm: ${String(algorithm)}`)
}
