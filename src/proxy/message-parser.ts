import { equalsToken, TOKEN_CHARS } from './header-token.js'

/**
 * What the balancer's HTTP/1.1 request and response parsers (RFC 9112) have in common: bytes go in as a socket
 * delivers them, split anywhere; the head is gathered (without a copy when it arrives whole), its header fields
 * are checked and the framing they announce is followed through the body. A subclass reads the start line and
 * decides what the head means: which body follows, and whom to tell.
 *
 * Strict where a lenient reading would let a peer split or smuggle messages: bare LF, obs-fold, a bad header name
 * or a control character in a value, Content-Length together with Transfer-Encoding, differing Content-Length
 * values, any transfer coding but a single "chunked", Transfer-Encoding in HTTP/1.0, malformed chunk sizes and
 * missing CRLFs are all errors after which the connection is dropped.
 */

/** Results of execute(): all bytes are read and more are needed. */
export const PARSE_MORE = 0
/** The message is complete and nothing followed it in the bytes given. */
export const PARSE_DONE = 1
/** The message is complete and more bytes followed it: the connection cannot be trusted any more. */
export const PARSE_EXTRA = 2
/** A sink method returned false; `stoppedAt` says where. */
export const PARSE_STOPPED = 3
/** The bytes are not an acceptable message; `error` says why. */
export const PARSE_ERROR = 4
export type ParseResult = typeof PARSE_MORE | typeof PARSE_DONE | typeof PARSE_EXTRA | typeof PARSE_STOPPED | typeof PARSE_ERROR
/** From endMessage(): the parser goes on with the bytes after the message. */
export const KEEP_PARSING = -1

/** Bytes of chunk extensions on one size line. */
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
// The first ones are the subclasses' to read and set.
/** No message is expected (also after an error). */
export const IDLE = 0
/** Reading a head. */
export const HEAD = 1
const LENGTH = 2
const CHUNK_DATA = 3
/** A body that runs until the connection closes. */
export const UNTIL_CLOSE = 4
/** The message is complete; endMessage() says what comes next. */
export const DONE = 5
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

/** Bit n set: header names n characters long may be one noteField() looks at (connection, content-length, transfer-encoding). */
const FRAMING_NAME_LENGTHS = (1 << 10) | (1 << 14) | (1 << 17)

export abstract class MessageParser {
  protected state = IDLE
  /** The head (start line, fields and the empty line) may be this long at most; so may a trailer section. */
  protected readonly maxHeadBytes: number
  /** "request" or "response", for the error messages. */
  private readonly kind: string
  /** Bit n set: header names n characters long go to noteField(). */
  private readonly notedNameLengths: number
  /** The bytes of a head that has not fully arrived (the first partialLength), and where its last line starts. */
  private partial: Buffer | undefined
  protected partialLength = 0
  private partialLine = 0
  /** LENGTH: body bytes left. CHUNK_DATA: bytes left in the chunk. */
  private remaining = 0
  private chunkSize = 0
  private sizeDigits = 0
  /** Bytes of the current chunk extensions or of the trailer section. */
  private framingBytes = 0
  /** The lower-case name of the trailer field being read (its first bytes), until its colon; '' after it. */
  private trailerName = ''
  /** The status a server would answer the error with: 400, or 431 for a head too large. */
  protected failStatus = 400

  // Facts of the head being read.
  /** 0 or 1: HTTP/1.0 or HTTP/1.1 (set by the subclass's start line). */
  protected versionMinor = 1
  protected contentLength = -1
  protected chunked = false
  private connectionClose = false
  private connectionKeepAlive = false
  protected connectionUpgrade = false

  /** Why execute() returned PARSE_ERROR. */
  error = ''
  /** Where in its chunk execute() stopped when it returned PARSE_STOPPED: the bytes from there are not read yet. */
  stoppedAt = 0
  /** The values of the message's Connection fields, joined, or undefined when it had none. */
  connection: string | undefined

  /** `notedNameLengths`: bits for the lengths of the names a subclass's noteField() looks at beyond the framing ones. */
  protected constructor(kind: string, maxHeadBytes: number, notedNameLengths: number) {
    // A limit that is not a number would let a head grow without bound.
    if (!Number.isSafeInteger(maxHeadBytes) || maxHeadBytes < 1) throw new RangeError(`invalid head size limit: ${maxHeadBytes}`)
    this.kind = kind
    this.maxHeadBytes = maxHeadBytes
    this.notedNameLengths = notedNameLengths | FRAMING_NAME_LENGTHS
  }

