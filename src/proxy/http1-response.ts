import { STATUS_CODES, type OutgoingHttpHeaders } from 'node:http'
import type { Socket } from 'node:net'
import type { ClientResponse } from './client-message.js'
import { equalsToken } from './header-token.js'
import type { Http1Request } from './http1-request.js'

/** What a response needs from its connection. */
export interface ResponseOwner {
  readonly socket: Socket
  /** Whether the connection may carry another request after this response (client's wish, graceful stop). */
  keepAliveAfter(req: Http1Request): boolean
  /** The Keep-Alive hint for clients, in seconds. */
  readonly keepAliveSeconds: number
  /** The response has been handed to the socket whole ('close' was emitted): the connection goes on. */
  responseDone(res: Http1Response, closes: boolean): void
}

/** A body this small is copied behind the head, so that head and body leave in one write of one buffer. */
const COALESCE_MAX = 16 * 1024
const CRLF = '\r\n'
const LAST_CHUNK = '0\r\n\r\n'
const SEEN_LENGTH = 1
const SEEN_CONNECTION = 2
const SEEN_DATE = 4
const CLOSE_OPTION = /(?:^|[\s,])close(?:$|[\s,])/i

let dateSecond = -1
let dateValue = ''
/** The Date value, computed once per second. */
function httpDate(): string {
  const now = Date.now()
  const second = Math.floor(now / 1000)
  if (second !== dateSecond) {
    dateSecond = second
    dateValue = new Date(second * 1000).toUTCString()
  }
  return dateValue
}

/**
 * The response to one Http1Request, written by the balancer itself (see Http1Connection for why). Its surface is
 * the part of node's ServerResponse the data path uses (ClientResponse).
 *
 * The framing is decided at writeHead: a Content-Length is passed on as given; without one, the body is sent
 * chunked to an HTTP/1.1 client, or until the connection closes to an HTTP/1.0 one. HEAD, 204 and 304 have no
 * body. The head is not written at once: the first body chunk (or the end) joins it, so that a small response
 * leaves in one write of one buffer - a head and a body written in the same turn of the event loop always do.
 */
export class Http1Response implements ClientResponse {
  readonly req: Http1Request
  statusCode = 200
  headersSent = false
  writableFinished = false
  private readonly owner: ResponseOwner
  private head = ''
  private pending: Buffer | undefined
  private chunked = false
  private noBody = false
  private closes = false
  private ended = false
  private tickScheduled = false
  private closed = false
  // Listeners of 'close' (every exchange has one: it gets a field of its own) and 'drain' (once, after a write
  // the socket did not take at once). Fields rather than an EventEmitter: a response is made for every request.
  private closeListener: (() => void) | undefined
  private moreCloseListeners: (() => void)[] | undefined
  private drainListeners: (() => void)[] | undefined

  constructor(req: Http1Request, owner: ResponseOwner) {
    this.req = req
    this.owner = owner
  }

  on(event: 'close', listener: () => void): this {
    if (event !== 'close') return this
    if (this.closeListener === undefined) this.closeListener = listener
    else (this.moreCloseListeners ??= []).push(listener)
    return this
  }

  /** 'close' happens once anyway; 'drain' listeners are dropped when it happens. */
  once(event: 'close' | 'drain', listener: () => void): this {
    if (event === 'drain') (this.drainListeners ??= []).push(listener)
    else this.on(event, listener)
    return this
  }

  /** The socket took what was written (its 'drain'). */
  drained(): void {
    const listeners = this.drainListeners
    if (listeners === undefined) return
    this.drainListeners = undefined
    for (const listener of listeners) listener()
  }

  private emitClose(): void {
    const first = this.closeListener
    const more = this.moreCloseListeners
    this.closeListener = undefined
    this.moreCloseListeners = undefined
    first?.()
    if (more !== undefined) for (const listener of more) listener()
  }

  writeHead(statusCode: number, reasonOrHeaders?: string | OutgoingHttpHeaders | string[], maybeHeaders?: OutgoingHttpHeaders | string[]): this {
    if (this.head !== '') throw new Error('writeHead called twice')
    const reason = typeof reasonOrHeaders === 'string' ? reasonOrHeaders : (STATUS_CODES[statusCode] ?? '')
    const headers = typeof reasonOrHeaders === 'string' ? maybeHeaders : reasonOrHeaders
    this.statusCode = statusCode
    this.head = `HTTP/1.1 ${statusCode} ${reason}\r\n`
    let seen = 0
    if (Array.isArray(headers)) {
      for (let i = 0; i < headers.length; i += 2) seen |= this.addField(headers[i]!, headers[i + 1]!)
    } else if (headers !== undefined) {
      for (const name of Object.keys(headers)) {
        const value = headers[name]
        if (value === undefined) continue
        if (Array.isArray(value)) for (const v of value) seen |= this.addField(name, v)
        else seen |= this.addField(name, String(value))
      }
    }
    let text = this.head
    this.noBody = this.req.method === 'HEAD' || statusCode === 204 || statusCode === 304 || statusCode < 200
    if (!this.noBody && (seen & SEEN_LENGTH) === 0) {
      if (this.req.httpVersionMinor === 1) {
        this.chunked = true
        text += 'transfer-encoding: chunked\r\n'
      } else this.closes = true
    }
    if (!this.closes && !this.owner.keepAliveAfter(this.req)) this.closes = true
    if ((seen & SEEN_CONNECTION) === 0) {
      if (this.closes) text += 'connection: close\r\n'
      else text += `connection: keep-alive\r\nkeep-alive: timeout=${this.owner.keepAliveSeconds}\r\n`
    }
    if ((seen & SEEN_DATE) === 0) text += `date: ${httpDate()}\r\n`
    this.head = `${text}\r\n`
    return this
  }

