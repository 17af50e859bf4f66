/**
 * Header rewriting between client and server (RFC 9110 section 7.6.1): hop-by-hop headers, and every header
 * named in Connection, never cross the balancer; X-Forwarded-For/-Proto/-Host and X-Request-Id are set.
 * Headers are read as flat [name, value, name, value, ...] arrays so duplicates keep their order; the upstream
 * request's come out rendered (a HeaderSection), the client response's as a filtered array.
 */
import { equalsToken } from './header-token.js'
import type { HeaderSection } from './request-head.js'

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
])

/** Adds to `listed` the lower-case names a Connection value lists, other than the hop-by-hop ones. */
function listedIn(value: string, listed: Set<string> | undefined): Set<string> | undefined {
  for (const token of value.split(',')) {
    const t = token.trim().toLowerCase()
    if (t !== '' && !HOP_BY_HOP.has(t)) (listed ??= new Set()).add(t)
  }
  return listed
}

/** Lower-case names listed in Connection headers (other than the hop-by-hop ones), or undefined if none. */
function connectionListed(raw: readonly string[]): Set<string> | undefined {
  let listed: Set<string> | undefined
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!
    if (name.length === 10 && equalsToken(name, 'connection')) listed = listedIn(raw[i + 1]!, listed)
  }
  return listed
}

/** Whether a header name (a token) is one of HOP_BY_HOP, without making a lower-case copy of it. */
function isHopByHop(name: string): boolean {
  switch (name.length) {
    case 2:
      return equalsToken(name, 'te')
    case 7:
      return equalsToken(name, 'trailer') || equalsToken(name, 'upgrade')
    case 10:
      return equalsToken(name, 'connection') || equalsToken(name, 'keep-alive')
    case 16:
      return equalsToken(name, 'proxy-connection')
    case 17:
      return equalsToken(name, 'transfer-encoding')
    case 18:
      return equalsToken(name, 'proxy-authenticate')
    case 19:
      return equalsToken(name, 'proxy-authorization')
    default:
      return false
  }
}

export interface ForwardInfo {
  readonly clientIp: string
  readonly proto: 'http' | 'https'
  readonly requestId: string
  /** Keep Connection: upgrade and Upgrade (a tunnel request). */
  readonly upgrade: boolean
}

/** What header rewriting reads of a client's request (a ClientRequest after checkRequestTarget). */
export interface ForwardedRequest {
  readonly rawHeaders: readonly string[]
  /** The field lines as received, when they still match rawHeaders (HTTP/1 only). */
  readonly fieldLines: string | undefined
  readonly host: string | undefined
  readonly contentLength: number
}

/**
 * Whether a field name is one the balancer replaces with its own on the way to servers: Expect (it answers
 * 100-continue itself) and the forwarding fields. Compared by length first, without a lower-case copy.
 */
function isForwardingField(name: string): boolean {
  switch (name.length) {
    case 6:
      return equalsToken(name, 'expect')
    case 9:
      return equalsToken(name, 'forwarded')
    case 12:
      return equalsToken(name, 'x-request-id')
    case 15:
      return equalsToken(name, 'x-forwarded-for')
    case 16:
      return equalsToken(name, 'x-forwarded-host')
    case 17:
      return equalsToken(name, 'x-forwarded-proto')
    default:
      return false
  }
}

/** Whether a field does not pass to servers as it came: a hop-by-hop one or one the balancer replaces. */
function isRewritten(name: string): boolean {
  return isHopByHop(name) || isForwardingField(name)
}

function anyRewritten(raw: readonly string[]): boolean {
  for (let i = 0; i < raw.length; i += 2) if (isRewritten(raw[i]!)) return true
  return false
}

/**
 * The header section of the upstream request, from the client's request. A request with no field to drop or
 * replace (the usual GET from a program) passes its field lines on as received, with the forwarding fields after
 * them: no field is rendered again.
 */