  /**
   * Parses chunk[from..]. A parser in DONE first hears endMessage(), even when no bytes are given: so a sink that
   * stopped right at the end of a message is told the rest by execute(chunk, stoppedAt).
   */
  execute(chunk: Buffer, from = 0): ParseResult {
    const end = chunk.length
    let pos = from
    for (;;) {
      if (this.state === DONE) {
        const next = this.endMessage(pos, end)
        if (next !== KEEP_PARSING) return next as ParseResult
      }
      if (pos >= end) return PARSE_MORE
      switch (this.state) {
        case HEAD:
          pos = this.readHead(chunk, pos)
          if (pos === -1) return PARSE_ERROR
          if (pos < 0) return PARSE_STOPPED
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
        case IDLE:
          return this.unexpectedBytes()
        default:
          pos = this.framing(chunk, pos, end)
          if (pos < 0) return PARSE_ERROR
      }
    }
  }

  /** Reads the start line (text[0..lineEnd]; lineEnd is -1 for an empty line). Returns 0, -1 on error, or 1 to skip the line. */
  protected abstract parseStartLine(text: string, lineEnd: number): number
  /**
   * The head is read and its framing checked: set the state for what follows. `text.slice(fieldsStart)` is the
   * head's field lines as received, each with its CRLF. Returns 0, -1 on error, -2 when stopped.
   */
  protected abstract endHead(headers: string[], text: string, fieldsStart: number): number
  /** Body bytes; false stops. */
  protected abstract emitBody(chunk: Buffer): boolean
  /** In DONE, at chunk[pos..end]: a ParseResult to return, or KEEP_PARSING once the state says what comes next. */
  protected abstract endMessage(pos: number, end: number): number
  /** Bytes arrived in IDLE. */
  protected abstract unexpectedBytes(): ParseResult

  protected stop(at: number): ParseResult {
    this.stoppedAt = at
    return PARSE_STOPPED
  }

  protected fail(reason: string, status = 400): -1 {
    this.error = reason
    this.failStatus = status
    this.state = IDLE
    return -1
  }

  /** Expects a head from the next byte on. */
  protected expectHead(): void {
    this.state = HEAD
    this.partialLength = 0
  }

  protected resetHeadFacts(): void {
    this.contentLength = -1
    this.chunked = false
    this.connectionClose = false
    this.connectionKeepAlive = false
    this.connectionUpgrade = false
    this.connection = undefined
  }

  /** Whether the connection may carry another message after this one, by version and Connection options. */
  protected persistent(): boolean {
    return this.versionMinor === 1 ? !this.connectionClose : this.connectionKeepAlive && !this.connectionClose
  }

  /** Sets the state for the body the framing fields announce; `unframed` is the state when there are none. */
  protected startBody(unframed: number): void {
    if (this.chunked) this.startChunk()
    else if (this.contentLength > 0) {
      this.state = LENGTH
      this.remaining = this.contentLength
    } else this.state = this.contentLength === 0 ? DONE : unframed
  }

  /**
   * A header field whose name has one of the lengths noted at construction. This one reads Content-Length,
   * Transfer-Encoding and Connection; a subclass adds its own and passes the rest on. Returns -1 on error.
   */
  protected noteField(name: string, value: string): number {
    if (equalsToken(name, 'content-length')) {
      const length = parseContentLength(value)
      if (length < 0) return this.fail('invalid Content-Length')
      if (this.contentLength >= 0 && this.contentLength !== length) return this.fail('differing Content-Length values')
      this.contentLength = length
    } else if (equalsToken(name, 'transfer-encoding')) {
      // Only a single "chunked" is accepted: another coding could not be undone here nor passed on.
      if (this.chunked || !equalsToken(value, 'chunked')) return this.fail('unsupported Transfer-Encoding (only "chunked" is accepted)')
      this.chunked = true
    } else if (equalsToken(name, 'connection')) {
      this.connection = this.connection === undefined ? value : `${this.connection}, ${value}`
      if (!value.includes(',')) this.noteConnectionOption(value)
      else for (const option of value.split(',')) this.noteConnectionOption(option.trim())
    }
    return 0
  }

  private noteConnectionOption(option: string): void {
    if (equalsToken(option, 'close')) this.connectionClose = true
    else if (equalsToken(option, 'keep-alive')) this.connectionKeepAlive = true
    else if (equalsToken(option, 'upgrade')) this.connectionUpgrade = true
  }

  private emit(chunk: Buffer, from: number, to: number): boolean {
    if (from === to) return true
    return this.emitBody(from === 0 && to === chunk.length ? chunk : chunk.subarray(from, to))
  }

