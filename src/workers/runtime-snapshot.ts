import { formatHostPort, parseHostPort } from '../config/address.js'
import type { Logger } from '../log.js'
import type { Backend } from '../runtime/backend.js'
import { drainOutcome } from '../runtime/drain-outcome.js'
import type { Runtime } from '../runtime/runtime.js'
import type { Server } from '../runtime/server.js'
import type { BackendSnapshot, RuntimeSnapshot, ServerSnapshot } from './worker-messages.js'

/** How long a server the control plane removed may finish its requests in a worker before its pool closes. */
const REMOVED_DRAIN_MS = 30_000

/** Ids the control plane gives its server objects (a server replaced under the same name gets a new one). */
export class ServerIds {
  private readonly ids = new WeakMap<Server, number>()
  private readonly servers = new Map<number, WeakRef<Server>>()
  private next = 1

  idOf(server: Server): number {
    let id = this.ids.get(server)
    if (id === undefined) {
      id = this.next++
      this.ids.set(server, id)
      this.servers.set(id, new WeakRef(server))
    }
    return id
  }

  /** The server with this id, while it lives. */
  serverOf(id: number): Server | undefined {
    const server = this.servers.get(id)?.deref()
    if (server === undefined) this.servers.delete(id)
    return server
  }
}

/** The control plane's runtime as the workers need it: every server's identity and state, splits, rotation. */
export function takeSnapshot(runtime: Runtime, ids: ServerIds): RuntimeSnapshot {
  const backends: BackendSnapshot[] = []
  for (const backend of runtime.backends.values()) {
    backends.push({
      name: backend.name,
      rotation: backend.rotationReleases ?? null,
      split:
        backend.split === undefined
          ? null
          : {
              entries: backend.split.entries.map((e) => ({ release: e.release, weight: e.weight })),
              cookie: backend.splitOptions.cookie ?? null,
              forceHeader: backend.splitOptions.forceHeader ?? null,
            },
      preview: backend.preview ?? null,
      servers: backend.servers.map((s) => ({
        id: ids.idOf(s),
        name: s.name,
        identity: s.identity,
        address: formatHostPort(s.address),
        backup: s.backup,
        maxConnections: s.maxConnections,
        release: s.release ?? null,
        weight: s.configuredWeight,
        effectiveWeight: s.effectiveWeight,
        admin: s.admin,
        health: s.health,
        ejected: s.ejected,
      })),
    })
  }
  return { backends }
}

/**
 * A worker's side: makes its runtime obey the control plane's snapshot. Servers are matched by id (or, for a
 * server the worker built itself from the configuration, by name and identity); a server the snapshot no longer
 * has leaves rotation at once and drains like a removed one. `onLeaving` is told of servers that still have
 * requests in flight (their counts keep being reported until they are done).
 */
export class SnapshotApplier {
  /** Control-plane id of each server of this worker. */
  readonly idOf = new WeakMap<Server, number>()
  readonly byId = new Map<number, Server>()

  constructor(private readonly log: Logger) {}

  apply(runtime: Runtime, snapshot: RuntimeSnapshot, onLeaving: (server: Server) => void): void {
    for (const b of snapshot.backends) {
      const backend = runtime.backends.get(b.name)
      if (backend === undefined) continue
      backend.mirroring = true
      try {
        this.applyBackend(backend, b, onLeaving)
      } finally {
        backend.mirroring = false
      }
    }
  }

  private applyBackend(backend: Backend, b: BackendSnapshot, onLeaving: (server: Server) => void): void {
    const wanted = new Map(b.servers.map((s) => [s.name, s]))
    for (const server of [...backend.servers]) {
      const want = wanted.get(server.name)
      if (want !== undefined && this.matches(server, want)) continue
      this.leave(backend, server, onLeaving)
    }
    const added: Server[] = []
    for (const want of b.servers) {
      if (backend.serverNamed(want.name) !== undefined) continue
      const address = parseHostPort(want.address)
      if (typeof address === 'string') {
        this.log.error({ event: 'worker.bad_snapshot', backend: backend.name, server: want.name }, address)
        continue
      }
      const server = backend.createServer(want.name, {
        address,
        weight: want.weight,
        backup: want.backup,
        max_connections: want.maxConnections,
        release: want.release ?? undefined,
      })
      this.bind(server, want.id)
      added.push(server)
    }
    if (added.length > 0) backend.addServers(added, { slowStart: false })

    if (JSON.stringify(backend.rotationReleases ?? null) !== JSON.stringify(b.rotation)) backend.setRotation(b.rotation ?? undefined)
    const split = backend.split === undefined ? null : backend.split.entries.map((e) => ({ release: e.release, weight: e.weight }))
    const options = { cookie: b.split?.cookie ?? undefined, forceHeader: b.split?.forceHeader ?? undefined }
    if (JSON.stringify(split) !== JSON.stringify(b.split?.entries ?? null) || JSON.stringify(options) !== JSON.stringify(backend.splitOptions)) {
      backend.setSplit(b.split === null ? undefined : b.split.entries.map((e) => ({ ...e })), b.split === null ? backend.splitOptions : options)
    }
    backend.preview = b.preview ?? undefined

    let weights = false
    for (const want of b.servers) {
      const server = backend.serverNamed(want.name)
      if (server === undefined) continue
      if (server.release !== (want.release ?? undefined)) {
        server.release = want.release ?? undefined
        weights = true
      }
      if (server.configuredWeight !== want.weight || server.effectiveWeight !== want.effectiveWeight) {
        server.configuredWeight = want.weight
        server.effectiveWeight = want.effectiveWeight
        weights = true
      }
      if (server.admin !== want.admin) backend.setAdmin(server, want.admin)
      server.setHealth(want.health, 'control plane')
      server.setEjected(want.ejected, 'control plane')
    }
    if (weights) {
      // A release change moves a server between versions (in-place deploy): rotation follows it.
      backend.setRotation(b.rotation ?? undefined)
      backend.rebuild()
    }
  }

  private matches(server: Server, want: ServerSnapshot): boolean {
    const id = this.idOf.get(server)
    if (id !== undefined) return id === want.id
    if (server.identity !== want.identity) return false
    this.bind(server, want.id)
    return true
  }

  private bind(server: Server, id: number): void {
    this.idOf.set(server, id)
    this.byId.set(id, server)
  }

  private leave(backend: Backend, server: Server, onLeaving: (server: Server) => void): void {
    backend.detachServer(server)
    server.setAdmin('drain')
    server.goAwayAfter(backend.config.drain_timeout)
    if (server.active > 0) onLeaving(server)
    void drainOutcome(server, REMOVED_DRAIN_MS).then(() => {
      const id = this.idOf.get(server)
      if (id !== undefined && this.byId.get(id) === server) this.byId.delete(id)
      return server.close()
    })
  }
}
