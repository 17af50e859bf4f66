import type { Config } from '../config/schema.js'
import type { Logger } from '../log.js'
import type { Backend } from '../runtime/backend.js'
import type { Runtime } from '../runtime/runtime.js'
import type { Server } from '../runtime/server.js'
import { splitOptions } from '../runtime/split-options.js'
import { drainOutcome } from '../runtime/drain-outcome.js'
import type { StateChange } from './plan-state-change.js'

/** How long a server removed by a change of the shared state may take to finish its requests before it closes. */
const REMOVED_SERVER_DRAIN_MS = 30_000

/**
 * Applies planned changes (planStateChange) to the live runtime: the effects half of "a new runtime state". A
 * server that is gone leaves rotation by draining (invariant 1): no new requests, those in flight finish, then
 * its pool closes. A change naming a backend or server this runtime does not have (a balancer whose file
 * differs) is skipped. Returns the servers it took out, draining.
 */
export function applyStateChanges(runtime: Runtime, config: Config, changes: readonly StateChange[], log: Logger): Server[] {
  const removed: Server[] = []
  const relabelled = new Set<Backend>()
  const rotated = new Set<Backend>()
  for (const change of changes) {
    const backend = runtime.backends.get(change.backend)
    if (backend === undefined) continue
    switch (change.kind) {
      case 'remove': {
        const server = backend.serverNamed(change.server)
        if (server === undefined) break
        backend.detachServer(server)
        server.setAdmin('drain')
        // WebSocket and TCP connections get the backend's drain_timeout, then a proper close.
        server.goAwayAfter(backend.config.drain_timeout)
        void drainOutcome(server, REMOVED_SERVER_DRAIN_MS).then(() => server.close())
        removed.push(server)
        log.info({ event: 'server.removed', backend: backend.name, server: server.name, source: 'cluster' }, `server ${server} removed; draining`)
        break
      }
      case 'add': {
        if (backend.serverNamed(change.server) !== undefined) break
        const server = backend.createServer(change.server, change.spec)
        // As the Runtime constructor does: overrides are in place before the server enters rotation.
        if (change.admin !== undefined) server.admin = change.admin
        if (change.weight !== undefined) server.configuredWeight = server.effectiveWeight = change.weight
        backend.addServers([server])
        log.info({ event: 'server.added', backend: backend.name, server: server.name, source: 'cluster' }, `server ${server} added`)
        break
      }
      case 'admin': {
        const server = backend.serverNamed(change.server)
        if (server !== undefined) backend.setAdmin(server, change.admin)
        break
      }
      case 'weight': {
        const server = backend.serverNamed(change.server)
        if (server !== undefined) backend.setWeight(server, change.weight)
        break
      }
      case 'release': {
        const server = backend.serverNamed(change.server)
        if (server === undefined) break
        server.release = change.release
        relabelled.add(backend)
        break
      }
      case 'rotation':
        backend.setRotation(change.rotation)
        rotated.add(backend)
        break
      case 'split': {
        const service = config.services[change.service]
        backend.setSplit(change.split, service === undefined ? undefined : splitOptions(service))
        break
      }
    }
  }
  // Whether a server is in rotation depends on its release: labels changed, so the rotation is evaluated again.
  for (const backend of relabelled) if (!rotated.has(backend)) backend.setRotation(backend.rotationReleases)
  return removed
}
