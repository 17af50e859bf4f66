import { emptySnapshot, type HistogramSnapshot } from '../metrics/latency-histogram.js'
import type { Backend } from '../runtime/backend.js'
import type { Server } from '../runtime/server.js'
import type { ReleaseCounters, TrafficSource } from './timeline-recorder.js'

interface MutableCounters {
  requests: number
  errors: number
  latency: HistogramSnapshot
}

/**
 * A service's traffic per release, for release timelines: cumulative counters of its servers, plus those of
 * servers already removed (so that a release's totals never go backwards when its instances stop).
 */
export class ReleaseTraffic implements TrafficSource {
  private readonly retired = new Map<string, MutableCounters>()
  /**
   * The instance counts at the moment since the last sample when the total was highest: an instance that lived
   * less than a second still shows in the timeline, and the counts stay ones that existed together.
   */
  private peak: Record<string, number> | undefined

  constructor(private readonly backend: () => Backend | undefined) {}

  /** Called whenever the service's servers change, so that short-lived peaks reach the timeline. */
  noteInstances(): void {
    const now = this.count()
    if (this.peak === undefined || total(now) > total(this.peak)) this.peak = now
  }

  private count(): Record<string, number> {
    const counts: Record<string, number> = {}
    for (const server of this.backend()?.servers ?? []) {
      if (server.release !== undefined) counts[server.release] = (counts[server.release] ?? 0) + 1
    }
    return counts
  }

  /** Keeps the counters of a server that leaves the backend. */
  retire(server: Server): void {
    if (server.release === undefined) return
    add(this.counters(this.retired, server.release), server)
  }

  sample(): { releases: Record<string, ReleaseCounters>; instances: Record<string, number> } {
    const releases = new Map<string, MutableCounters>()
    for (const [release, counters] of this.retired) {
      releases.set(release, { requests: counters.requests, errors: counters.errors, latency: copy(counters.latency) })
    }
    for (const server of this.backend()?.servers ?? []) {
      if (server.release !== undefined) add(this.counters(releases, server.release), server)
    }
    const current = this.count()
    const instances = this.peak !== undefined && total(this.peak) > total(current) ? this.peak : current
    this.peak = undefined
    return { releases: Object.fromEntries(releases), instances }
  }

  private counters(map: Map<string, MutableCounters>, release: string): MutableCounters {
    let counters = map.get(release)
    if (counters === undefined) {
      counters = { requests: 0, errors: 0, latency: emptySnapshot() }
      map.set(release, counters)
    }
    return counters
  }
}

function total(counts: Record<string, number>): number {
  let sum = 0
  for (const n of Object.values(counts)) sum += n
  return sum
}

function add(into: MutableCounters, server: Server): void {
  into.requests += server.requests
  into.errors += server.errors
  const snapshot = server.latency.snapshot()
  const counts = into.latency.counts
  for (let i = 0; i < counts.length; i++) counts[i]! += snapshot.counts[i]!
  into.latency = { counts, count: into.latency.count + snapshot.count, sum: into.latency.sum + snapshot.sum }
}

function copy(snapshot: HistogramSnapshot): HistogramSnapshot {
  return { counts: Float64Array.from(snapshot.counts), count: snapshot.count, sum: snapshot.sum }
}
