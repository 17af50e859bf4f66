/**
 * The one interface every balancing algorithm implements. An algorithm sees servers only through
 * `BalanceTarget`; whether a server may take a request (`available`) is decided by the runtime
 * (admin state, health, connection limit). Backup servers and cookie persistence are handled by the
 * backend around the algorithm, so an algorithm only chooses among the servers it was built with.
 */
export interface BalanceTarget {
  readonly name: string
  /** Effective weight (configured weight, possibly ramped by slow start). 0 = never chosen. */
  readonly effectiveWeight: number
  /** Requests currently in flight on this server. */
  readonly active: number
  /** True when the server may take a new request now. */
  readonly available: boolean
}

export interface Balancer<T extends BalanceTarget> {
  /**
   * Chooses a server among the available ones with a weight above 0 and not in `skip` (servers already
   * tried by this request). `key` is the request's hash key (only the hash algorithm reads it).
   * Returns undefined when no server qualifies. Must not allocate on the common path.
   */
  pick(key: string | undefined, skip: ReadonlySet<T> | undefined): T | undefined
}

export type BalancerFactory = <T extends BalanceTarget>(servers: readonly T[]) => Balancer<T>

/** True when `server` may be chosen for this request. Shared by every algorithm. */
export function isEligible<T extends BalanceTarget>(server: T, skip: ReadonlySet<T> | undefined): boolean {
  return server.available && server.effectiveWeight > 0 && (skip === undefined || !skip.has(server))
}
