import { equalsToken, TOKEN_CHARS } from './header-token.js'

/**
 * An incremental parser of HTTP/1.1 responses (RFC 9112) for the upstream client: bytes go in as the socket
 * delivers them, split anywhere; the head and the body's bytes come out to a sink. Part of the balancer's own
 * upstream client (see UpstreamPool for why it is hand-written).
 *
 * It is strict where a lenient reading would let a server split or smuggle responses: bare LF, obs-fold, a bad
 * header name or a control character in a value, Content-Length together with Transfer-Encoding, differing
 * Content-Length values, any transfer coding but a single "chunked", Transfer-Encoding in HTTP/1.0, malformed
 * chunk sizes and missing CRLFs are all protocol errors, and the caller drops the connection. Interim 1xx
 * responses are skipped (101 is an error: upgrades do not come this way); HEAD, 204 and 304 have no body; a
 * response with neither framing header runs until the connection closes.
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

/** Results of execute(). */
export const PARSE_MORE = 0
/** The response is complete and nothing followed it in the bytes given. */
export const PARSE_DONE = 1
/** The response is complete and more bytes followed it: the connection cannot be trusted any more. */
export const PARSE_EXTRA = 2
/** A sink method returned false; `stoppedAt` says where. */
export const PARSE_STOPPED = 3
/** The bytes are not an acceptable response; `error` says why. */
export const PARSE_ERROR = 4
export type ParseResult = typeof PARSE_MORE | typeof PARSE_DONE | typeof PARSE_EXTRA | typeof PARSE_STOPPED | typeof PARSE_ERROR

/** The response head (status line and header fields) may be this long at most. */
export const MAX_HEAD_BYTES = 64 * 1024
/** Bytes of chunk extensions on one size line, and of the trailer section. */
const MAX_CHUNK_EXTENSION = 16 * 1024
/** 13 hex digits stay below 2^53. */
const MAX_CHUNK_SIZE_DIGITS = 13
/** 15 decimal digits stay below 2^53. */
const MAX_LENGTH_DIGITS = 15

const HTAB = 9
const LF = 10
const CR = 13
const SP = 32

// States. The head and the three bulk states are handled in execute(); the others byte by byte in framing().
const IDLE = 0
const HEAD = 1
const LENGTH = 2
const CHUNK_DATA = 3
const UNTIL_CLOSE = 4
const DONE = 5
const CHUNK_SIZE = 6
const CHUNK_SIZE_WS = 7
const CHUNK_EXT = 8
const CHUNK_SIZE_LF = 9
const CHUNK_DATA_CR = 10
const CHUNK_DATA_LF = 11
const TRAILER_START = 12
const TRAILER_LINE = 13
const TRAILER_LF = 14
const TRAILER_END_LF = 15

export class ResponseParser {
  private readonly sink: ResponseSink
  private state = IDLE
  private noBody = false
  /** The bytes of a head that has not fully arrived (the first partialLength), and where its last line starts. */
  private partial: Buffer | undefined
  private partialLength = 0
  private partialLine = 0
  /** LENGTH: body bytes left. CHUNK_DATA: bytes left in the chunk. */
  private remaining = 0
  private chunkSize = 0
  private sizeDigits = 0
  /** Bytes of the current chunk extensions or of the trailer section. */
  private framingBytes = 0

  // Facts of the head being read.
  private contentLength = -1
  private chunked = false
  private connectionClose = false
  private connectionKeepAlive = false

  /** Why execute() returned PARSE_ERROR. */
  error = ''
  /** Where in its chunk execute() stopped when it returned PARSE_STOPPED: the bytes from there are not read yet. */
  stoppedAt = 0
  /** Whether the connection may carry another request after this response (known once the head is read). */
  keepAlive = false
  /** The server's Keep-Alive "timeout=N" hint in ms, or -1. */
  keepAliveHintMs = -1
  /** The values of the response's Connection fields, joined, or undefined when it had none. */
  connection: string | undefined

  constructor(sink: ResponseSink) {
    this.sink = sink
  }

