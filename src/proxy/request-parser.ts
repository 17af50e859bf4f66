import { equalsToken, TOKEN_CHARS } from './header-token.js'
import { DONE, HEAD, IDLE, KEEP_PARSING, MessageParser, PARSE_ERROR, type ParseResult } from './message-parser.js'

export { PARSE_ERROR, PARSE_MORE, PARSE_STOPPED, type ParseResult } from './message-parser.js'

/**
 * An incremental parser of HTTP/1.1 requests (RFC 9112) for the balancer's own frontend server: a connection's
 * bytes go in as the socket delivers them, split anywhere, and requests come out to a sink one after another
 * (pipelined ones included). Its strictness is MessageParser's, shared with the response parser; on top of that
 * the request line is strict (a token method, a target of visible characters, exactly HTTP/1.1 or HTTP/1.0,
 * single spaces), and a request with neither Content-Length nor Transfer-Encoding has no body.
 *
 * Errors carry the status to answer with: 431 for a head above the limit, 400 for everything else. Upgrades and
 * CONNECT are reported like any request: a sink that takes the connection over returns false from onRequestHead
 * and reads the socket's bytes from `stoppedAt` on itself.
 */

export interface RequestHead {
  /** A token, as sent (case kept). */
  readonly method: string
  /** The request-target as sent. */
  readonly target: string
  /** 0 or 1: HTTP/1.0 or HTTP/1.1. */
  readonly versionMinor: number
  /** Flat [name, value, ...], latin1 strings in arrival order; names as sent, values without surrounding whitespace. */
  readonly headers: string[]
  /** The field lines as received ("Name: value\r\n" each, whitespace kept), '' when there are none. */
  readonly fieldLines: string
  /** -1 when absent. */
  readonly contentLength: number
  /** Transfer-Encoding: chunked. */
  readonly chunked: boolean
  /** HTTP/1.1: unless a Connection option is "close"; HTTP/1.0: only with "keep-alive" and no "close". */
  readonly keepAlive: boolean
  /** An Upgrade field is present and a Connection option is "upgrade". */
  readonly upgrade: boolean
  /** An Expect field says "100-continue". */
  readonly expectContinue: boolean
}

/**
 * Receives what the parser reads. Each method returns false to stop parsing; execute() then returns PARSE_STOPPED
 * with `stoppedAt` at the first byte not read, and goes on from there when called again.
 */
export interface RequestSink {
  /** A complete request head. false stops right after it (stoppedAt: the first byte after the head). */
  onRequestHead(head: RequestHead): boolean
  /** Body bytes with the chunked framing removed; may be a subarray of the chunk given to execute (no copy). */
  onRequestBody(chunk: Buffer): boolean
  /** The request (and its body) is complete; the parser is ready for the next request on the connection. */
  onRequestEnd(): boolean
}

/** Empty lines a client may send before a request line (RFC 9112 section 2.2 asks servers to skip some). */
const MAX_EMPTY_LINES = 8
/** Upgrade and Expect, beyond the framing names. */
const REQUEST_NAME_LENGTHS = (1 << 7) | (1 << 6)

const SP = 32

/**
 * The methods a request may have: the registered ones in use (RFC 9110, WebDAV, and the few others HTTP servers
 * know). Anything else is refused rather than passed to servers that may read it their own way; names are
 * case-sensitive (RFC 9110 section 9.1).
 */
const METHODS = new Set([
  'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', 'QUERY',
  'ACL', 'BIND', 'CHECKOUT', 'COPY', 'LINK', 'LOCK', 'M-SEARCH', 'MERGE', 'MKACTIVITY', 'MKCALENDAR', 'MKCOL', 'MOVE',
  'NOTIFY', 'PROPFIND', 'PROPPATCH', 'PURGE', 'REBIND', 'REPORT', 'SEARCH', 'SOURCE', 'SUBSCRIBE', 'UNBIND', 'UNLINK',
  'UNLOCK', 'UNSUBSCRIBE',
])

export class RequestParser extends MessageParser {
  private readonly sink: RequestSink
  /** Empty lines skipped before the request line being waited for. */
  private emptyLines = 0
  // The request line of the head being read, and the fields only requests have.
  private method = ''
  private target = ''
  private upgradeField = false
  private expectContinue = false

  constructor(sink: RequestSink, maxHeadBytes: number) {
    super('request', maxHeadBytes, REQUEST_NAME_LENGTHS)
    this.sink = sink
    this.expectHead()
  }

