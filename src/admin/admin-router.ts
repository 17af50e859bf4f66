import { SwitchyardError } from '../errors.js'
import type { AdminReply } from './admin-reply.js'

/** What a handler gets: decoded path parameters, the query and a way to read the (validated later) body. */
export interface AdminRequest {
  readonly params: Readonly<Record<string, string>>
  readonly query: URLSearchParams
  readBody(): Promise<unknown>
}

export type AdminHandler = (req: AdminRequest) => AdminReply | Promise<AdminReply>

export interface AdminRoute {
  /** Like `/api/v1/backends/:backend/servers/:server`; a `:name` segment matches any one segment. */
  readonly path: string
  readonly methods: Readonly<Partial<Record<string, AdminHandler>>>
  /** Readable without the token even when reads need it (`/healthz`, the stats page, which holds no data). */
  readonly open?: boolean
}

export type RouteMatch =
  | { readonly kind: 'handler'; readonly handler: AdminHandler; readonly params: Record<string, string>; readonly open: boolean }
  | { readonly kind: 'method-not-allowed'; readonly allow: readonly string[] }
  | { readonly kind: 'not-found' }

interface CompiledRoute {
  readonly segments: readonly string[]
  readonly route: AdminRoute
}

/** Matches a method and a raw path (percent-encoded, without the query) against a table of routes. */
export class AdminRouter {
  private readonly routes: readonly CompiledRoute[]

  constructor(routes: readonly AdminRoute[]) {
    this.routes = routes.map((route) => ({ route, segments: route.path.split('/').slice(1) }))
  }

  match(method: string, rawPath: string): RouteMatch {
    const segments = decodeSegments(rawPath)
    for (const { route, segments: pattern } of this.routes) {
      const params = matchSegments(pattern, segments)
      if (params === undefined) continue
      // HEAD is GET without a body (node drops the body of a HEAD response).
      const handler = route.methods[method] ?? (method === 'HEAD' ? route.methods.GET : undefined)
      if (handler !== undefined) return { kind: 'handler', handler, params, open: route.open === true }
      const allow = Object.keys(route.methods)
      return { kind: 'method-not-allowed', allow: allow.includes('GET') ? [...allow, 'HEAD'] : allow }
    }
    return { kind: 'not-found' }
  }
}

/**
 * Splits a path into decoded segments: server names may be any UTF-8 text (`/servers/%EC%84%9C%EB%B2%84`), and
 * an encoded "/" stays inside its segment. A malformed escape is the client's error, not a missing endpoint.
 */
function decodeSegments(rawPath: string): string[] {
  return rawPath
    .split('/')
    .slice(1)
    .map((segment) => {
      try {
        return decodeURIComponent(segment)
      } catch {
        throw new SwitchyardError('SY_ERR_BAD_REQUEST', { reason: `malformed percent-encoding in path segment '${segment}'` })
      }
    })
}

function matchSegments(pattern: readonly string[], segments: readonly string[]): Record<string, string> | undefined {
  if (pattern.length !== segments.length) return undefined
  const params: Record<string, string> = {}
  for (const [i, part] of pattern.entries()) {
    const segment = segments[i]!
    if (part.startsWith(':')) {
      if (segment === '') return undefined
      params[part.slice(1)] = segment
    } else if (part !== segment) {
      return undefined
    }
  }
  return params
}
