import { formatHostPort } from '../config/address.js'
import type { HttpFrontend } from '../proxy/http-frontend.js'
import type { Backend } from '../runtime/backend.js'
import type { Server } from '../runtime/server.js'
import type { BackendView, FrontendView, ServerView, ServiceView, StateView } from './balancer-control.js'

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
    last_check: check?.last === undefined ? null : { ok: check.last.ok, detail: check.last.detail, duration_ms: check.last.durationMs },
    release: server.release ?? null,
  }
}

export function buildBackendView(backend: Backend): BackendView {
  return {
    name: backend.name,
    balance: backend.config.balance,
    queue: { current: backend.queue.length, max: backend.queue.max, limit: backend.config.queue_limit },
    retries: backend.retriesTotal,
    servers: backend.servers.map((s) => buildServerView(backend, s)),
  }
}

export function buildFrontendView(frontend: HttpFrontend): FrontendView {
  return {
    name: frontend.name,
    mode: frontend.config.mode,
    listen: frontend.addresses().map(formatHostPort),
    active: frontend.activeRequests,
  }
}

export function buildStateView(frontends: Iterable<HttpFrontend>, backends: Iterable<Backend>, services: ServiceView[]): StateView {
  return { frontends: [...frontends].map(buildFrontendView), backends: [...backends].map(buildBackendView), services }
}
