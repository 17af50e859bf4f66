import type { IncomingHttpHeaders } from 'node:http'
import type { FrontendConfig, RouteConfig } from '../config/schema.js'
import type { Backend } from '../runtime/backend.js'

/** What routing reads of a request (a ClientRequest after checkRequestTarget). */
export interface Routable {
  readonly host: string | undefined
  readonly url: string
  readonly headers: IncomingHttpHeaders
}

interface CompiledRoute {
  /** Lower-case exact host, or undefined. */
  readonly host: string | undefined
  /** Lower-case ".example.com" for a "*.example.com" pattern, or undefined. */
  readonly hostSuffix: string | undefined
  readonly pathPrefix: string | undefined
  /** Lower-case header names with the exact values they must have. */
  readonly headers: ReadonlyArray<readonly [string, string]>
  readonly backend: Backend
}

/**
 * Chooses a frontend's backend for a request: the first route whose every condition holds, else the default
 * backend, else none (the caller answers 404). Conditions: host (exact or "*.suffix", case-insensitive, port
 * and a trailing dot ignored), path prefix, and exact header values.
 */
export class Router {
  private readonly routes: CompiledRoute[]
  private readonly fallback: Backend | undefined

  constructor(config: FrontendConfig, backends: ReadonlyMap<string, Backend>) {
    this.routes = config.routes.map((route) => compile(route, backends))
    this.fallback = config.default_backend === undefined ? undefined : backends.get(config.default_backend)
  }

  /** The request's header object is only read when a route that could match has header conditions. */
  route(req: Routable): Backend | undefined {
    if (this.routes.length === 0) return this.fallback
    const host = req.host === undefined ? '' : hostWithoutPort(req.host)
    const path = req.url
    for (const route of this.routes) {
      if (route.host !== undefined && route.host !== host) continue
      if (route.hostSuffix !== undefined && !(host.endsWith(route.hostSuffix) && host.length > route.hostSuffix.length)) continue
      if (route.pathPrefix !== undefined && !path.startsWith(route.pathPrefix)) continue
      if (route.headers.length > 0 && !headersMatch(route.headers, req.headers)) continue
      return route.backend
    }
    return this.fallback
  }
}

function compile(route: RouteConfig, backends: ReadonlyMap<string, Backend>): CompiledRoute {
  const backend = backends.get(route.backend)
  // The loader refuses routes to missing backends; this guards library callers that skip it.
  if (backend === undefined) throw new Error(`route names unknown backend '${route.backend}'`)
  const host = route.match.host?.toLowerCase()
  const wildcard = host?.startsWith('*.') === true
  return {
    host: wildcard ? undefined : host,
    hostSuffix: wildcard ? host!.slice(1) : undefined,
    pathPrefix: route.match.path_prefix,
    headers: Object.entries(route.match.header ?? {}).map(([name, value]) => [name.toLowerCase(), value] as const),
    backend,
  }
}

function headersMatch(wanted: ReadonlyArray<readonly [string, string]>, headers: IncomingHttpHeaders): boolean {
  for (const [name, value] of wanted) {
    const actual = headers[name]
    if (Array.isArray(actual) ? !actual.includes(value) : actual !== value) return false
  }
  return true
}

/** "Example.com:8080" -> "example.com"; "[::1]:80" -> "[::1]"; a trailing dot (a rooted name) is dropped. */
export function hostWithoutPort(host: string): string {
  const end = host.startsWith('[') ? host.indexOf(']') + 1 : host.indexOf(':')
  const bare = end > 0 ? host.slice(0, end) : host
  return (bare.endsWith('.') ? bare.slice(0, -1) : bare).toLowerCase()
}
