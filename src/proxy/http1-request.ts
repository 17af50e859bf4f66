import type { IncomingHttpHeaders } from 'node:http'
import type { Socket } from 'node:net'
import { Readable } from 'node:stream'
import type { ClientRequest } from './client-message.js'
import type { RequestHead } from './request-parser.js'

/** Fields a request carries once at most: a repeat is dropped from `headers` (node's IncomingMessage does the same). */
const SINGLE = new Set([
  'age', 'authorization', 'content-length', 'content-type', 'etag', 'expires', 'from', 'host', 'if-modified-since',
  'if-unmodified-since', 'last-modified', 'location', 'max-forwards', 'proxy-authorization', 'referer', 'retry-after',
  'server', 'user-agent',
])

/** What a request needs from its connection: more body bytes, when its body stream is read again. */
export interface BodySource {
  readBody(): void
}

/**
 * One HTTP/1.x request read by an Http1Connection, in the shape the data path reads (ClientRequest). The header
 * object and the body stream are only built when something asks for them: a GET routed by its Host header costs
 * neither.
 */
export class Http1Request implements ClientRequest {
  readonly method: string
  url: string
  readonly rawHeaders: string[]
  fieldLines: string | undefined
  readonly httpVersionMinor: number
  /** The client allows another request on the connection after this one (HTTP/1.1 default, Connection header). */
  readonly keepAlive: boolean
  readonly socket: Socket
  readonly clientIp: string
  host: string | undefined = undefined
  readonly contentLength: number
  readonly hasBody: boolean
  complete = false
  private readonly source: BodySource
  private headerObject: IncomingHttpHeaders | undefined
  private body: Readable | undefined
  /** Body bytes are dropped (nobody will read them: the request was answered without a server). */
  private discard = false

  constructor(head: RequestHead, socket: Socket, clientIp: string, source: BodySource) {
    this.method = head.method
    this.url = head.target
    this.rawHeaders = head.headers
    this.fieldLines = head.fieldLines
    this.httpVersionMinor = head.versionMinor
    this.keepAlive = head.keepAlive
    this.contentLength = head.contentLength
    this.hasBody = head.contentLength > 0 || head.chunked
    this.socket = socket
    this.clientIp = clientIp
    this.source = source
  }

  get httpVersionMajor(): number {
    return 1
  }

  get httpVersion(): string {
    return this.httpVersionMinor === 1 ? '1.1' : '1.0'
  }

  /** Lower-case names; repeated fields joined with ", " ("; " for Cookie), Set-Cookie as a list. */
  get headers(): IncomingHttpHeaders {
    if (this.headerObject !== undefined) return this.headerObject
    const headers: Record<string, string | string[]> = {}
    const raw = this.rawHeaders
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!.toLowerCase()
      const value = raw[i + 1]!
      const seen = headers[name]
      if (seen === undefined) headers[name] = name === 'set-cookie' ? [value] : value
      else if (Array.isArray(seen)) seen.push(value)
      else if (name === 'cookie') headers[name] = `${seen}; ${value}`
      else if (!SINGLE.has(name)) headers[name] = `${seen}, ${value}`
    }
    this.headerObject = headers as IncomingHttpHeaders
    return this.headerObject
  }

  /** The body as a stream (built on first use; bytes that came before wait in it). */
  bodyStream(): Readable {
    if (this.body === undefined) {
      this.body = new Readable({ read: () => this.source.readBody() })
      if (this.complete) this.body.push(null)
    }
    return this.body
  }

  /** Nobody will read the body: what is left of it is read and dropped (the connection can then go on). */
  resume(): void {
    this.discard = true
    this.body?.resume()
  }

  // ---- from the connection ----

  /** Body bytes; false when the reader wants no more for now (reading stops until it asks). */
  pushBody(chunk: Buffer): boolean {
    if (this.discard && this.body === undefined) return true
    return this.bodyStream().push(chunk)
  }

  /** The whole body was read. */
  endBody(): void {
    this.complete = true
    this.body?.push(null)
  }

  /** The connection closed or failed before the body was complete. */
  abortBody(): void {
    const body = this.body
    if (this.complete || body === undefined) return
    // An error only for a reader that listens for one (like node's requests): nobody else has to know.
    const error = body.listenerCount('error') > 0 ? Object.assign(new Error('the client closed the connection during the request body'), { code: 'ECONNRESET' }) : undefined
    body.destroy(error)
  }
}
