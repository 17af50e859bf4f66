import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'
import type { Socket } from 'node:net'
import type { Readable } from 'node:stream'

/**
 * A client's request as the data path reads it. Two kinds meet this shape: the balancer's own HTTP/1.x requests
 * (Http1Request) and node's HTTP/2 compatibility requests (adapted by adaptHttp2Request). Only what the data path
 * uses is named here, so that both fit without wrappers.
 */
export interface ClientRequest {
  /** Always set (node's type allows undefined only for its client-side messages). */
  readonly method: string
  url: string
  readonly headers: IncomingHttpHeaders
  readonly rawHeaders: string[]
  /**
   * The field lines as the client sent them, while they match rawHeaders (HTTP/1 only; whoever changes rawHeaders
   * sets this to undefined). Lets a request whose fields all pass unchanged forward them without rendering them.
   */
  fieldLines: string | undefined
  readonly httpVersion: string
  readonly httpVersionMajor: number
  readonly httpVersionMinor: number
  readonly socket: Socket
  /** The client's address (the socket's remote address, '' when unknown). */
  readonly clientIp: string
  /**
   * The Host the request is for, set by checkRequestTarget (the target's authority for an absolute-form target;
   * undefined before, and for an HTTP/1.0 request without Host).
   */
  host: string | undefined
  /** The declared Content-Length, -1 when none was sent. */
  readonly contentLength: number
  /** Whether a body follows the head (a Content-Length above 0, chunked, or an HTTP/2 stream still open). */
  readonly hasBody: boolean
  /** True once the whole body has been read. */
  readonly complete: boolean
  /** Reads and drops the body (nobody will read it). */
  resume(): unknown
}

/** The response to a client request: the balancer's own (Http1Response) or node's HTTP/2 compatibility one. */
export interface ClientResponse {
  readonly req: ClientRequest
  statusCode: number
  readonly headersSent: boolean
  readonly writableFinished: boolean
  writeHead(statusCode: number, headers: OutgoingHttpHeaders | string[]): unknown
  writeHead(statusCode: number, reason: string, headers: OutgoingHttpHeaders | string[]): unknown
  write(chunk: Buffer | string): boolean
  end(chunk?: Buffer | string): unknown
  destroy(): unknown
  writeContinue(): void
  on(event: 'close', listener: () => void): unknown
  once(event: 'close' | 'drain', listener: () => void): unknown
}

/** A request whose body is read from a stream of its own rather than from the request object itself. */
interface WithBodyStream {
  bodyStream(): Readable
}

/** The stream a request's body is read from: node's HTTP/2 requests are their own body stream. */
export function bodyOf(req: ClientRequest): Readable {
  const own = req as Partial<WithBodyStream>
  return own.bodyStream !== undefined ? own.bodyStream() : (req as unknown as Readable)
}
