import type http2 from 'node:http2'
import type { ClientRequest } from './client-message.js'

/** What adaptHttp2Request adds to node's HTTP/2 request object (ClientRequest's own fields). */
interface Added {
  fieldLines: string | undefined
  clientIp: string
  host: string | undefined
  contentLength: number
  hasBody: boolean
}

/**
 * Makes an HTTP/2 request (node's compatibility API) look like the HTTP/1.1 request it is forwarded as
 * (RFC 9113 section 8.3): pseudo-headers leave the header list, `:authority` becomes the Host header when the
 * client sent none, and several `cookie` fields are joined into one with "; " (section 8.2.3), because servers
 * behind us speak HTTP/1.1, where a request carries one Cookie header. Mutates `req.rawHeaders` and
 * `req.headers.host` in place, and adds the fields ClientRequest has beyond node's request; the rest of the data
 * path then treats the request like any other.
 */
export function adaptHttp2Request(request: http2.Http2ServerRequest): ClientRequest {
  const req = request as unknown as ClientRequest
  const added = request as unknown as Added
  added.fieldLines = undefined
  added.clientIp = request.socket.remoteAddress ?? ''
  added.host = undefined
  const length = request.headers['content-length']
  added.contentLength = length === undefined ? -1 : Number(length)
  // HTTP/2 has no Transfer-Encoding: a request without a body ends its stream with its headers (RFC 9113 8.1).
  added.hasBody = length !== undefined ? length !== '0' : !request.stream.endAfterHeaders
  const raw = req.rawHeaders
  let authority: string | undefined
  let hasHost = false
  let cookies: string[] | undefined
  let write = 0
  for (let read = 0; read < raw.length; read += 2) {
    const name = raw[read]!
    const value = raw[read + 1]!
    if (name.charCodeAt(0) === 58 /* ':' */) {
      if (name === ':authority') authority = value
      continue
    }
    if (name === 'cookie') {
      ;(cookies ??= []).push(value)
      continue
    }
    if (name === 'host') hasHost = true
    raw[write++] = name
    raw[write++] = value
  }
  raw.length = write
  if (cookies !== undefined) raw.push('cookie', cookies.join('; '))
  if (!hasHost && authority !== undefined) {
    raw.push('host', authority)
    req.headers.host = authority
  }
  return req
}
