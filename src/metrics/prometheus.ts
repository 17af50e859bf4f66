import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { DeploymentRecord } from '../deploy/deployment-record.js'
import { VRRP_ROLES } from '../ha/role-file.js'
import type { LoadBalancer } from '../load-balancer.js'
import type { Frontend } from '../proxy/frontend.js'
import type { Backend } from '../runtime/backend.js'
import type { EffectiveState, Server } from '../runtime/server.js'
import { LATENCY_BUCKET_BOUNDS_MS, LATENCY_BUCKET_COUNT, type HistogramSnapshot } from './latency-histogram.js'

/**
 * The balancer's counters in Prometheus text format. Every family is read from the live counters when scraped
 * (prom-client `collect`), so nothing is added to the request path; labels are only names of frontends,
 * backends, servers, services and releases, status codes and states - never paths or clients.
 */
export class PrometheusMetrics {
  readonly contentType: string
  // A registry of its own: the global one would mix in other libraries' metrics and clash between balancers.
  private readonly registry = new Registry()

  constructor(lb: LoadBalancer) {
    this.contentType = this.registry.contentType
    for (const family of families(lb)) this.registry.registerMetric(family)
    this.registry.registerMetric(new DurationHistogram(() => durationSnapshots(lb)))
  }

  render(): Promise<string> {
    return this.registry.metrics()
  }
}

type Labels<L extends string> = Readonly<Record<L, string>>
type Sample<L extends string> = readonly [Labels<L>, number]
type Read<L extends string> = () => Iterable<Sample<L>>
type ServerLabel = 'backend' | 'server'
type Family = Counter<string> | Gauge<string>

const SERVER_LABELS: readonly ServerLabel[] = ['backend', 'server']
const STATES: readonly EffectiveState[] = ['UP', 'DOWN', 'DRAIN', 'MAINT', 'STARTING']

/** A counter whose value is copied from our own counter at scrape time (prom-client counters can only be incremented). */
function counter<L extends string>(name: string, help: string, labelNames: readonly L[], read: Read<L>): Family {
  return new Counter<L>({
    name,
    help,
    labelNames,
    registers: [],
    collect() {
      this.reset()
      for (const [labels, value] of read()) this.inc(labels, value)
    },
  })
}

function gauge<L extends string>(name: string, help: string, labelNames: readonly L[], read: Read<L>): Family {
  return new Gauge<L>({
    name,
    help,
    labelNames,
    registers: [],
    collect() {
      this.reset()
      for (const [labels, value] of read()) this.set(labels, value)
    },
  })
}

function* serversOf(lb: LoadBalancer): Generator<{ backend: Backend; server: Server; labels: Labels<ServerLabel> }> {
  for (const backend of lb.runtime.backends.values()) {
    for (const server of backend.servers) yield { backend, server, labels: { backend: backend.name, server: server.name } }
  }
}

/** One sample per server; `value` returns undefined to leave a server out (e.g. no active checks). */
function perServer(lb: LoadBalancer, value: (server: Server, backend: Backend) => number | undefined): Read<ServerLabel> {
  return function* () {
    for (const { backend, server, labels } of serversOf(lb)) {
      const v = value(server, backend)
      if (v !== undefined) yield [labels, v]
    }
  }
}

function perBackend(lb: LoadBalancer, value: (backend: Backend) => number): Read<'backend'> {
  return function* () {
    for (const backend of lb.runtime.backends.values()) yield [{ backend: backend.name }, value(backend)]
  }
}

function perFrontend(lb: LoadBalancer, value: (frontend: Frontend) => number): Read<'frontend'> {
  return function* () {
    for (const frontend of lb.frontends.values()) yield [{ frontend: frontend.name }, value(frontend)]
  }
}

/** Non-zero status counts as samples; `codes` is indexed by status (100-599). */
function* statusSamples<L extends string>(codes: Float64Array | undefined, labels: Labels<L>): Generator<Sample<L | 'code'>> {
  if (codes === undefined) return
  for (let status = 100; status < 600; status++) {
    const count = codes[status]!
    if (count > 0) yield [{ ...labels, code: String(status) }, count]
  }
}

