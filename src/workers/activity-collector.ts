import type { ControlLink } from '../runtime/backend.js'
import type { DataPlane } from '../runtime/data-plane.js'
import type { Server } from '../runtime/server.js'
import type { TrafficStats } from '../metrics/traffic-stats.js'
import type { BackendActivity, FromWorker, FrontendActivity, ServerActivity } from './worker-messages.js'
import type { SnapshotApplier } from './runtime-snapshot.js'

type Report = Extract<FromWorker, { type: 'report' }>
type Outcome = [id: number, failed: boolean, count: number]

/**
 * A worker's side of the counters: what its data plane counted since the last report is taken out (the worker
 * keeps nothing: the control plane adds it to its own servers and frontends, which every view reads), and what
 * its backends saw of servers (outcomes for passive checks, refused connections) goes with it.
 */
export class ActivityCollector implements ControlLink {
  private outcomes: Outcome[] = []
  private readonly lastRun = new Map<number, Outcome>()
  private down: [number, string][] = []

  constructor(
    private readonly applier: SnapshotApplier,
    /** Asks for a report soon (a server failed: the control plane should know at once). */
    private readonly urgent: () => void,
  ) {}

  observe(server: Server, failed: boolean): void {
    // Successes only reset a run of failures: they matter to passive checks alone.
    if (!failed && !this.passive(server)) return
    const id = this.applier.idOf.get(server)
    if (id === undefined) return
    const run = this.lastRun.get(id)
    if (run !== undefined && run[1] === failed) {
      run[2]++
      return
    }
    const next: Outcome = [id, failed, 1]
    this.outcomes.push(next)
    this.lastRun.set(id, next)
  }

  serverDown(server: Server, reason: string): void {
    const id = this.applier.idOf.get(server)
    if (id === undefined) return
    this.down.push([id, reason])
    this.urgent()
  }

  /** Counters since the last call, gauges now; counters start again from zero. */
  take(plane: DataPlane, version: number, leaving: ReadonlySet<Server>): Report {
    const servers: ServerActivity[] = []
    const seen = new Set<Server>()
    const add = (server: Server): void => {
      if (seen.has(server)) return
      seen.add(server)
      const id = this.applier.idOf.get(server)
      if (id === undefined) return
      const activity = takeServer(server, id)
      if (activity !== undefined) servers.push(activity)
    }
    for (const backend of plane.runtime.backends.values()) for (const server of backend.servers) add(server)
    for (const server of leaving) add(server)
    const frontends: FrontendActivity[] = []
    for (const frontend of plane.frontends.values()) {
      const stats = frontend.stats
      const codes = takeCodes(stats).filter(([fe]) => fe === '').map(([, status, n]) => [status, n] as const)
      frontends.push({
        name: frontend.name,
        active: frontend.activeRequests,
        requests: stats.requests,
        requestErrors: stats.requestErrors,
        bytesIn: stats.bytesIn,
        bytesOut: stats.bytesOut,
        codes,
      })
      stats.requests = stats.requestErrors = stats.bytesIn = stats.bytesOut = 0
    }
    const backends: BackendActivity[] = []
    for (const backend of plane.runtime.backends.values()) {
      backends.push({ name: backend.name, retries: backend.retriesTotal, queued: backend.queue.total, waiting: backend.queue.length })
      backend.retriesTotal = 0
      backend.queue.total = 0
    }
    const report: Report = { type: 'report', version, servers, frontends, backends, outcomes: this.outcomes, down: this.down }
    this.outcomes = []
    this.lastRun.clear()
    this.down = []
    return report
  }

  private passive(server: Server): boolean {
    return this.passiveBackends.has(server.backendName)
  }

  /** Names of the backends with `passive:` (set by the worker whenever its configuration changes). */
  passiveBackends: ReadonlySet<string> = new Set()
}

/** One server's counters since the last report; undefined when nothing happened and nothing is in flight. */
function takeServer(server: Server, id: number): ServerActivity | undefined {
  const stats = server.stats
  if (server.requests === 0 && server.active === 0 && stats.connectionErrors === 0 && stats.responseErrors === 0 && server.latency.count === 0) return undefined
  const latency = server.latency.takeBuckets()
  const activity: ServerActivity = {
    id,
    active: server.active,
    requests: server.requests,
    errors: server.errors,
    bytesIn: stats.bytesIn,
    bytesOut: stats.bytesOut,
    connectionErrors: stats.connectionErrors,
    responseErrors: stats.responseErrors,
    codes: takeCodes(stats),
    latency: latency.buckets,
    latencyCount: latency.count,
    latencySum: latency.sum,
  }
  server.requests = server.errors = 0
  stats.bytesIn = stats.bytesOut = stats.connectionErrors = stats.responseErrors = 0
  return activity
}

/** The answers counted by status since the last call, as [frontend, status, count]; the counts start again. */
function takeCodes(stats: TrafficStats): [string, number, number][] {
  const out: [string, number, number][] = []
  for (const [frontend, counts] of stats.codes) {
    for (let status = 100; status < 600; status++) {
      if (counts[status] === 0) continue
      out.push([frontend, status, counts[status]!])
      counts[status] = 0
    }
  }
  return out
}
