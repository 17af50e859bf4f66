import type { ClientResponse } from './client-message.js'
import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import { ERRORS, formatMessage, type ErrorCode, type ErrorParams } from '../errors.js'

/**
 * Error answers of the data plane (invariant 6): never empty; a short text body (JSON when the client asks
 * for it) naming the code and the request id; the id is also in an X-Request-Id header.
 */
export function errorBody(code: ErrorCode, requestId: string, params: ErrorParams, json: boolean): string {
  const status = ERRORS[code].status
  const message = formatMessage(code, params)
  if (json) return `${JSON.stringify({ error: { code, message, request_id: requestId } })}\n`
  return `${status} ${STATUS_CODES[status] ?? 'Error'}: ${message} (${code}, request ${requestId})\n`
}

function wantsJson(accept: string | undefined): boolean {
  return accept !== undefined && accept.includes('application/json')
}

export function sendError(
  res: ClientResponse,
  code: ErrorCode,
  requestId: string,
  params: ErrorParams = {},
  options: { close?: boolean } = {},
): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  const json = wantsJson(res.req.headers.accept)
  const body = errorBody(code, requestId, params, json)
  const headers: Record<string, string | number> = {
    'content-type': json ? 'application/json' : 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-request-id': requestId,
  }
  // HTTP/2 forbids Connection; a closing HTTP/2 frontend sends GOAWAY instead.
  if (options.close === true && res.req.httpVersionMajor !== 2) headers.connection = 'close'
  res.writeHead(ERRORS[code].status, headers)
  res.end(body)
}

/** How long a connection answered by writeRawError may stay open for its client to read the answer and close. */
const RAW_ERROR_LINGER_MS = 2000

/** The same answer written on a raw socket (parse errors, upgrade requests), then the socket is closed. */
export function writeRawError(socket: Socket, code: ErrorCode, requestId: string, params: ErrorParams = {}): void {
  if (!socket.writable) {
    socket.destroy()
    return
  }
  const status = ERRORS[code].status
  const body = errorBody(code, requestId, params, false)
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
      `content-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `cache-control: no-store\r\nx-request-id: ${requestId}\r\nconnection: close\r\n\r\n${body}`,
  )
  // Upgrade and CONNECT sockets are detached from the HTTP server: nothing else reads them or times them out, and
  // bytes the client sent after its request head kept its close from being seen. Such a socket stayed open for
  // good (one file descriptor per refused request; a graceful stop waited for it forever). What comes now is
  // read and dropped, and a client that does not close is cut after a short linger.
  socket.resume()
  const linger = setTimeout(() => socket.destroy(), RAW_ERROR_LINGER_MS)
  linger.unref()
  socket.once('close', () => clearTimeout(linger))
}