function families(lb: LoadBalancer): Family[] {
  const server = (name: string, help: string, value: (s: Server, b: Backend) => number | undefined, kind = gauge): Family =>
    kind(name, help, SERVER_LABELS, perServer(lb, value))
  const backend = (name: string, help: string, value: (b: Backend) => number, kind = gauge): Family =>
    kind(name, help, ['backend'], perBackend(lb, value))
  const frontend = (name: string, help: string, value: (f: Frontend) => number, kind = gauge): Family =>
    kind(name, help, ['frontend'], perFrontend(lb, value))
  return [
    counter('switchyard_requests_total', 'Responses a server gave, by frontend and exact status code.', ['frontend', 'backend', 'server', 'code'], function* () {
      for (const { server: s, labels } of serversOf(lb)) {
        for (const [fe, codes] of s.stats.codes) yield* statusSamples(codes, { frontend: fe, ...labels })
      }
    }),
    server('switchyard_server_up', '1 when the server is UP (takes new requests), else 0.', (s) => (s.state === 'UP' ? 1 : 0)),
    gauge('switchyard_server_state', '1 for the server\'s current state (UP, DOWN, DRAIN, MAINT, STARTING), 0 for the others.', ['backend', 'server', 'state'], function* () {
      for (const { server: s, labels } of serversOf(lb)) for (const state of STATES) yield [{ ...labels, state }, s.state === state ? 1 : 0]
    }),
    gauge('switchyard_server_info', 'Always 1; labels tell the release a server runs (empty outside services) and whether it is a backup.', ['backend', 'server', 'release', 'backup'], function* () {
      for (const { server: s, labels } of serversOf(lb)) yield [{ ...labels, release: s.release ?? '', backup: String(s.backup) }, 1]
    }),
    server('switchyard_server_active_requests', 'Requests in flight on the server.', (s) => s.active),
    server('switchyard_server_active_requests_max', 'Most requests in flight on the server at once since it was created.', (s) => s.stats.maxActive),
    server('switchyard_server_weight', 'Configured weight of the server (0-256).', (s) => s.configuredWeight),
    server('switchyard_server_effective_weight', 'Weight the balancing uses now (lower while slow start ramps up).', (s) => s.effectiveWeight),
    server('switchyard_server_bytes_in_total', 'Request body bytes sent to the server.', (s) => s.stats.bytesIn, counter),
    server('switchyard_server_bytes_out_total', 'Response body bytes received from the server.', (s) => s.stats.bytesOut, counter),
    server('switchyard_server_connection_errors_total', 'Attempts that could not connect to the server.', (s) => s.stats.connectionErrors, counter),
    server('switchyard_server_response_errors_total', 'Attempts that failed after connecting: reset, empty or invalid answer, timeout.', (s) => s.stats.responseErrors, counter),
    server('switchyard_server_down_transitions_total', 'Times the server went DOWN (failed checks, refused connections, passive ejection).', (s) => s.downTransitions, counter),
    server('switchyard_server_downtime_seconds_total', 'Time the server has spent DOWN.', (s) => s.downtime / 1000, counter),
    server('switchyard_health_checks_total', 'Active health checks run on the server.', (s, b) => b.checkStatus(s)?.checks, counter),
    server('switchyard_health_check_failures_total', 'Active health checks of the server that failed.', (s, b) => b.checkStatus(s)?.failures, counter),
    server('switchyard_health_check_duration_seconds', 'Duration of the last active health check of the server.', (s, b) => seconds(b.checkStatus(s)?.last?.durationMs)),
    server('switchyard_health_check_last_success', '1 when the last active health check of the server passed, else 0.', (s, b) => bit(b.checkStatus(s)?.last?.ok)),
    backend('switchyard_retries_total', 'Requests retried on another server (or again) after a failed attempt.', (b) => b.retriesTotal, counter),
    backend('switchyard_backend_queue_current', 'Requests waiting in the backend\'s queue for a server.', (b) => b.queue.waiting),
    backend('switchyard_backend_queue_max', 'Most requests waiting in the queue at once.', (b) => b.queue.max),
    backend('switchyard_backend_queue_limit', 'Configured queue length (queue_limit); beyond it requests get 503.', (b) => b.config.queue_limit),
    backend('switchyard_backend_queued_total', 'Requests that entered the queue.', (b) => b.queue.total, counter),
    frontend('switchyard_frontend_requests_total', 'Requests received by the frontend.', (f) => f.stats.requests, counter),
    counter('switchyard_frontend_responses_total', 'Responses the frontend sent, by exact status code (including the balancer\'s own errors).', ['frontend', 'code'], function* () {
      for (const fe of lb.frontends.values()) yield* statusSamples(fe.stats.codes.get(''), { frontend: fe.name })
    }),
    frontend('switchyard_frontend_request_errors_total', 'Requests the balancer refused itself (malformed, too large, timed out, no route).', (f) => f.stats.requestErrors, counter),
    frontend('switchyard_frontend_active_requests', 'Requests in flight on the frontend.', (f) => f.activeRequests),
    frontend('switchyard_frontend_active_requests_max', 'Most requests in flight on the frontend at once.', (f) => f.stats.maxActive),
    frontend('switchyard_frontend_bytes_in_total', 'Request body bytes received from clients.', (f) => f.stats.bytesIn, counter),
    frontend('switchyard_frontend_bytes_out_total', 'Response body bytes sent to clients.', (f) => f.stats.bytesOut, counter),
    counter('switchyard_deployments_total', 'Finished releases by service, strategy and result, since the balancer started.', ['service', 'strategy', 'result'], function* () {
      for (const r of lb.services.results.values()) yield [{ service: r.service, strategy: r.strategy, result: r.result }, r.count]
    }),
    gauge('switchyard_release_traffic_ratio', 'Share of the service\'s requests (0-1) a release gets: the split during a canary, else 1 for the serving release.', ['service', 'release'], () => trafficRatios(lb)),
    gauge('switchyard_deployment_in_progress', '1 while a release of the service runs, else 0.', ['service'], function* () {
      for (const service of Object.keys(lb.config.services)) yield [{ service }, runningRelease(lb, service) === undefined ? 0 : 1]
    }),
    gauge('switchyard_deployment_steps', 'Steps the running release of the service has started so far (0 when none runs).', ['service'], function* () {
      for (const service of Object.keys(lb.config.services)) yield [{ service }, runningRelease(lb, service)?.steps.length ?? 0]
    }),
    gauge('switchyard_vrrp_role', '1 for the VRRP role keepalived last reported for this balancer (MASTER, BACKUP, FAULT, STOP; unknown without a report), 0 for the others.', ['role'], function* () {
      const current = lb.vrrp.view().role
      for (const role of VRRP_ROLES) yield [{ role }, role === current ? 1 : 0]
    }),
  ]
}

