import { equalsToken } from './header-token.js'
import { DONE, HEAD, IDLE, isFieldText, MessageParser, PARSE_DONE, PARSE_ERROR, PARSE_EXTRA, UNTIL_CLOSE, type ParseResult } from './message-parser.js'

export { PARSE_DONE, PARSE_ERROR, PARSE_EXTRA, PARSE_MORE, PARSE_STOPPED, type ParseResult } from './message-parser.js'

/**
 * An incremental parser of HTTP/1.1 responses (RFC 9112) for the upstream client: bytes go in as the socket
 * delivers them, split anywhere; the head and the body's bytes come out to a sink. Part of the balancer's own
 * upstream client (see UpstreamPool for why it is hand-written). Its strictness is MessageParser's, shared with
 * the request parser; on top of that, interim 1xx responses are skipped (101 is an error:
 * upgrades do not come this way), HEAD, 204 and 304 have no body, and a response with neither framing header
 * runs until the connection closes.
 */

/**
 * Receives what the parser reads. Each method returns false to stop parsing: the request is gone, or its handler
 * wants no more for now (execute() then says where it stopped, to be fed again from there).
 */
export interface ResponseSink {
  /** The final response head; `headers` is flat [name, value, ...] in arrival order, latin1 strings. */
  onResponseHead(status: number, reason: string, headers: string[]): boolean
  onResponseData(chunk: Buffer): boolean
}

/** The response head (status line and header fields) may be this long at most. */
export const MAX_HEAD_BYTES = 64 * 1024

const SP = 32

export class ResponseParser extends MessageParser {
  private readonly sink: ResponseSink
  private noBody = false
  // The status line of the head being read.
  private status = 0
  private reason = ''

  /** Whether the connection may carry another request after this response (known once the head is read). */
  keepAlive = false
  /** The server's Keep-Alive "timeout=N" hint in ms, or -1. */
  keepAliveHintMs = -1

  constructor(sink: ResponseSink) {
    // Keep-Alive is as long as Connection, which the framing names already include.
    super('response', MAX_HEAD_BYTES, 0)
    this.sink = sink
  }

  /** Expect the response to a new request (`head`: the request was HEAD, so the response has no body). */
  start(head: boolean): void {
    this.expectHead()
    this.noBody = head
    this.error = ''
    this.keepAliveHintMs = -1
    this.resetHeadFacts()
  }

  /** True once the response is complete. */
  get finished(): boolean {
    return this.state === DONE
  }

  /** True once the final response head has been read (timeouts after this are body timeouts). */
  get headComplete(): boolean {
    return this.state !== HEAD && this.state !== IDLE
  }

  /** The connection closed: true when that completes the response (it ran until the close). */
  finishAtClose(): boolean {
    if (this.state !== UNTIL_CLOSE) return false
    this.state = DONE
    return true
  }

  protected override parseStartLine(text: string, statusEnd: number): number {
    // "HTTP/1.1 200" at least; the reason phrase is optional.
    if (statusEnd < 12 || !text.startsWith('HTTP/1.') || text.charCodeAt(8) !== SP) return this.fail('invalid status line')
    const minor = text.charCodeAt(7) - 48
    if (minor !== 0 && minor !== 1) return this.fail('unsupported HTTP version')
    let status = 0
    for (let i = 9; i < 12; i++) {
      const d = text.charCodeAt(i) - 48
      if (d < 0 || d > 9) return this.fail('invalid status code')
      status = status * 10 + d
    }
    if (status < 100) return this.fail('invalid status code')
    let reason = ''
    if (statusEnd > 12) {
      if (text.charCodeAt(12) !== SP) return this.fail('invalid status line')
      reason = text.slice(13, statusEnd)
      if (!isFieldText(reason, 0, reason.length)) return this.fail('invalid reason phrase')
    }
    this.versionMinor = minor
    this.status = status
    this.reason = reason
    return 0
  }

  protected override noteField(name: string, value: string): number {
    if (name.length === 10 && equalsToken(name, 'keep-alive')) {
      const at = value.toLowerCase().indexOf('timeout=')
      if (at >= 0) {
        const seconds = Number.parseInt(value.slice(at + 8), 10)
        if (Number.isFinite(seconds) && seconds >= 0) this.keepAliveHintMs = seconds * 1000
      }
      return 0
    }
    return super.noteField(name, value)
  }

  protected override endHead(headers: string[]): number {
    const status = this.status
    const reason = this.reason
    this.reason = ''
    this.keepAlive = this.persistent()
    if (status < 200) {
      // 101 answers an upgrade, which this client never asks for; other 1xx are interim: the final head follows.
      if (status === 101) return this.fail('101 Switching Protocols without an upgrade request')
      this.state = HEAD
      return 0
    }
    if (this.noBody || status === 204 || status === 304) this.state = DONE
    else {
      this.startBody(UNTIL_CLOSE)
      if (this.state === UNTIL_CLOSE) this.keepAlive = false
    }
    return this.sink.onResponseHead(status, reason, headers) ? 0 : -2
  }

  protected override emitBody(chunk: Buffer): boolean {
    return this.sink.onResponseData(chunk)
  }

  /** A complete response stays complete: bytes after it are more than the request asked for. */
  protected override endMessage(pos: number, end: number): number {
    return pos < end ? PARSE_EXTRA : PARSE_DONE
  }

  protected override unexpectedBytes(): ParseResult {
    this.error = 'bytes with no request outstanding'
    return PARSE_ERROR
  }
}