  /**
   * Appends a field line to the head; says which of the fields the framing depends on it is. Names and values are
   * not checked again here: every field comes either from a server's response, which ResponseParser read with
   * the same rules (tokens, no control characters), or from the balancer itself (its error answers, cookies with
   * validated names, request ids that passed isAcceptableRequestId, a redirect built from a checked request).
   */
  private addField(name: string, value: string): number {
    this.head += `${name}: ${value}\r\n`
    switch (name.length) {
      case 4:
        return equalsToken(name, 'date') ? SEEN_DATE : 0
      case 10:
        if (!equalsToken(name, 'connection')) return 0
        if (CLOSE_OPTION.test(value)) this.closes = true
        return SEEN_CONNECTION
      case 14:
        return equalsToken(name, 'content-length') ? SEEN_LENGTH : 0
      default:
        return 0
    }
  }

  write(chunk: Buffer | string): boolean {
    if (this.ended || this.closed) return false
    if (this.head === '') this.writeHead(this.statusCode)
    if (this.noBody) return true
    const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
    if (data.length === 0) return true
    if (!this.headersSent) {
      if (this.pending === undefined) {
        // Held for the next turn: the end (or more body) usually follows before it, and leaves with the head.
        this.pending = data
        this.scheduleTick()
        return true
      }
      this.flushHead(false)
    }
    const socket = this.owner.socket
    if (!this.chunked) return socket.write(data)
    socket.cork()
    socket.write(`${data.length.toString(16)}\r\n`, 'latin1')
    socket.write(data)
    const more = socket.write(CRLF, 'latin1')
    socket.uncork()
    return more
  }

  end(chunk?: Buffer | string): this {
    if (this.ended || this.closed) return this
    if (this.head === '') this.writeHead(this.statusCode)
    if (chunk !== undefined) this.write(chunk)
    this.ended = true
    const socket = this.owner.socket
    if (!this.headersSent) this.flushHead(true)
    else if (this.chunked && !this.noBody) socket.write(LAST_CHUNK, 'latin1')
    this.writableFinished = true
    if (this.closes) socket.end()
    this.scheduleTick()
    return this
  }

  writeContinue(): void {
    if (!this.headersSent) this.owner.socket.write('HTTP/1.1 100 Continue\r\n\r\n', 'latin1')
  }

  destroy(): this {
    this.owner.socket.destroy()
    return this
  }

  /** Whether this response ends its connection. */
  get closesConnection(): boolean {
    return this.closes
  }

  /** The connection closed: a response not finished by then is abandoned ('close' without writableFinished). */
  abandon(): void {
    if (this.closed) return
    this.closed = true
    this.pending = undefined
    this.emitClose()
  }

  /** Writes the head with what waits for it (and the end of the body when `last`). */
  private flushHead(last: boolean): void {
    this.headersSent = true
    const socket = this.owner.socket
    const head = this.head
    const body = this.pending
    this.pending = undefined
    const tail = last && this.chunked ? LAST_CHUNK : ''
    if (body === undefined) {
      socket.write(head + tail, 'latin1')
      return
    }
    const sizeLine = this.chunked ? `${body.length.toString(16)}\r\n` : ''
    const after = this.chunked ? CRLF + tail : ''
    if (body.length <= COALESCE_MAX) {
      const before = head.length + sizeLine.length
      const out = Buffer.allocUnsafe(before + body.length + after.length)
      out.write(head, 0, 'latin1')
      if (sizeLine !== '') out.write(sizeLine, head.length, 'latin1')
      body.copy(out, before)
      if (after !== '') out.write(after, before + body.length, 'latin1')
      socket.write(out)
      return
    }
    socket.cork()
    socket.write(head + sizeLine, 'latin1')
    socket.write(body)
    if (after !== '') socket.write(after, 'latin1')
    socket.uncork()
  }

  private scheduleTick(): void {
    if (this.tickScheduled) return
    this.tickScheduled = true
    process.nextTick(tick, this)
  }

  /** The turn after a write or the end: a held chunk goes out; an ended response is done. */
  private onTick(): void {
    this.tickScheduled = false
    if (this.closed) return
    if (!this.headersSent && this.pending !== undefined) this.flushHead(false)
    if (!this.ended) return
    this.closed = true
    this.emitClose()
    this.owner.responseDone(this, this.closes)
  }

  static tick(res: Http1Response): void {
    res.onTick()
  }
}

const tick = Http1Response.tick