export function upstreamRequestHeaders(req: ForwardedRequest, info: ForwardInfo): HeaderSection {
  const raw = req.rawHeaders
  if (req.fieldLines !== undefined && !info.upgrade && !anyRewritten(raw)) {
    let lines = `${req.fieldLines}x-forwarded-for: ${info.clientIp}\r\nx-forwarded-proto: ${info.proto}\r\nx-request-id: ${info.requestId}\r\n`
    if (req.host !== undefined) lines += `x-forwarded-host: ${req.host}\r\n`
    // checkRequestTarget set `host` from the only Host field (or added one): the lines have it exactly when set.
    return { lines, host: req.host !== undefined, contentLength: req.contentLength }
  }
  const listed = connectionListed(raw)
  let lines = ''
  let hasHost = false
  let contentLength = -1
  let forwardedFor: string | undefined
  let forwarded: string | undefined
  let host: string | undefined
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!
    const lower = name.toLowerCase()
    const value = raw[i + 1]!
    if (HOP_BY_HOP.has(lower)) {
      if (info.upgrade && lower === 'upgrade') lines += `${name}: ${value}\r\n`
      continue
    }
    if (listed?.has(lower) === true) continue
    switch (lower) {
      case 'expect': // answered by the balancer itself (100-continue)
      case 'x-request-id':
      case 'x-forwarded-proto':
      case 'x-forwarded-host':
        continue
      case 'x-forwarded-for':
        forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`
        continue
      case 'forwarded':
        forwarded = forwarded === undefined ? value : `${forwarded}, ${value}`
        continue
      case 'host':
        host ??= value
        hasHost = true
        break
      case 'content-length':
        contentLength = Number(value)
        break
    }
    lines += `${name}: ${value}\r\n`
  }
  if (info.upgrade) lines += 'connection: upgrade\r\n'
  lines += `x-forwarded-for: ${forwardedFor === undefined ? info.clientIp : `${forwardedFor}, ${info.clientIp}`}\r\nx-forwarded-proto: ${info.proto}\r\nx-request-id: ${info.requestId}\r\n`
  if (host !== undefined) lines += `x-forwarded-host: ${host}\r\n`
  // RFC 7239: a chain the client brought gets this hop appended, like X-Forwarded-For; a server that trusts
  // the balancer reads the last element. Without one, X-Forwarded-* carry the same facts at lower cost.
  if (forwarded !== undefined) lines += `forwarded: ${forwarded}, ${forwardedElement(info)}\r\n`
  return { lines, host: hasHost, contentLength }
}

function forwardedElement(info: ForwardInfo): string {
  const node = info.clientIp.includes(':') ? `"[${info.clientIp}]"` : info.clientIp
  return `for=${node};proto=${info.proto}`
}

/**
 * Headers for the client's response, from the server's (flat latin1 strings from ResponseParser), filtered in
 * place: the array is returned. `connection` is the server's Connection value (ResponseParser.connection): the
 * names it lists go too. Content-Length is dropped when Transfer-Encoding was present (the framing is redone by
 * the balancer).
 */
export function clientResponseHeaders(raw: string[], connection: string | undefined): string[] {
  // "keep-alive" and "close" name no header: the common values cost no parsing.
  const listed =
    connection === undefined || equalsToken(connection, 'keep-alive') || equalsToken(connection, 'close') ? undefined : listedIn(connection, undefined)
  let chunked = false
  let write = 0
  for (let read = 0; read < raw.length; read += 2) {
    const name = raw[read]!
    if (isHopByHop(name)) {
      if (name.length === 17) chunked = true
      continue
    }
    if (listed?.has(name.toLowerCase()) === true) continue
    raw[write++] = name
    raw[write++] = raw[read + 1]!
  }
  raw.length = write
  if (chunked) {
    for (let i = 0; i < raw.length; i += 2) {
      if (equalsToken(raw[i]!, 'content-length')) {
        raw.splice(i, 2)
        i -= 2
      }
    }
  }
  return raw
}
