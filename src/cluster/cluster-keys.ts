import { runtimeStateSchema, type RuntimeState } from '../runtime/runtime-state.js'

/**
 * Where each item of the shared state lives under the cluster prefix: one key per item, so that changes to
 * different things never touch the same key (and never conflict), and a change to one thing is a transaction
 * on that key's revision alone. Names (backends, servers, services, deployment ids) cannot contain "/".
 *
 *   servers/BACKEND/SERVER   {admin?, weight?}       admin state and weight set through the API
 *   added/BACKEND/SERVER     {address, weight, ...}  a server added through the API
 *   removed/BACKEND/SERVER   {}                      a server of the file removed through the API
 *   services/SERVICE         service state           version, previous, instances, rotation, split, ...
 *   deployments/ID           deployment record       steps, status, timeline
 *   releases/SERVICE         {node, id?, since}      who runs the service's release (bound to its lease)
 *   meta                     {seeded_by, at}         written once, by the balancer that seeded the prefix
 */
export const keys = {
  server: (backend: string, server: string) => `servers/${backend}/${server}`,
  added: (backend: string, server: string) => `added/${backend}/${server}`,
  removed: (backend: string, server: string) => `removed/${backend}/${server}`,
  service: (service: string) => `services/${service}`,
  deployment: (id: string) => `deployments/${id}`,
  release: (service: string) => `releases/${service}`,
  meta: 'meta',
} as const

export type ItemKind = 'servers' | 'added' | 'removed' | 'services' | 'deployments' | 'releases' | 'meta'

const KINDS: ReadonlySet<string> = new Set(['servers', 'added', 'removed', 'services', 'deployments', 'releases', 'meta'])

/** The kind of a key (relative to the prefix), and the names after it; undefined for a key we do not know. */
export function parseKey(key: string): { kind: ItemKind; names: string[] } | undefined {
  const [kind, ...names] = key.split('/')
  if (kind === undefined || !KINDS.has(kind)) return undefined
  const expected = kind === 'meta' ? 0 : kind === 'servers' || kind === 'added' || kind === 'removed' ? 2 : 1
  if (names.length !== expected || names.some((n) => n === '')) return undefined
  return { kind: kind as ItemKind, names }
}

/** Whether a key is part of the runtime state (as opposed to deployments, release ownership and meta). */
export function isStateKey(key: string): boolean {
  const kind = parseKey(key)?.kind
  return kind === 'servers' || kind === 'added' || kind === 'removed' || kind === 'services'
}

/** The runtime state as items (key -> value), e.g. to seed an empty prefix. */
export function itemsOfState(state: RuntimeState): Map<string, unknown> {
  const items = new Map<string, unknown>()
  for (const [key, value] of Object.entries(state.servers)) items.set(`servers/${key}`, value)
  for (const [key, value] of Object.entries(state.added)) items.set(`added/${key}`, value)
  for (const key of state.removed) items.set(`removed/${key}`, {})
  for (const [service, value] of Object.entries(state.services)) items.set(keys.service(service), value)
  return items
}

/**
 * The runtime state made of items. An item whose value does not fit the state's schema is left out and
 * reported (a balancer of another version, or a hand-edited key, must not take the others down).
 */
export function stateOfItems(items: Iterable<readonly [string, unknown]>, onBad: (key: string, reason: string) => void): RuntimeState {
  const state: RuntimeState = { servers: {}, added: {}, removed: [], services: {} }
  for (const [key, value] of items) {
    const parsed = parseKey(key)
    if (parsed === undefined) continue
    const name = parsed.names.join('/')
    const single: RuntimeState = { servers: {}, added: {}, removed: [], services: {} }
    switch (parsed.kind) {
      case 'servers':
        single.servers[name] = value as RuntimeState['servers'][string]
        break
      case 'added':
        single.added[name] = value as RuntimeState['added'][string]
        break
      case 'removed':
        single.removed.push(name)
        break
      case 'services':
        single.services[name] = value as RuntimeState['services'][string]
        break
      default:
        continue
    }
    const checked = runtimeStateSchema.safeParse(single)
    if (!checked.success) {
      onBad(key, checked.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '))
      continue
    }
    Object.assign(state.servers, checked.data.servers)
    Object.assign(state.added, checked.data.added)
    state.removed.push(...checked.data.removed)
    Object.assign(state.services, checked.data.services)
  }
  state.removed.sort()
  return state
}

/** Who runs a service's release: the node, and the deployment once it has an id. */
export interface ReleaseClaim {
  readonly node: string
  readonly id?: string
  readonly since: number
}

export function parseClaim(value: unknown): ReleaseClaim | undefined {
  const v = value as Partial<ReleaseClaim> | undefined
  if (v === undefined || v === null || typeof v.node !== 'string') return undefined
  return { node: v.node, id: typeof v.id === 'string' ? v.id : undefined, since: typeof v.since === 'number' ? v.since : 0 }
}
