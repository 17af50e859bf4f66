import { formatHostPort } from '../config/address.js'
import type { Frontend } from '../proxy/frontend.js'
import type { Backend } from '../runtime/backend.js'
import type { TrafficStats } from '../metrics/traffic-stats.js'
import type { Server } from '../runtime/server.js'
import type { HaView } from '../ha/role-file.js'
import type { BackendView, FrontendView, ServerView, ServiceView, StateView, TrafficView } from './balancer-control.js'

/** The admin views of the live runtime (pure reads: nothing here changes state). */
export function buildServerView(backend: Backend, server: Server): ServerView {
  const check = backend.checkStatus(server)
  return {
    name: server.name,
    backend: backend.name,
    address: formatHostPort(server.address),
    weight: server.configuredWeight,
    effective_weight: server.effectiveWeight,
    backup: server.backup,
    admin: server.admin,
    health: server.health,
    state: server.state,
    active: server.active,
    requests: server.requests,
    failures: server.failures,
    max_connections: server.maxConnections,
    last_change: server.lastChange,
    last_check:
      check?.last === undefined
        ? null
        : { ok: check.last.ok, detail: check.last.detail, duration_ms: check.last.durationMs, code: check.last.code ?? null },
    release: server.release ?? null,
    traffic: trafficView(server.stats, server.requests),
    downtime_ms: server.downtime,
    down_transitions: server.downTransitions,
    check_counts: check === undefined ? null : { checks: check.checks, failures: check.failures },
  }
}

export function buildBackendView(backend: Backend): BackendView {
  return {
    name: backend.name,
    balance: backend.config.balance,
    queue: { current: backend.queue.waiting, max: backend.queue.max, limit: backend.config.queue_limit },
    retries: backend.retriesTotal,
    servers: backend.servers.map((s) => buildServerView(backend, s)),
    split: backend.split === undefined ? null : backend.split.entries.map((e) => ({ release: e.release, weight: e.weight })),
  }
}

export function buildFrontendView(frontend: Frontend): FrontendView {
  return {
    name: frontend.name,
    mode: frontend.config.mode,
    listen: frontend.addresses().map(formatHostPort),
    active: frontend.activeRequests,
    traffic: trafficView(frontend.stats, frontend.stats.requests),
  }
}

/** `requests` is passed in: a server counts its requests itself, a frontend in its stats. */
function trafficView(stats: TrafficStats, requests: number): TrafficView {
  return {
    requests,
    bytes_in: stats.bytesIn,
    bytes_out: stats.bytesOut,
    max_active: stats.maxActive,
    request_errors: stats.requestErrors,
    connection_errors: stats.connectionErrors,
    response_errors: stats.responseErrors,
    responses: {
      '1xx': stats.statusClass(1),
      '2xx': stats.statusClass(2),
      '3xx': stats.statusClass(3),
      '4xx': stats.statusClass(4),
      '5xx': stats.statusClass(5),
    },
  }
}

export function buildStateView(frontends: Iterable<Frontend>, backends: Iterable<Backend>, services: ServiceView[], ha?: HaView): StateView {
  return { frontends: [...frontends].map(buildFrontendView), backends: [...backends].map(buildBackendView), services, ...(ha === undefined ? {} : { ha }) }
}