function seconds(ms: number | undefined): number | undefined {
  return ms === undefined ? undefined : ms / 1000
}

function bit(flag: boolean | undefined): number | undefined {
  return flag === undefined ? undefined : flag ? 1 : 0
}

function* trafficRatios(lb: LoadBalancer): Generator<Sample<'service' | 'release'>> {
  for (const service of Object.keys(lb.config.services)) {
    const { version, split } = lb.serviceState(service)
    const total = (split ?? []).reduce((sum, e) => sum + Math.max(0, e.weight), 0)
    if (split !== undefined && total > 0) {
      for (const e of split) yield [{ service, release: e.release }, Math.max(0, e.weight) / total]
    } else if (version !== undefined) {
      yield [{ service, release: version }, 1]
    }
  }
}

function runningRelease(lb: LoadBalancer, service: string): DeploymentRecord | undefined {
  try {
    return lb.services.controller(service).active
  } catch {
    // A reload swaps the configuration before the services catch up: a new service has no controller for a moment.
    return undefined
  }
}

/**
 * Exported bucket bounds in ms: a readable subset of the 274 fine buckets. A fine bucket counts under the first
 * exported bound at or above its upper bound, so a request is never counted below its duration; one within 5%
 * under a bound may be counted at the next one (the fine buckets' resolution).
 */
