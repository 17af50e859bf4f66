import type { ClientRequest } from './client-message.js'

/**
 * Values read from a request to choose its server: the persistence cookie and the hash key.
 * Cookie parsing is hand-written because only one cookie is wanted and it runs per request: no object of
 * all cookies is built.
 */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined
  let start = 0
  while (start < header.length) {
    let end = header.indexOf(';', start)
    if (end < 0) end = header.length
    const eq = header.indexOf('=', start)
    if (eq > start && eq < end && header.slice(start, eq).trim() === name) return header.slice(eq + 1, end).trim()
    start = end + 1
  }
  return undefined
}

export function stickyCookieValue(cookieName: string, req: ClientRequest): string | undefined {
  return cookieValue(req.headers.cookie, cookieName)
}

/** The key consistent hashing uses: "source", "uri", "header:NAME" or "cookie:NAME" (validated by the schema). */
export function hashKeyOf(hashKey: string, req: ClientRequest): string | undefined {
  if (hashKey === 'source') return req.clientIp
  if (hashKey === 'uri') return req.url
  if (hashKey.startsWith('header:')) {
    const value = req.headers[hashKey.slice(7).toLowerCase()]
    return Array.isArray(value) ? value[0] : value
  }
  if (hashKey.startsWith('cookie:')) return cookieValue(req.headers.cookie, hashKey.slice(7))
  return undefined
}