  /** The status to answer a PARSE_ERROR with: 400, or 431 when the head was too large. */
  get errorStatus(): number {
    return this.failStatus
  }

  /** True when no byte of a next request has been read (between requests, or before the first). */
  get idle(): boolean {
    return this.state === HEAD && this.partialLength === 0 && this.emptyLines === 0
  }

  /** True from the first byte of a request head until the head is complete (the connection's head timeout runs then). */
  get readingHead(): boolean {
    return this.state === HEAD && (this.partialLength > 0 || this.emptyLines > 0)
  }

  /**
   * True while the body of a dispatched request is still being read. All three are false after an error, and
   * between a request's last byte and its onRequestEnd (when the sink stopped before it).
   */
  get readingBody(): boolean {
    return this.state !== HEAD && this.state !== DONE && this.state !== IDLE
  }

  protected override parseStartLine(text: string, lineEnd: number): number {
    if (lineEnd < 0) {
      // The head was an empty line: one before the request line.
      if (++this.emptyLines > MAX_EMPTY_LINES) return this.fail('too many empty lines before the request line')
      return 1
    }
    let i = 0
    while (i < lineEnd && TOKEN_CHARS[text.charCodeAt(i)] === 1) i++
    if (i === 0 || i === lineEnd || text.charCodeAt(i) !== SP) return this.fail('invalid request line')
    const method = text.slice(0, i)
    if (!METHODS.has(method)) return this.fail('unknown method')
    const targetStart = ++i
    while (i < lineEnd && isTargetChar(text.charCodeAt(i))) i++
    if (i === targetStart) return this.fail('invalid request target')
    // Without a version ("GET /", HTTP/0.9) the line ends here; anything else but one SP is a bad target.
    if (i < lineEnd && text.charCodeAt(i) !== SP) return this.fail('invalid request target')
    if (lineEnd - i !== 9 || !text.startsWith(' HTTP/1.', i)) return this.fail('unsupported HTTP version')
    const minor = text.charCodeAt(lineEnd - 1) - 48
    if (minor !== 0 && minor !== 1) return this.fail('unsupported HTTP version')
    this.versionMinor = minor
    this.method = method
    this.target = text.slice(targetStart, i)
    this.emptyLines = 0
    return 0
  }

  protected override resetHeadFacts(): void {
    super.resetHeadFacts()
    this.upgradeField = false
    this.expectContinue = false
  }

  protected override noteField(name: string, value: string): number {
    // One Content-Length, one value: a repeat, even of the same value, is how requests are smuggled past a
    // parser that takes the other one.
    if (name.length === 14 && equalsToken(name, 'content-length') && (this.contentLength >= 0 || value.includes(','))) {
      return this.fail('more than one Content-Length')
    }
    if (name.length === 7) {
      if (equalsToken(name, 'upgrade')) this.upgradeField = true
    } else if (name.length === 6) {
      if (equalsToken(name, 'expect') && equalsToken(value, '100-continue')) this.expectContinue = true
    } else return super.noteField(name, value)
    return 0
  }

  protected override endHead(headers: string[], text: string, fieldsStart: number): number {
    this.startBody(DONE)
    const head: RequestHead = {
      method: this.method,
      target: this.target,
      versionMinor: this.versionMinor,
      headers,
      fieldLines: text.slice(fieldsStart),
      contentLength: this.contentLength,
      chunked: this.chunked,
      keepAlive: this.persistent(),
      upgrade: this.upgradeField && this.connectionUpgrade,
      expectContinue: this.expectContinue,
    }
    // The parser keeps no slice of the head's text past the request.
    this.method = this.target = ''
    return this.sink.onRequestHead(head) ? 0 : -2
  }

  protected override emitBody(chunk: Buffer): boolean {
    return this.sink.onRequestBody(chunk)
  }

  /** The request is complete: the next one's head comes next. */
  protected override endMessage(pos: number): number {
    this.expectHead()
    return this.sink.onRequestEnd() ? KEEP_PARSING : this.stop(pos)
  }

  /** After an error nothing more is read: the connection is to be closed. */
  protected override unexpectedBytes(): ParseResult {
    return PARSE_ERROR
  }
}

/** request-target bytes: visible ASCII (RFC 3986 has no other; obs-text is refused); no SP, no control character. */
function isTargetChar(c: number): boolean {
  return c > SP && c < 0x7f
}
