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
    const redirects = frontend.https_redirect !== undefined && frontend.https_redirect !== false
    if (routes.length === 0 && !hasDefault && !redirects) {
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
  problems.push(...modeProblems(raw))
  return problems
}

/**
 * What a frontend's mode allows: a tcp frontend forwards connections, not requests, so it has no routes, no TLS
 * termination (yet) and no redirect; a backend behind one balances on connections (hash on the source address,
 * no cookies). A PROXY protocol header can only precede a connection of its own, so such a backend serves only
 * tcp frontends (HTTP requests share pooled upstream connections).
 */
function modeProblems(raw: Record<string, unknown>): PathProblem[] {
  const problems: PathProblem[] = []
  const backends = isRecord(raw.backends) ? raw.backends : {}
  const users = new Map<string, { tcp: boolean; frontend: string; path: PathSegment[] }[]>()
  const use = (backend: unknown, tcp: boolean, frontend: string, path: PathSegment[]): void => {
    if (typeof backend !== 'string') return
    users.set(backend, [...(users.get(backend) ?? []), { tcp, frontend, path }])
  }
  for (const [name, frontend] of Object.entries(isRecord(raw.frontends) ? raw.frontends : {})) {
    if (!isRecord(frontend)) continue
    const tcp = frontend.mode === 'tcp'
    const routes = Array.isArray(frontend.routes) ? frontend.routes : []
    if (tcp) {
      const at = (key: string): PathSegment[] => ['frontends', name, key]
      if (routes.length > 0) {
        problems.push({ path: at('routes'), at: 'key', message: `frontend '${name}' is a tcp frontend: it sends every connection to its default_backend and has no routes (routes need mode: http)` })
      } else if (frontend.default_backend === undefined || frontend.default_backend === null) {
        problems.push({ path: ['frontends', name], at: 'key', message: `tcp frontend '${name}' needs a default_backend` })
      }
      if (frontend.tls !== undefined) {
        problems.push({ path: at('tls'), at: 'key', message: `frontend '${name}': TLS termination on a tcp frontend is not supported yet; use mode: http, or let the servers terminate TLS (it passes through)` })
      }
      if (frontend.https_redirect !== undefined && frontend.https_redirect !== false) {
        problems.push({ path: at('https_redirect'), at: 'key', message: `frontend '${name}': https_redirect needs mode: http` })
      }
    } else if (frontend.tls !== undefined && frontend.https_redirect !== undefined && frontend.https_redirect !== false) {
      problems.push({ path: ['frontends', name, 'https_redirect'], at: 'key', message: `frontend '${name}' terminates TLS itself; https_redirect belongs on its plain-HTTP twin` })
    }
    routes.forEach((route, index) => use(isRecord(route) ? route.backend : undefined, tcp, name, ['frontends', name, 'routes', index, 'backend']))
    use(frontend.default_backend, tcp, name, ['frontends', name, 'default_backend'])
  }
  for (const [backendName, list] of users) {
    const backend = backends[backendName]
    if (!isRecord(backend)) continue
    const http = list.find((u) => !u.tcp)
    const tcp = list.find((u) => u.tcp)
    if (http !== undefined && backend.proxy_protocol !== undefined) {
      problems.push({ path: http.path, at: 'value', message: `backend '${backendName}' sends a PROXY protocol header, which only tcp frontends can send; http frontend '${http.frontend}' cannot use it` })
    }
    if (tcp === undefined) continue
    if (backend.balance === 'hash' && backend.hash_key !== undefined && backend.hash_key !== 'source') {
      problems.push({ path: ['backends', backendName, 'hash_key'], at: 'value', message: `backend '${backendName}' serves tcp frontend '${tcp.frontend}', which can only hash on the source address (hash_key: source)` })
    }
    if (backend.sticky !== undefined) {
      problems.push({ path: ['backends', backendName, 'sticky'], at: 'key', message: `backend '${backendName}' serves tcp frontend '${tcp.frontend}', which cannot set cookies; use balance: hash (on the source address) for affinity` })
    }
  }
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
