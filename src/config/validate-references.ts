/**
 * Checks that need more than one part of the file: names that refer to backends, and listen addresses shared
 * between frontends. They run on the raw parsed YAML (before and regardless of the schema), skipping anything
 * malformed, so that a dangling reference is reported together with the schema's own problems.
 */
import { parseHostPort, formatHostPort, type HostPort } from './address.js'
import { DEFAULTS } from './defaults.js'
import { didYouMean } from './did-you-mean.js'
import { isRecord, type PathProblem, type PathSegment } from './path-problem.js'

export function validateReferences(raw: unknown): PathProblem[] {
  if (!isRecord(raw) || !isRecord(raw.frontends)) return []
  const frontends = raw.frontends
  const backendNames = isRecord(raw.backends) ? Object.keys(raw.backends) : undefined
  const problems: PathProblem[] = []

  for (const [name, frontend] of Object.entries(frontends)) {
    if (!isRecord(frontend)) continue
    const routes = Array.isArray(frontend.routes) ? frontend.routes : []
    const hasDefault = frontend.default_backend !== undefined && frontend.default_backend !== null
    if (routes.length === 0 && !hasDefault) {
      problems.push({
        path: ['frontends', name],
        at: 'key',
        message: `frontend '${name}' has neither routes nor a default_backend, so it has nowhere to send requests`,
      })
    }
    if (backendNames === undefined) continue
    routes.forEach((route, index) => {
      if (isRecord(route) && typeof route.backend === 'string') {
        const problem = missingBackend(route.backend, backendNames, `route ${index + 1} of frontend '${name}'`)
        if (problem !== undefined) problems.push({ path: ['frontends', name, 'routes', index, 'backend'], at: 'value', message: problem })
      }
    })
    if (typeof frontend.default_backend === 'string') {
      const problem = missingBackend(frontend.default_backend, backendNames, `the default_backend of frontend '${name}'`)
      if (problem !== undefined) problems.push({ path: ['frontends', name, 'default_backend'], at: 'value', message: problem })
    }
  }

  problems.push(...sharedListenAddresses(raw))
  problems.push(...serviceBackends(raw, backendNames))
  return problems
}

/**
 * Each service names an existing backend, no two services share one (a backend's servers are one service's
 * instances), and a static service's backend has the fixed servers it deploys to.
 */
function serviceBackends(raw: Record<string, unknown>, backendNames: readonly string[] | undefined): PathProblem[] {
  const problems: PathProblem[] = []
  const owners = new Map<string, string>()
  for (const [name, service] of Object.entries(isRecord(raw.services) ? raw.services : {})) {
    if (!isRecord(service) || typeof service.backend !== 'string') continue
    const path = ['services', name, 'backend']
    const missing = backendNames === undefined ? undefined : missingBackend(service.backend, backendNames, `service '${name}'`)
    if (missing !== undefined) {
      problems.push({ path, at: 'value', message: missing })
      continue
    }
    const owner = owners.get(service.backend)
    if (owner !== undefined) {
      problems.push({ path, at: 'value', message: `services '${owner}' and '${name}' both use backend '${service.backend}'; each service needs its own` })
    }
    owners.set(service.backend, name)
    const backend = isRecord(raw.backends) ? raw.backends[service.backend] : undefined
    const servers = isRecord(backend) && isRecord(backend.servers) ? Object.keys(backend.servers) : []
    if (isRecord(service.provider) && service.provider.type === 'static' && servers.length === 0) {
      problems.push({ path, at: 'value', message: `service '${name}' deploys in place (static), but backend '${service.backend}' has no servers` })
    }
  }
  return problems
}

function missingBackend(backend: string, known: readonly string[], subject: string): string | undefined {
  if (known.includes(backend)) return undefined
  const hint = known.length === 0 ? ' (no backends are defined)' : didYouMean(backend, known)
  return `${subject} names backend '${backend}', which does not exist${hint}`
}

interface Listener {
  readonly owner: string
  readonly path: readonly PathSegment[]
  readonly address: HostPort
}

/** Two listeners on one port collide when their hosts are equal or one of them is a wildcard address. */
function sharedListenAddresses(raw: Record<string, unknown>): PathProblem[] {
  const problems: PathProblem[] = []
  const seen: Listener[] = []
  // The admin listener runs even without an admin section, on its default address.
  const adminListen = isRecord(raw.admin) && raw.admin.listen !== undefined ? raw.admin.listen : DEFAULTS.admin.listen
  seen.push(...listeners(adminListen, 'the admin listener', ['admin', 'listen'], '127.0.0.1'))
  for (const [name, frontend] of Object.entries(isRecord(raw.frontends) ? raw.frontends : {})) {
    if (!isRecord(frontend)) continue
    for (const listener of listeners(frontend.listen, `frontend '${name}'`, ['frontends', name, 'listen'], '0.0.0.0')) {
      const clash = seen.find((other) => collide(other.address, listener.address))
      if (clash !== undefined) {
        const mine = formatHostPort(listener.address)
        const theirs = formatHostPort(clash.address)
        const message =
          clash.owner === listener.owner
            ? `${listener.owner} lists ${mine} twice`
            : mine === theirs
              ? `${listener.owner} listens on ${mine}, which ${clash.owner} also uses`
              : `${listener.owner} listens on ${mine}, which overlaps ${theirs} of ${clash.owner}`
        problems.push({ path: listener.path, at: 'value', message })
      }
      seen.push(listener)
    }
  }
  return problems
}

function listeners(value: unknown, owner: string, path: readonly PathSegment[], defaultHost: string): Listener[] {
  const entries: [unknown, readonly PathSegment[]][] = Array.isArray(value)
    ? value.map((item, index) => [item, [...path, index]])
    : [[value, path]]
  const out: Listener[] = []
  for (const [item, itemPath] of entries) {
    if (typeof item !== 'string' && typeof item !== 'number') continue
    const address = parseHostPort(String(item), { defaultHost })
    if (typeof address !== 'string') out.push({ owner, path: itemPath, address })
  }
  return out
}

const WILDCARDS = new Set(['0.0.0.0', '::'])

function collide(a: HostPort, b: HostPort): boolean {
  if (a.port !== b.port || a.port === 0) return false
  return a.host.toLowerCase() === b.host.toLowerCase() || WILDCARDS.has(a.host) || WILDCARDS.has(b.host)
}