  /** Expect the response to a new request (`head`: the request was HEAD, so the response has no body). */
  start(head: boolean): void {
    this.state = HEAD
    this.noBody = head
    this.partialLength = 0
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

  execute(chunk: Buffer): ParseResult {
    const end = chunk.length
    let pos = 0
    while (pos < end) {
      switch (this.state) {
        case HEAD:
          pos = this.readHead(chunk, pos)
          if (pos === -1) return PARSE_ERROR
          if (pos < 0) return this.stop(this.stoppedAt)
          break
        case LENGTH:
        case CHUNK_DATA: {
          const n = Math.min(this.remaining, end - pos)
          this.remaining -= n
          if (this.remaining === 0) this.state = this.state === LENGTH ? DONE : CHUNK_DATA_CR
          pos += n
          if (!this.emit(chunk, pos - n, pos)) return this.stop(pos)
          break
        }
        case UNTIL_CLOSE:
          if (!this.emit(chunk, pos, end)) return this.stop(end)
          pos = end
          break
        case DONE:
          return PARSE_EXTRA
        case IDLE:
          this.error = 'bytes with no request outstanding'
          return PARSE_ERROR
        default:
          pos = this.framing(chunk, pos, end)
          if (pos < 0) return PARSE_ERROR
      }
    }
    return this.state === DONE ? PARSE_DONE : PARSE_MORE
  }

  /** The connection closed: true when that completes the response (it ran until the close). */
  finishAtClose(): boolean {
    if (this.state !== UNTIL_CLOSE) return false
    this.state = DONE
    return true
  }

  private emit(chunk: Buffer, from: number, to: number): boolean {
    if (from === to) return true
    return this.sink.onResponseData(from === 0 && to === chunk.length ? chunk : chunk.subarray(from, to))
  }

  private stop(at: number): ParseResult {
    this.stoppedAt = at
    return PARSE_STOPPED
  }

  private fail(reason: string): -1 {
    this.error = reason
    this.state = IDLE
    return -1
  }

  private resetHeadFacts(): void {
    this.contentLength = -1
    this.chunked = false
    this.connectionClose = false
    this.connectionKeepAlive = false
    this.connection = undefined
  }

  /**
   * Looks for the end of the head from `pos` (after what earlier chunks left). Returns where the bytes after the
   * head start in `chunk` (chunk.length when the head is not complete yet), -1 on error, -2 when stopped.
   */
  private readHead(chunk: Buffer, pos: number): number {
    let buf = chunk
    let start = pos
    let lineStart = pos
    let scan = pos
    const carried = this.partialLength
    if (carried > 0) {
      // A head in pieces: its bytes gather in one buffer that grows by doubling, never past the limit.
      const take = Math.min(MAX_HEAD_BYTES + 1 - carried, chunk.length - pos)
      this.reserve(carried + take)
      chunk.copy(this.partial!, carried, pos, pos + take)
      this.partialLength += take
      buf = this.partial!.subarray(0, this.partialLength)
      start = 0
      lineStart = this.partialLine
      scan = carried
    }
    let headEnd = -1
    for (;;) {
      const lf = buf.indexOf(LF, scan)
      if (lf < 0) break
      if (lf === start || buf[lf - 1] !== CR) return this.fail('bare LF in the response head')
      if (lf - 1 === lineStart) {
        headEnd = lf + 1
        break
      }
      lineStart = scan = lf + 1
    }
    if (headEnd < 0) {
      if (buf.length - start > MAX_HEAD_BYTES) return this.fail('response head too large')
      if (carried === 0) {
        this.reserve(Math.max(1024, 2 * (buf.length - start)))
        buf.copy(this.partial!, 0, start)
        this.partialLength = buf.length - start
      }
      this.partialLine = lineStart - start
      return chunk.length
    }
    if (headEnd - start > MAX_HEAD_BYTES) return this.fail('response head too large')
    // The head without its final empty line: every line, the status line included, ends with CRLF.
    const text = buf.toString('latin1', start, headEnd - 2)
    this.partialLength = 0
    if (carried > 0) this.partial = undefined
    // Positions in `buf` are `carried` bytes ahead of the chunk's when the head began in an earlier chunk.
    const next = carried === 0 ? headEnd : headEnd - carried + pos
    const result = this.parseHead(text)
    if (result === -2) this.stoppedAt = next
    return result < 0 ? result : next
  }

  /** Makes the buffer of a head in pieces hold at least `size` bytes (keeping what it holds). */
  private reserve(size: number): void {
    if (this.partial !== undefined && this.partial.length >= size) return
    const grown = Buffer.allocUnsafe(Math.max(size, 2 * (this.partial?.length ?? 0)))
    if (this.partial !== undefined) this.partial.copy(grown, 0, 0, this.partialLength)
    this.partial = grown
  }

  /** Parses a complete head; sets the state for what follows. Returns 0, or -1 on error, -2 when stopped. */
  private parseHead(text: string): number {
    const statusEnd = text.indexOf('\r\n')
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

    this.resetHeadFacts()
    const headers: string[] = []
    let i = statusEnd + 2
    while (i < text.length) {
      const lineEnd = text.indexOf('\r\n', i)
      let j = i
      while (j < lineEnd && TOKEN_CHARS[text.charCodeAt(j)] === 1) j++
      if (j === i) return this.fail(isOws(text.charCodeAt(i)) ? 'obs-fold in the response head' : 'invalid header name')
      if (text.charCodeAt(j) !== 58 /* ':' */) return this.fail('invalid header name')
      let from = j + 1
      let to = lineEnd
      while (from < to && isOws(text.charCodeAt(from))) from++
      while (to > from && isOws(text.charCodeAt(to - 1))) to--
      if (!isFieldText(text, from, to)) return this.fail('invalid header value')
      const name = text.slice(i, j)
      const value = text.slice(from, to)
      headers.push(name, value)
      if ((name.length === 10 || name.length === 14 || name.length === 17) && this.noteFraming(name, value) < 0) return -1
      i = lineEnd + 2
    }

    if (this.chunked && this.contentLength >= 0) return this.fail('both Content-Length and Transfer-Encoding')
    if (this.chunked && minor === 0) return this.fail('Transfer-Encoding in an HTTP/1.0 response')
    this.keepAlive = minor === 1 ? !this.connectionClose : this.connectionKeepAlive && !this.connectionClose
    if (status < 200) {
      // 101 answers an upgrade, which this client never asks for; other 1xx are interim: the final head follows.
      if (status === 101) return this.fail('101 Switching Protocols without an upgrade request')
      this.state = HEAD
      return 0
    }
    if (this.noBody || status === 204 || status === 304) this.state = DONE
    else if (this.chunked) this.startChunk()
    else if (this.contentLength > 0) {
      this.state = LENGTH
      this.remaining = this.contentLength
    } else if (this.contentLength === 0) this.state = DONE
    else {
      this.state = UNTIL_CLOSE
      this.keepAlive = false
    }
    return this.sink.onResponseHead(status, reason, headers) ? 0 : -2
  }

  /** Content-Length, Transfer-Encoding, Connection and Keep-Alive. Returns -1 on error. */
  private noteFraming(name: string, value: string): number {
    if (equalsToken(name, 'content-length')) {
      const length = parseContentLength(value)
      if (length < 0) return this.fail('invalid Content-Length')
      if (this.contentLength >= 0 && this.contentLength !== length) return this.fail('differing Content-Length values')
      this.contentLength = length
    } else if (equalsToken(name, 'transfer-encoding')) {
      // Only a single "chunked" is accepted: another coding could not be undone here nor passed on.
      if (this.chunked || !equalsToken(value, 'chunked')) return this.fail('unsupported Transfer-Encoding')
      this.chunked = true
    } else if (equalsToken(name, 'connection')) {
      this.connection = this.connection === undefined ? value : `${this.connection}, ${value}`
      if (!value.includes(',')) this.noteConnectionOption(value)
      else for (const option of value.split(',')) this.noteConnectionOption(option.trim())
    } else if (equalsToken(name, 'keep-alive')) {
      const at = value.toLowerCase().indexOf('timeout=')
      if (at >= 0) {
        const seconds = Number.parseInt(value.slice(at + 8), 10)
        if (Number.isFinite(seconds) && seconds >= 0) this.keepAliveHintMs = seconds * 1000
      }
    }
    return 0
  }

  private noteConnectionOption(option: string): void {
    if (equalsToken(option, 'close')) this.connectionClose = true
    else if (equalsToken(option, 'keep-alive')) this.connectionKeepAlive = true
  }

  private startChunk(): void {
    this.state = CHUNK_SIZE
    this.chunkSize = 0
    this.sizeDigits = 0
    this.framingBytes = 0
  }

  /** Chunk size lines, the CRLF after chunk data, and the trailer section, byte by byte. */
  private framing(chunk: Buffer, pos: number, end: number): number {
    for (; pos < end; pos++) {
      const c = chunk[pos]!
      switch (this.state) {
        case CHUNK_SIZE: {
          const d = hexValue(c)
          if (d >= 0) {
            if (++this.sizeDigits > MAX_CHUNK_SIZE_DIGITS) return this.fail('chunk size too large')
            this.chunkSize = this.chunkSize * 16 + d
          } else if (this.sizeDigits === 0) return this.fail('invalid chunk size')
          else if (c === CR) this.state = CHUNK_SIZE_LF
          else if (c === 59 /* ';' */) this.state = CHUNK_EXT
          else if (c === SP || c === HTAB) this.state = CHUNK_SIZE_WS
          else return this.fail('invalid chunk size')
          break
        }
        case CHUNK_SIZE_WS:
          // Whitespace after the size is allowed only before an extension (BWS ";").
          if (c === 59) this.state = CHUNK_EXT
          else if (c !== SP && c !== HTAB) return this.fail('invalid chunk size')
          break
        case CHUNK_EXT:
          // Extensions are ignored; they may hold no control characters (a bare CR or LF above all).
          if (c === CR) this.state = CHUNK_SIZE_LF
          else if (isControl(c)) return this.fail('invalid chunk extension')
          else if (++this.framingBytes > MAX_CHUNK_EXTENSION) return this.fail('chunk extension too long')
          break
        case CHUNK_SIZE_LF:
          if (c !== LF) return this.fail('missing LF after the chunk size')
          this.framingBytes = 0
          if (this.chunkSize === 0) {
            this.state = TRAILER_START
            break
          }
          this.state = CHUNK_DATA
          this.remaining = this.chunkSize
          return pos + 1
        case CHUNK_DATA_CR:
          if (c !== CR) return this.fail('missing CRLF after chunk data')
          this.state = CHUNK_DATA_LF
          break
        case CHUNK_DATA_LF:
          if (c !== LF) return this.fail('missing CRLF after chunk data')
          this.startChunk()
          break
        case TRAILER_START:
          if (c === CR) this.state = TRAILER_END_LF
          else if (c === SP || c === HTAB) return this.fail('obs-fold in the trailer section')
          else if (TOKEN_CHARS[c] !== 1) return this.fail('invalid trailer field')
          else this.state = TRAILER_LINE
          if (++this.framingBytes > MAX_HEAD_BYTES) return this.fail('trailer section too large')
          break
        case TRAILER_LINE:
          // Trailer fields are read and dropped (the response headers are gone already).
          if (c === CR) this.state = TRAILER_LF
          else if (isControl(c)) return this.fail('invalid trailer field')
          if (++this.framingBytes > MAX_HEAD_BYTES) return this.fail('trailer section too large')
          break
        case TRAILER_LF:
          if (c !== LF) return this.fail('bare CR in the trailer section')
          this.state = TRAILER_START
          break
        case TRAILER_END_LF:
          if (c !== LF) return this.fail('bare CR in the trailer section')
          this.state = DONE
          return pos + 1
      }
    }
    return pos
  }
}

function isOws(c: number): boolean {
  return c === SP || c === HTAB
}

/** Control characters other than HTAB (DEL included): never allowed in field values or reason phrases. */
function isControl(c: number): boolean {
  return (c < 0x20 && c !== HTAB) || c === 0x7f
}

/** field-value and reason-phrase characters (RFC 9110 section 5.5): VCHAR, obs-text, SP and HTAB. */
function isFieldText(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (isControl(text.charCodeAt(i))) return false
  return true
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48
  const lower = c | 0x20
  if (lower >= 97 && lower <= 102) return lower - 87
  return -1
}

/** 1*DIGIT, or a list of equal ones ("42, 42", RFC 9110 section 8.6); -1 for anything else. */
function parseContentLength(value: string): number {
  let length = -1
  let digits = 0
  let n = 0
  for (let i = 0; i <= value.length; i++) {
    const c = i === value.length ? 44 : value.charCodeAt(i)
    if (c >= 48 && c <= 57) {
      if (++digits > MAX_LENGTH_DIGITS) return -1
      n = n * 10 + (c - 48)
    } else if (c === 44 /* ',' */) {
      if (digits === 0 || (length >= 0 && length !== n)) return -1
      length = n
      digits = 0
      n = 0
      while (i + 1 < value.length && isOws(value.charCodeAt(i + 1))) i++
    } else if (isOws(c) && digits > 0) {
      // OWS before a comma.
      while (i + 1 < value.length && isOws(value.charCodeAt(i + 1))) i++
      if (i + 1 < value.length && value.charCodeAt(i + 1) !== 44) return -1
    } else return -1
  }
  return length
}