  /**
   * Looks for the end of the head from `pos` (after what earlier chunks left). Returns where the bytes after the
   * head start in `chunk` (chunk.length when the head is not complete yet), -1 on error, -2 when stopped.
   */
  private readHead(chunk: Buffer, pos: number): number {
    const limit = this.maxHeadBytes
    let buf = chunk
    let start = pos
    let lineStart = pos
    let scan = pos
    const carried = this.partialLength
    if (carried > 0) {
      // A head in pieces: its bytes gather in one buffer that grows by doubling, never past the limit.
      const take = Math.min(limit + 1 - carried, chunk.length - pos)
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
      if (lf === start || buf[lf - 1] !== CR) return this.fail(`bare LF in the ${this.kind} head`)
      if (lf - 1 === lineStart) {
        headEnd = lf + 1
        break
      }
      lineStart = scan = lf + 1
    }
    if (headEnd < 0) {
      if (buf.length - start > limit) return this.fail(`${this.kind} head too large`, 431)
      if (carried === 0) {
        this.reserve(Math.min(limit + 1, Math.max(1024, 2 * (buf.length - start))))
        buf.copy(this.partial!, 0, start)
        this.partialLength = buf.length - start
      }
      this.partialLine = lineStart - start
      return chunk.length
    }
    if (headEnd - start > limit) return this.fail(`${this.kind} head too large`, 431)
    // The head without its final empty line: every line, the start line included, ends with CRLF.
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
    const grown = Buffer.allocUnsafe(Math.max(size, Math.min(this.maxHeadBytes + 1, 2 * (this.partial?.length ?? 0))))
    if (this.partial !== undefined) this.partial.copy(grown, 0, 0, this.partialLength)
    this.partial = grown
  }

  /** Parses a complete head. Returns 0, -1 on error, -2 when stopped. */
  private parseHead(text: string): number {
    const lineEnd = text.indexOf('\r\n')
    const line = this.parseStartLine(text, lineEnd)
    if (line !== 0) return line < 0 ? -1 : 0

    this.resetHeadFacts()
    const headers: string[] = []
    const noted = this.notedNameLengths
    let i = lineEnd + 2
    while (i < text.length) {
      const fieldEnd = text.indexOf('\r\n', i)
      let j = i
      while (j < fieldEnd && TOKEN_CHARS[text.charCodeAt(j)] === 1) j++
      if (j === i) return this.fail(isOws(text.charCodeAt(i)) ? `obs-fold in the ${this.kind} head` : 'invalid header name')
      if (text.charCodeAt(j) !== 58 /* ':' */) return this.fail('invalid header name')
      let from = j + 1
      let to = fieldEnd
      while (from < to && isOws(text.charCodeAt(from))) from++
      while (to > from && isOws(text.charCodeAt(to - 1))) to--
      if (!isFieldText(text, from, to)) return this.fail('invalid header value')
      const name = text.slice(i, j)
      const value = text.slice(from, to)
      headers.push(name, value)
      if (name.length < 32 && ((noted >>> name.length) & 1) === 1 && this.noteField(name, value) < 0) return -1
      i = fieldEnd + 2
    }

    if (this.chunked && this.contentLength >= 0) return this.fail('both Content-Length and Transfer-Encoding')
    if (this.chunked && this.versionMinor === 0) return this.fail(`Transfer-Encoding in an HTTP/1.0 ${this.kind}`)
    return this.endHead(headers, text, lineEnd + 2)
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
          else {
            this.state = TRAILER_LINE
            this.trailerName = String.fromCharCode(c | 0x20)
          }
          if (++this.framingBytes > this.maxHeadBytes) return this.fail('trailer section too large')
          break
        case TRAILER_LINE:
          // Trailer fields are read and dropped (the head went on before them).
          if (c === CR) this.state = TRAILER_LF
          else if (isControl(c)) return this.fail('invalid trailer field')
          else if (this.trailerName !== '') {
            // A framing field in the trailer section would tell a server that reads it a different length.
            if (c === 58 /* ':' */) {
              if (this.trailerName === 'content-length' || this.trailerName === 'transfer-encoding') return this.fail('framing field in the trailer section')
              this.trailerName = ''
            } else if (this.trailerName.length < 17) this.trailerName += String.fromCharCode(c | 0x20)
            else this.trailerName = ''
          }
          if (++this.framingBytes > this.maxHeadBytes) return this.fail('trailer section too large')
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
export function isFieldText(text: string, from: number, to: number): boolean {
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
