import { parseHostPort } from '../config/address.js'
import { DEFAULTS } from '../config/defaults.js'
import { SwitchyardError } from '../errors.js'
import type { Config } from '../config/schema.js'
import type { Logger } from '../log.js'
import { Backend, type ControlLink } from './backend.js'
import type { EventBus } from './event-bus.js'
import { splitOptions } from './split-options.js'
import { serverKey, type RuntimeState } from './runtime-state.js'
import { serverIdentity, type Server, type ServerSpec } from './server.js'

/**
 * The live graph built from one configuration snapshot and the runtime state: backends with their servers,
 * balancers, checks and queues. A reload builds the next Runtime with `previous`: servers whose identity is
 * unchanged are adopted with their health, counters and connection pools (invariant 5); the others of the
 * previous runtime are returned by `leftBehind()` to be drained.
 */
export class Runtime {
  readonly config: Config
  readonly backends: ReadonlyMap<string, Backend>
  private readonly adopted = new Set<Server>()

  /** `control`: set in a data-plane worker, whose backends leave checks and decisions to the control plane. */
  constructor(config: Config, log: Logger, state: RuntimeState, events: EventBus, previous?: Runtime, control?: ControlLink) {
    this.config = config
    const backends = new Map<string, Backend>()
    for (const [name, backendConfig] of Object.entries(config.backends)) {
      const backend = new Backend(name, backendConfig, log, events, control)
      const old = previous?.backends.get(name)
      const service = serviceOf(config, name)
      const serviceState = service === undefined ? undefined : state.services[service]
      const fixedRelease = (server: string): string | undefined => serviceState?.server_versions?.[server] ?? serviceState?.version
      // A server of the file that was removed and added again through the API (an address change, say) runs as
      // added: the API acted after the file was written. (Resilience suite, backend-faults.test.ts: a reload of an
      // unchanged file used to bring back the old address. A reload that edits that server drops the added entry,
      // see LoadBalancer.stateForReload.)
      const specs: [string, ServerSpec][] = Object.entries(backendConfig.servers)
        .filter(([server]) => !state.removed.includes(serverKey(name, server)))
        .map(([server, c]) => {
          const spec = addedSpec(state.added[serverKey(name, server)]) ?? c
          return [server, service === undefined ? spec : { ...spec, release: fixedRelease(server) }]
        })
      for (const [key, added] of Object.entries(state.added)) {
        const [b, server] = splitKey(key)
        if (b !== name || backendConfig.servers[server] !== undefined) continue
        const spec = addedSpec(added)
        if (spec !== undefined) specs.push([server, spec])
      }
      // Instances a provider started are servers too, labelled with their version.
      for (const instance of serviceState?.instances ?? []) {
        const address = parseHostPort(instance.address)
        if (typeof address === 'string') continue
        specs.push([instance.id, { address, weight: DEFAULTS.server.weight, backup: false, release: instance.version }])
      }
      backend.setRotation(serviceState?.rotation)
      if (service !== undefined && serviceState?.split !== undefined) backend.setSplit(serviceState.split, splitOptions(config.services[service]!))
      const servers = specs.map(([server, spec]) => {
        const existing = old?.serverNamed(server)
        if (existing !== undefined && existing.identity === serverIdentity(spec, backendConfig)) {
          this.adopted.add(existing)
          existing.configuredWeight = spec.weight
          existing.effectiveWeight = spec.weight
          existing.release = spec.release
          return existing
        }
        return backend.createServer(server, spec)
      })
      for (const server of servers) {
        const override = state.servers[serverKey(name, server.name)]
        if (override?.weight !== undefined) server.configuredWeight = server.effectiveWeight = override.weight
        if (override?.admin !== undefined && !this.adopted.has(server)) server.admin = override.admin
      }
      // Servers present when the balancer starts do not ramp up; later additions (reload, API) do.
      backend.addServers(servers, { slowStart: previous !== undefined })
      backends.set(name, backend)
    }
    this.backends = backends
  }

  /** The backend named `name`; SY_ERR_UNKNOWN_BACKEND (404 on the admin API) when there is none. */
  backendNamed(name: string): Backend {
    const backend = this.backends.get(name)
    if (backend === undefined) throw new SwitchyardError('SY_ERR_UNKNOWN_BACKEND', { backend: name })
    return backend
  }

  /** Servers of the previous runtime that this one did not adopt (removed or changed): to be drained. */
  leftBehind(previous: Runtime): Server[] {
    const out: Server[] = []
    for (const backend of previous.backends.values()) for (const s of backend.servers) if (!this.adopted.has(s)) out.push(s)
    return out
  }

  /** Stops checks and timers of this runtime (its adopted servers live on in the next one). */
  retire(): void {
    for (const backend of this.backends.values()) backend.stopWatching()
  }

  async close(): Promise<void> {
    this.retire()
    for (const backend of this.backends.values()) backend.queue.expireAll()
    await Promise.all([...this.backends.values()].flatMap((b) => b.servers.map((s) => s.close())))
  }
}

/** The service bound to a backend, if any. */
export function serviceOf(config: Config, backend: string): string | undefined {
  for (const [name, service] of Object.entries(config.services)) if (service.backend === backend) return name
  return undefined
}

function addedSpec(added: RuntimeState['added'][string] | undefined): ServerSpec | undefined {
  if (added === undefined) return undefined
  const address = parseHostPort(added.address)
  if (typeof address === 'string') return undefined
  return { address, weight: added.weight, backup: added.backup, max_connections: added.max_connections }
}

function splitKey(key: string): [string, string] {
  const slash = key.indexOf('/')
  return [key.slice(0, slash), key.slice(slash + 1)]
}