const EXPORTED_BOUNDS_MS: readonly number[] = [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000]

/** For each fine bucket, the exported bucket it falls in (EXPORTED_BOUNDS_MS.length: only +Inf). */
const EXPORTED_INDEX: readonly number[] = Array.from({ length: LATENCY_BUCKET_COUNT }, (_, i) => {
  const upper = LATENCY_BUCKET_BOUNDS_MS[i] ?? Infinity
  const j = EXPORTED_BOUNDS_MS.findIndex((bound) => upper <= bound)
  return j < 0 ? EXPORTED_BOUNDS_MS.length : j
})

/** Cumulative counts at each exported bound (without +Inf, which is the snapshot's count). */
export function exportedBuckets(snapshot: HistogramSnapshot): number[] {
  const counts = new Array<number>(EXPORTED_BOUNDS_MS.length + 1).fill(0)
  for (let i = 0; i < LATENCY_BUCKET_COUNT; i++) counts[EXPORTED_INDEX[i]!]! += snapshot.counts[i]!
  for (let j = 1; j < counts.length; j++) counts[j]! += counts[j - 1]!
  return counts.slice(0, EXPORTED_BOUNDS_MS.length)
}

function* durationSnapshots(lb: LoadBalancer): Generator<readonly [Labels<ServerLabel>, HistogramSnapshot]> {
  for (const { server, labels } of serversOf(lb)) yield [labels, server.latency.snapshot()]
}

/** The shape prom-client's registry renders a histogram from (see its own Histogram#getForPromString). */
interface HistogramValue {
  metricName: string
  labels: Record<string, string | number>
  sharedLabels: Record<string, string>
  value: number
}

const DURATION = 'switchyard_request_duration_seconds'
const DURATION_HELP = 'Time from sending a request to a server to the last byte of its response.'

/**
 * Request durations per server, from each server's fine latency histogram. prom-client histograms can only be
 * fed one observation at a time, so this one answers the registry's render call from the snapshots instead.
 */
class DurationHistogram extends Histogram<ServerLabel> {
  constructor(private readonly read: () => Iterable<readonly [Labels<ServerLabel>, HistogramSnapshot]>) {
    super({
      name: DURATION,
      help: DURATION_HELP,
      labelNames: SERVER_LABELS,
      buckets: EXPORTED_BOUNDS_MS.map((ms) => ms / 1000),
      registers: [],
    })
  }

  // Called by Registry#metrics in place of get() when present; prom-client's get() splays its result for JSON.
  async getForPromString(): Promise<{ name: string; help: string; type: 'histogram'; values: HistogramValue[]; aggregator: 'sum' }> {
    const values: HistogramValue[] = []
    for (const [labels, snapshot] of this.read()) {
      const cumulative = exportedBuckets(snapshot)
      const sample = (suffix: string, le: Record<string, string | number>, value: number): void => {
        values.push({ metricName: `${DURATION}${suffix}`, labels: { ...labels, ...le }, sharedLabels: {}, value })
      }
      EXPORTED_BOUNDS_MS.forEach((ms, j) => sample('_bucket', { le: ms / 1000 }, cumulative[j]!))
      sample('_bucket', { le: '+Inf' }, snapshot.count)
      sample('_sum', {}, snapshot.sum / 1000)
      sample('_count', {}, snapshot.count)
    }
    return { name: DURATION, help: DURATION_HELP, type: 'histogram', values, aggregator: 'sum' }
  }
}
