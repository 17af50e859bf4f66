import type { ClientRequest } from './client-message.js'
import { equalsToken } from './header-token.js'

/**
 * A Host value (RFC 9110 section 7.2, RFC 3986 section 3.2.2): an IP literal or a reg-name (possibly empty), then an
 * optional port. Anything else (a space, a comma list with spaces, user info, a path) is "an invalid field value"
 * that RFC 9112 section 3.2 answers with 400: servers behind us would each pick their own reading of it.
 */
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(?::[0-9]*)?$/
/** The start of an absolute-form target: a scheme, "//" and a non-empty authority without user info. */
const ABSOLUTE_FORM = /^https?:\/\/[^/?#@\\]+(?:[/?]|$)/i

/**
 * Checks the request target and Host header that the request parsers let through but a proxy must refuse
 * (RFC 9112 sections 3.2 and 3.2.4), turns an absolute-form target into origin form for the server, and sets
 * `req.host` (what routing and header rewriting read). Returns the reason for a 400, or undefined when the request
 * may go on. The version and the framing are checked before: by RequestParser for HTTP/1.x (only 1.0 and 1.1, a
 * single "chunked" and never in 1.0), by node's HTTP/2 server for HTTP/2 (which has no Transfer-Encoding).
 */
export function checkRequestTarget(req: ClientRequest): string | undefined {
  const url = req.url ?? ''
  if (url === '*') return req.method === 'OPTIONS' ? undefined : 'the asterisk-form target is only for OPTIONS'
  let hosts = 0
  let host: string | undefined
  const raw = req.rawHeaders
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length !== 4 || !equalsToken(raw[i]!, 'host')) continue
    hosts++
    host = raw[i + 1]!
    if (!HOST.test(host)) return 'invalid Host header'
  }
  if (hosts > 1) return 'more than one Host header'
  if (hosts === 0 && req.httpVersionMajor === 1 && req.httpVersionMinor === 1) return 'missing Host header'
  req.host = host
  if (url.startsWith('/')) return undefined
  // Absolute form ("http://host/path"): servers get origin form. The URL parser is lenient where a proxy must not
  // be: it reads "http:///other/x" as host "other", and drops user info silently (RFC 9110 section 4.2.4 asks
  // for an error).
  if (!ABSOLUTE_FORM.test(url)) return 'invalid request target'
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return 'invalid request target'
  }
  req.url = `${parsed.pathname}${parsed.search}`
  // The target's authority wins over the Host header (RFC 9112 section 3.2.2), for routing and for the server.
  req.host = parsed.host
  req.headers.host = parsed.host
  req.fieldLines = undefined
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 4 && equalsToken(raw[i]!, 'host')) raw[i + 1] = parsed.host
  if (hosts === 0) raw.push('Host', parsed.host)
  return undefined
}
