/**
 * Why the upstream HTTP/1.1 client (UpstreamPool, UpstreamConnection) failed a request. These codes are internal:
 * the exchange maps them to its retry classes and to the SY_ERR_* answer a client sees. Socket errors (ECONNREFUSED,
 * ECONNRESET, EPIPE, TLS failures) reach the handler as node raised them, when no response byte had arrived yet.
 */
export type UpstreamErrorCode =
  /** No connection within timeouts.connect. */
  | 'UPSTREAM_CONNECT_TIMEOUT'
  /** The server closed the connection before sending any byte of the response. */
  | 'UPSTREAM_CLOSED'
  /** The connection closed or was reset after part of the response had arrived. */
  | 'UPSTREAM_TRUNCATED'
  /** No complete response head within timeouts.server of the request. */
  | 'UPSTREAM_HEADERS_TIMEOUT'
  /** No response byte for timeouts.server while the body was being read. */
  | 'UPSTREAM_BODY_TIMEOUT'
  /** Bytes that are not an acceptable HTTP/1.1 response (see ResponseParser). */
  | 'UPSTREAM_PROTOCOL'
  /** The handler gave up on the request (its client went away). */
  | 'UPSTREAM_ABORTED'
  /** The request body stream ended before, or went on after, its declared Content-Length. */
  | 'UPSTREAM_BODY_LENGTH'
  /** The pool was closed before the request could be sent. */
  | 'UPSTREAM_POOL_CLOSED'

export class UpstreamError extends Error {
  readonly code: UpstreamErrorCode

  constructor(code: UpstreamErrorCode, message: string) {
    super(message)
    this.name = 'UpstreamError'
    this.code = code
  }
}
