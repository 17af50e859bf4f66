import { equalsToken } from './header-token.js'
import type { UpstreamBody } from './upstream-handler.js'

/**
 * The head of an upstream request, as one latin1 string for one socket write: request line, the headers as the
 * exchange prepared them (validated by node's parsers on the client side), Host when the client sent none, the
 * framing of the body, and "Connection: keep-alive".
 *
 * Framing: a Buffer body gets a Content-Length when the headers have none (a chunked client body read whole);
 * a stream without Content-Length goes chunked; a POST, PUT or PATCH without a body says "content-length: 0".
 */
export function requestHead(method: string, path: string, headers: readonly string[], body: UpstreamBody, defaultHost: string): string {
  let head = `${method} ${path} HTTP/1.1\r\n`
  let host = false
  let length = false
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!
    if (name.length === 4) host ||= equalsToken(name, 'host')
    else if (name.length === 14) length ||= equalsToken(name, 'content-length')
    head += `${name}: ${headers[i + 1]!}\r\n`
  }
  if (!host) head += `host: ${defaultHost}\r\n`
  if (!length) {
    if (body === null) {
      if (method === 'POST' || method === 'PUT' || method === 'PATCH') head += 'content-length: 0\r\n'
    } else if (Buffer.isBuffer(body)) head += `content-length: ${body.length}\r\n`
    else head += 'transfer-encoding: chunked\r\n'
  }
  return `${head}connection: keep-alive\r\n\r\n`
}
