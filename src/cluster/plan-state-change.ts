import { isDeepStrictEqual } from 'node:util'
import { parseHostPort } from '../config/address.js'
import { DEFAULTS } from '../config/defaults.js'
import type { Config } from '../config/schema.js'
import { serviceOf } from '../runtime/runtime.js'
import { serverKey, type RuntimeState } from '../runtime/runtime-state.js'
import { serverIdentity, type AdminState, type ServerSpec } from '../runtime/server.js'

/** One effect of a change of the runtime state on the live runtime. */
export type StateChange =
  | { readonly kind: 'add'; readonly backend: string; readonly server: string; readonly spec: ServerSpec; readonly admin: AdminState | undefined; readonly weight: number | undefined }
  | { readonly kind: 'remove'; readonly backend: string; readonly server: string }
  | { readonly kind: 'admin'; readonly backend: string; readonly server: string; readonly admin: AdminState }
  | { readonly kind: 'weight'; readonly backend: string; readonly server: string; readonly weight: number }
  | { readonly kind: 'release'; readonly backend: string; readonly server: string; readonly release: string | undefined }
  | { readonly kind: 'rotation'; readonly backend: string; readonly rotation: string[] | undefined }
  | { readonly kind: 'split'; readonly backend: string; readonly service: string; readonly split: { release: string; weight: number }[] | undefined }

/** A server as a runtime state asks for it: what it is (spec) and the API's overrides. */
interface Wanted {
  readonly spec: ServerSpec
  readonly admin: AdminState | undefined
  readonly weight: number | undefined
}

/**
 * What must happen to a runtime built from `before` so that it matches `after` (both with `config`): servers to
 * add and remove, admin states, weights and release labels to set, rotations and splits to change. Pure: the
 * same inputs give the same list, and equal states give none. The servers a state asks for are the ones the
 * Runtime constructor builds from it (file servers not removed, added servers, service instances).
 */
export function planStateChange(config: Config, before: RuntimeState, after: RuntimeState): StateChange[] {
  const removes: StateChange[] = []
  const adds: StateChange[] = []
  const updates: StateChange[] = []
  const traffic: StateChange[] = []
  for (const [backend, backendConfig] of Object.entries(config.backends)) {
    const old = wantedServers(config, before, backend)
    const now = wantedServers(config, after, backend)
    for (const [server, was] of old) {
      const is = now.get(server)
      if (is === undefined || serverIdentity(is.spec, backendConfig) !== serverIdentity(was.spec, backendConfig)) {
        removes.push({ kind: 'remove', backend, server })
      }
    }
    for (const [server, is] of now) {
      const was = old.get(server)
      if (was === undefined || serverIdentity(is.spec, backendConfig) !== serverIdentity(was.spec, backendConfig)) {
        adds.push({ kind: 'add', backend, server, spec: is.spec, admin: is.admin, weight: is.weight })
        continue
      }
      const admin = is.admin ?? 'ready'
      if (admin !== (was.admin ?? 'ready')) updates.push({ kind: 'admin', backend, server, admin })
      const weight = is.weight ?? is.spec.weight
      if (weight !== (was.weight ?? was.spec.weight)) updates.push({ kind: 'weight', backend, server, weight })
      if (is.spec.release !== was.spec.release) updates.push({ kind: 'release', backend, server, release: is.spec.release })
    }
    const service = serviceOf(config, backend)
    if (service === undefined) continue
    const was = before.services[service]
    const is = after.services[service]
    if (!isDeepStrictEqual(was?.rotation, is?.rotation)) traffic.push({ kind: 'rotation', backend, rotation: is?.rotation })
    if (!isDeepStrictEqual(was?.split, is?.split)) traffic.push({ kind: 'split', backend, service, split: is?.split })
  }
  // Removals first: a server replaced under the same name (a new address) leaves before its successor comes.
  return [...removes, ...adds, ...updates, ...traffic]
}

/** The servers of one backend that a runtime state asks for, by name (as Runtime's constructor builds them). */
function wantedServers(config: Config, state: RuntimeState, backend: string): Map<string, Wanted> {
  const backendConfig = config.backends[backend]!
  const service = serviceOf(config, backend)
  const serviceState = service === undefined ? undefined : state.services[service]
  const out = new Map<string, Wanted>()
  const put = (server: string, spec: ServerSpec) => {
    const override = state.servers[serverKey(backend, server)]
    out.set(server, { spec, admin: override?.admin, weight: override?.weight })
  }
  for (const [server, c] of Object.entries(backendConfig.servers)) {
    const key = serverKey(backend, server)
    if (state.removed.includes(key)) continue
    const spec = addedSpec(state.added[key]) ?? c
    const release = service === undefined ? undefined : (serviceState?.server_versions?.[server] ?? serviceState?.version)
    put(server, service === undefined ? spec : { ...spec, release })
  }
  for (const [key, added] of Object.entries(state.added)) {
    const slash = key.indexOf('/')
    const [b, server] = [key.slice(0, slash), key.slice(slash + 1)]
    if (b !== backend || backendConfig.servers[server] !== undefined) continue
    const spec = addedSpec(added)
    if (spec !== undefined) put(server, spec)
  }
  for (const instance of serviceState?.instances ?? []) {
    const address = parseHostPort(instance.address)
    if (typeof address === 'string') continue
    put(instance.id, { address, weight: DEFAULTS.server.weight, backup: false, release: instance.version })
  }
  return out
}

function addedSpec(added: RuntimeState['added'][string] | undefined): ServerSpec | undefined {
  if (added === undefined) return undefined
  const address = parseHostPort(added.address)
  if (typeof address === 'string') return undefined
  return { address, weight: added.weight, backup: added.backup, max_connections: added.max_connections }
}
