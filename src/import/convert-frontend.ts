/** The frontend half of a proxy: bind addresses, ACL-based routes, the default backend, client-side timeouts. */
import {
  haproxyAddress, haproxyDuration, switchyardName, unsupported,
  type FrontendInput, type LineResult, type RouteInput,
} from './haproxy-common.js'
import type { HaproxyLine } from './parse-haproxy.js'

type Match = NonNullable<RouteInput['match']>

/** A route and the line it came from, so that a route to a backend left out can be reported there. */
export interface RouteAt {
  readonly route: RouteInput
  readonly line: HaproxyLine
}

const HOST_CRITERIA = new Set(['hdr(host)', 'req.hdr(host)', 'hdr_dom(host)', 'hdr_end(host)'])

export class FrontendConverter {
  /** Addresses of plain binds, and of `ssl` ones (a frontend with both becomes two Switchyard frontends). */
  readonly listen: string[] = []
  readonly tlsListen: string[] = []
  readonly routes: RouteAt[] = []
  defaultBackend: { name: string; line: HaproxyLine } | undefined
  readonly timeouts: NonNullable<FrontendInput['timeouts']> = {}
  /** From `bind ... ssl crt FILE`, and the line (TLS termination is refused in TCP mode). */
  tls: { value: NonNullable<FrontendInput['tls']>; line: HaproxyLine } | undefined
  /** `redirect scheme https` (or its http-request form). */
  httpsRedirect = false
  /** ACL name -> the matches any of which satisfies it, or why it cannot be translated. */
  private readonly acls = new Map<string, Match[] | string>()

  handle(line: HaproxyLine): LineResult {
    const [head, ...args] = line.words
    switch (head) {
      case 'bind': return this.bind(line, args)
      case 'redirect': return this.redirect(args)
      case 'http-request': return args[0] === 'redirect' ? this.redirect(args.slice(1)) : undefined
      case 'acl': return this.acl(args)
      case 'use_backend': return this.useBackend(line, args)
      case 'default_backend':
        if (args.length !== 1) return unsupported('default_backend takes one name')
        this.defaultBackend = { name: switchyardName(args[0]!), line }
        return 'done'
      case 'timeout': return this.timeout(args)
      default: return undefined
    }
  }

  private bind(line: HaproxyLine, args: readonly string[]): LineResult {
    const [addresses = '', ...options] = args
    const translated = addresses.split(',').map((a) => haproxyAddress(a, '0.0.0.0'))
    if (translated.some((a) => a === undefined)) return unsupported(`bind address '${addresses}' is not host:port`)
    const ssl = bindSsl(options)
    if (typeof ssl === 'string') return unsupported(ssl)
    if (ssl !== undefined) {
      if (this.tls !== undefined && JSON.stringify(this.tls.value) !== JSON.stringify(ssl)) {
        return unsupported('another bind line of this frontend has other TLS settings; Switchyard has one per frontend')
      }
      this.tls = { value: ssl, line }
    }
    ;(ssl === undefined ? this.listen : this.tlsListen).push(...(translated as string[]))
    return 'done'
  }

  /** `redirect scheme https [code N] [if !{ ssl_fc } | unless { ssl_fc }]`: every plain request goes to https. */
  private redirect(args: readonly string[]): LineResult {
    const [kind, scheme, ...rest] = args
    if (kind !== 'scheme' || scheme !== 'https') return unsupported('only `redirect scheme https` translates')
    const words = rest[0] === 'code' ? rest.slice(2) : rest
    const condition = words.join(' ')
    if (condition !== '' && condition !== 'if !{ ssl_fc }' && condition !== 'unless { ssl_fc }') {
      return unsupported(`a redirect with the condition '${condition}' does not translate (https_redirect answers every request)`)
    }
    this.httpsRedirect = true
    return 'done'
  }

  private acl(args: readonly string[]): LineResult {
    const [name, criterion = '', ...rest] = args
    if (name === undefined) return unsupported('acl without a name')
    const values = rest.filter((v) => v !== '-i')
    const matches = aclMatches(criterion.toLowerCase(), values, rest.includes('-i'))
    const previous = this.acls.get(name)
    if (typeof matches === 'string') {
      this.acls.set(name, matches)
      return unsupported(matches)
    }
    if (typeof previous !== 'string') this.acls.set(name, [...(previous ?? []), ...matches])
    return 'done'
  }

