import type { IncomingMessage } from 'node:http'

/**
 * Checks the request line and Host header that Node's parser lets through but a proxy must refuse
 * (RFC 9112 sections 3.2 and 3.2.4), and turns an absolute-form target into origin form for the server.
 * Returns the reason for a 400, or undefined when the request may go on.
 */
export function checkRequestTarget(req: IncomingMessage): string | undefined {
  const url = req.url ?? ''
  if (url === '*') return req.method === 'OPTIONS' ? undefined : 'the asterisk-form target is only for OPTIONS'
  let hosts = 0
  const raw = req.rawHeaders
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 4 && raw[i]!.toLowerCase() === 'host') hosts++
  if (hosts > 1) return 'more than one Host header'
  if (hosts === 0 && req.httpVersionMajor === 1 && req.httpVersionMinor === 1) return 'missing Host header'
  if (url.startsWith('/')) return undefined
  // Absolute form ("http://host/path"): servers get origin form.
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return 'invalid request target'
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return 'invalid request target'
  req.url = `${parsed.pathname}${parsed.search}`
  // The target's authority wins over the Host header (RFC 9112 section 3.2.2), for routing and for the server.
  req.headers.host = parsed.host
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 4 && raw[i]!.toLowerCase() === 'host') raw[i + 1] = parsed.host
  if (hosts === 0) raw.push('Host', parsed.host)
  return undefined
}
