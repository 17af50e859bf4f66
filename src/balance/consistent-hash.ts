import { type BalanceTarget, type Balancer, isEligible } from './balancer.js'
import { hash32 } from './hash-function.js'

/**
 * Points on the ring per unit of weight, as in ketama (nginx, libmemcached). A server of weight 1 among weights 1:3
 * then gets 25% of the keys give or take about 2 percentage points (one standard deviation, depending on the names);
 * more points would even that out further but make the ring of heavy servers (weight up to 256) slow to build.
 */
export const POINTS_PER_WEIGHT = 160

/**
 * Consistent hashing on a ring. Each server owns round(weight * POINTS_PER_WEIGHT) points placed at
 * hash32(`${name}#${i}`), so where a server sits depends only on its own name and weight: a server joining or
 * leaving moves only the keys that go to it or came from it. A key goes to the owner of the first point at or after
 * hash32(key), walking clockwise past owners that are not eligible for this request, so an unavailable server's
 * keys spread over its ring successors while every other key stays put, and come back when it does.
 * A request without a key is treated as the key '' (deterministic, like every other key).
 *
 * Weights are read once, here: the ring is the expensive part, so the backend builds a new ConsistentHash when the
 * server list or a configured weight changes. A live weight of 0 (or any other ineligibility) is still honoured at
 * each pick, but a server that had weight 0 when the ring was built owns no points until the next build.
 */
export class ConsistentHash<T extends BalanceTarget> implements Balancer<T> {
  private readonly servers: readonly T[]
  /** Point positions, ascending. */
  private readonly points: Uint32Array
  /** owners[i] is the index in `servers` of the server that owns points[i]. */
  private readonly owners: Uint32Array
  /** Points owned by each server; a server with none can never be reached on the ring. */
  private readonly pointCounts: Uint32Array

  constructor(servers: readonly T[]) {
    this.servers = servers.slice()
    const pointCounts = this.servers.map((server) => Math.max(0, Math.round(server.effectiveWeight * POINTS_PER_WEIGHT)))
    this.pointCounts = Uint32Array.from(pointCounts)
    const totalPoints = pointCounts.reduce((sum, count) => sum + count, 0)

    // Each point is packed as position * serverCount + owner into one float64 (exact below 2^53), so one numeric
    // sort orders the ring; equal positions (rare) are ordered by declared order.
    const serverCount = this.servers.length
    const packed = new Float64Array(totalPoints)
    let next = 0
    for (let owner = 0; owner < serverCount; owner++) {
      const name = this.servers[owner].name
      for (let i = 0; i < pointCounts[owner]; i++) packed[next++] = hash32(`${name}#${i}`) * serverCount + owner
    }
    packed.sort()

    this.points = new Uint32Array(totalPoints)
    this.owners = new Uint32Array(totalPoints)
    for (let i = 0; i < totalPoints; i++) {
      const owner = packed[i] % serverCount
      this.owners[i] = owner
      this.points[i] = (packed[i] - owner) / serverCount
    }
  }

  pick(key: string | undefined, skip: ReadonlySet<T> | undefined): T | undefined {
    const { points, owners, servers } = this
    if (points.length === 0) return undefined
    let index = firstPointAtOrAfter(points, hash32(key ?? ''))
    const owner = servers[owners[index]]
    if (isEligible(owner, skip)) return owner

    // The usual owner is out: make sure some server with points is eligible, then walk to it.
    if (!this.anyEligible(skip)) return undefined
    for (;;) {
      index = index + 1 === points.length ? 0 : index + 1
      const candidate = servers[owners[index]]
      if (isEligible(candidate, skip)) return candidate
    }
  }

  private anyEligible(skip: ReadonlySet<T> | undefined): boolean {
    const { servers } = this
    for (let i = 0; i < servers.length; i++) {
      if (this.pointCounts[i] > 0 && isEligible(servers[i], skip)) return true
    }
    return false
  }
}

/** Binary search: index of the first point >= position, wrapping to 0 past the last point. */
function firstPointAtOrAfter(points: Uint32Array, position: number): number {
  let low = 0
  let high = points.length
  while (low < high) {
    const middle = (low + high) >>> 1
    if (points[middle] < position) low = middle + 1
    else high = middle
  }
  return low === points.length ? 0 : low
}