  private useBackend(line: HaproxyLine, args: readonly string[]): LineResult {
    const [target, keyword, ...condition] = args
    if (target === undefined || target.includes('%[')) return unsupported('use_backend needs a fixed backend name')
    const backend = switchyardName(target)
    if (keyword === undefined) {
      this.routes.push({ route: { match: {}, backend }, line })
      return 'done'
    }
    if (keyword !== 'if' || condition.length === 0) return unsupported('only `use_backend NAME if ACL [ACL ...]` translates')
    let alternatives: Match[] = [{}]
    for (const acl of condition) {
      const matches = this.acls.get(acl)
      if (matches === undefined) return unsupported(`'${acl}' is not a translated ACL (negation, 'or' and inline ACLs do not translate)`)
      if (typeof matches === 'string') return unsupported(`ACL '${acl}' is not translated`)
      const combined = alternatives.flatMap((a) => matches.map((m) => merge(a, m)))
      if (combined.some((m) => m === undefined)) return unsupported('ACLs that combine two conditions on the same thing do not translate')
      alternatives = combined as Match[]
    }
    for (const match of alternatives) this.routes.push({ route: { match, backend }, line })
    return 'done'
  }

  private timeout(args: readonly string[]): LineResult {
    const key = ({ client: 'client', 'http-request': 'http_request', 'http-keep-alive': 'keep_alive' } as const)[args[0] ?? '']
    if (key === undefined) return undefined
    const value = haproxyDuration(args[1])
    if (value === undefined) return unsupported(`'${args[1] ?? ''}' is not a duration`)
    this.timeouts[key] = value
    return 'done'
  }
}

/**
 * TLS options of a bind line (`ssl`, `crt FILE` - a PEM bundle with certificate, chain and key, so it is both
 * `cert` and `key` -, `alpn`, `ssl-min-ver`), undefined without `ssl`, or why they do not translate.
 */
function bindSsl(options: readonly string[]): NonNullable<FrontendInput['tls']> | undefined | string {
  const crts: string[] = []
  const other: string[] = []
  let ssl = false
  let alpn: string | undefined
  let minVersion: 'TLSv1.2' | 'TLSv1.3' | undefined
  for (let i = 0; i < options.length; i++) {
    const word = options[i]!
    const value = options[i + 1]
    if (word === 'ssl') ssl = true
    else if (word === 'crt' || word === 'alpn' || word === 'ssl-min-ver') {
      i++
      if (value === undefined) return `${word} needs a value`
      if (word === 'crt') crts.push(value)
      else if (word === 'alpn') alpn = value
      else if (value === 'TLSv1.2' || value === 'TLSv1.3') minVersion = value
      else return `ssl-min-ver ${value}: Switchyard accepts TLSv1.2 or TLSv1.3 only`
    } else other.push(word)
  }
  if (other.length > 0) return `bind options '${other.join(' ')}' are not translated`
  if (!ssl) return crts.length > 0 || alpn !== undefined || minVersion !== undefined ? 'crt, alpn and ssl-min-ver need ssl' : undefined
  const [first, ...more] = crts
  if (first === undefined) return 'bind ... ssl needs crt FILE (a crt-list or a directory does not translate)'
  return {
    cert: first,
    key: first,
    ...(more.length > 0 ? { certificates: more.map((c) => ({ cert: c, key: c })) } : {}),
    // HAProxy offers HTTP/2 only when alpn lists h2.
    http2: alpn?.split(',').includes('h2') ?? false,
    ...(minVersion !== undefined ? { min_version: minVersion } : {}),
  }
}

/** The route matches one ACL line stands for (its values are alternatives), or why it does not translate. */
function aclMatches(criterion: string, values: readonly string[], ignoreCase: boolean): Match[] | string {
  if (values.length === 0 || values.some((v) => v.startsWith('-'))) return `acl flags or values in '${values.join(' ')}' are not translated`
  if (HOST_CRITERIA.has(criterion)) {
    return values.flatMap((v): Match[] => {
      const host = v.toLowerCase()
      if (criterion === 'hdr_dom(host)') return [{ host }, { host: `*.${host}` }]
      if (criterion === 'hdr_end(host)') return host.startsWith('.') ? [{ host: `*${host}` }] : [{ host: `*.${host}` }, { host }]
      return [{ host }]
    })
  }
  if (criterion === 'path_beg') {
    if (ignoreCase) return 'path_beg -i does not translate: Switchyard compares paths case-sensitively'
    if (values.some((v) => !v.startsWith('/'))) return 'path_beg values must start with /'
    return values.map((path_prefix) => ({ path_prefix }))
  }
  return `ACL criterion '${criterion}' is not translated (hdr(host), hdr_dom(host), hdr_end(host) and path_beg are)`
}

function merge(a: Match, b: Match): Match | undefined {
  if ((a.host !== undefined && b.host !== undefined) || (a.path_prefix !== undefined && b.path_prefix !== undefined)) return undefined
  return { ...a, ...b }
}
