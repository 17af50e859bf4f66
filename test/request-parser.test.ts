import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { PARSE_ERROR, PARSE_MORE, PARSE_STOPPED, RequestParser, type ParseResult, type RequestHead, type RequestSink } from '../src/proxy/request-parser.js'

const LIMIT = 512

/** One line per head: the request line's parts, the framing and flags, then the fields. */
function describeHead(h: RequestHead): string {
  const flags = [`length=${h.contentLength}`]
  if (h.chunked) flags.push('chunked')
  if (h.keepAlive) flags.push('keep-alive')
  if (h.upgrade) flags.push('upgrade')
  if (h.expectContinue) flags.push('continue')
  const fields: string[] = []
  for (let i = 0; i < h.headers.length; i += 2) fields.push(`${h.headers[i]}=${h.headers[i + 1]}`)
  return `${h.method} ${h.target} 1.${h.versionMinor} ${flags.join(' ')} {${fields.join('|')}}`
}

/** Writes down what the parser hands on, as lines; consecutive body pieces make one line. */
class Recorder implements RequestSink {
  readonly events: string[] = []
  readonly heads: RequestHead[] = []
  /** What each kind of callback answers. */
  answer = { head: true, body: true, end: true }

  onRequestHead(head: RequestHead): boolean {
    this.heads.push(head)
    this.events.push(describeHead(head))
    return this.answer.head
  }

  onRequestBody(chunk: Buffer): boolean {
    const text = chunk.toString('latin1')
    const last = this.events.length - 1
    if (last >= 0 && this.events[last]!.startsWith('body:')) this.events[last] += text
    else this.events.push(`body:${text}`)
    return this.answer.body
  }

  onRequestEnd(): boolean {
    this.events.push('end')
    return this.answer.end
  }
}

interface Run {
  readonly result: ParseResult
  readonly parser: RequestParser
  readonly events: string[]
  readonly stops: number
}

/**
 * Feeds the parts to a new parser. A stop is resumed right away from stoppedAt in the same part (checking that
 * stoppedAt lies in it), so a sink that always stops must see what one that never does sees.
 */
function run(parts: readonly Buffer[], stopping = false, limit = LIMIT): Run {
  const sink = new Recorder()
  if (stopping) sink.answer = { head: false, body: false, end: false }
  const parser = new RequestParser(sink, limit)
  let result: ParseResult = PARSE_MORE
  let stops = 0
  for (const part of parts) {
    result = parser.execute(part)
    while (result === PARSE_STOPPED) {
      assert.ok(parser.stoppedAt >= 0 && parser.stoppedAt <= part.length, `stoppedAt ${parser.stoppedAt} outside 0..${part.length}`)
      assert.ok(++stops < 10_000, 'no progress after a stop')
      result = parser.execute(part, parser.stoppedAt)
    }
    if (result === PARSE_ERROR) break
  }
  return { result, parser, events: sink.events, stops }
}

/** Ways to cut the bytes: in two at every position, in three around every byte, and into single bytes. */
function cuts(text: string): Buffer[][] {
  const all = Buffer.from(text, 'latin1')
  const out: Buffer[][] = []
  for (let at = 0; at <= all.length; at++) {
    out.push([all.subarray(0, at), all.subarray(at)])
    if (at < all.length) out.push([all.subarray(0, at), all.subarray(at, at + 1), all.subarray(at + 1)])
  }
  const bytes: Buffer[] = []
  for (let i = 0; i < all.length; i++) bytes.push(all.subarray(i, i + 1))
  out.push(bytes)
  return out
}

const label = (parts: readonly Buffer[]): string => `cut ${parts.map((p) => p.length).join('+')}`

interface Good {
  readonly name: string
  readonly bytes: string
  readonly events: string[]
}

const good: Good[] = [
  {
    name: 'a GET with headers',
    bytes: 'GET /path?q=1 HTTP/1.1\r\nHost: example.test\r\nAccept:  */* \t\r\nX-Empty:\r\n\r\n',
    events: ['GET /path?q=1 1.1 length=-1 keep-alive {Host=example.test|Accept=*/*|X-Empty=}', 'end'],
  },
  {
    name: 'a POST with a Content-Length body',
    bytes: 'POST /submit HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world',
    events: ['POST /submit 1.1 length=11 keep-alive {Host=a|Content-Length=11}', 'body:hello world', 'end'],
  },
  {
    name: 'a chunked POST with extensions and trailers',
    bytes: 'POST /up HTTP/1.1\r\nTransfer-Encoding: CHUNKED\r\n\r\n4;a=b\r\nwiki\r\n6 ; q="x y"\r\npedia \r\n0\r\nChecksum: 1\r\nX: y\r\n\r\n',
    events: ['POST /up 1.1 length=-1 chunked keep-alive {Transfer-Encoding=CHUNKED}', 'body:wikipedia ', 'end'],
  },
  {
    name: 'two pipelined requests',
    bytes: 'GET /a HTTP/1.1\r\nHost: h\r\n\r\nPUT /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc',
    events: ['GET /a 1.1 length=-1 keep-alive {Host=h}', 'end', 'PUT /b 1.1 length=3 keep-alive {Content-Length=3}', 'body:abc', 'end'],
  },
  {
    name: 'three pipelined requests',
    bytes:
      'POST /1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n' +
      'DELETE /2 HTTP/1.1\r\nContent-Length: 0\r\n\r\n' +
      'GET /3 HTTP/1.0\r\nConnection: close\r\n\r\n',
    events: [
      'POST /1 1.1 length=-1 chunked keep-alive {Transfer-Encoding=chunked}',
      'body:ab',
      'end',
      'DELETE /2 1.1 length=0 keep-alive {Content-Length=0}',
      'end',
      'GET /3 1.0 length=-1 {Connection=close}',
      'end',
    ],
  },
  {
    name: 'empty lines before the request lines',
    bytes: '\r\n\r\nGET / HTTP/1.1\r\n\r\n' + '\r\n'.repeat(8) + 'GET /again HTTP/1.1\r\n\r\n',
    events: ['GET / 1.1 length=-1 keep-alive {}', 'end', 'GET /again 1.1 length=-1 keep-alive {}', 'end'],
  },
  {
    name: 'a registered method with a dash and odd but valid tokens',
    bytes: "M-SEARCH * HTTP/1.1\r\nX~Odd'Name: v\r\nContent-Length: 2\r\n\r\nok",
    events: ["M-SEARCH * 1.1 length=2 keep-alive {X~Odd'Name=v|Content-Length=2}", 'body:ok', 'end'],
  },
  {
    name: 'obs-text in values',
    bytes: 'GET /caf%C3%A9 HTTP/1.1\r\nX-Name: \xe9t\xe9\r\n\r\n',
    events: ['GET /caf%C3%A9 1.1 length=-1 keep-alive {X-Name=\xe9t\xe9}', 'end'],
  },
  {
    name: 'CONNECT and an upgrade the sink lets through',
    bytes:
      'CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n' +
      'GET /chat HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nContent-Length: 2\r\n\r\nhi',
    events: [
      'CONNECT example.test:443 1.1 length=-1 keep-alive {Host=example.test:443}',
      'end',
      'GET /chat 1.1 length=2 keep-alive upgrade {Upgrade=websocket|Connection=Upgrade|Content-Length=2}',
      'body:hi',
      'end',
    ],
  },
]

interface Bad {
  readonly name: string
  readonly bytes: string
  /** The error's text, where it matters which check found it. */
  readonly reason?: string
  /** Events before the error (a good request ahead of the bad one). */
  readonly before?: string[]
}

const get = (fields: string): string => `GET / HTTP/1.1\r\n${fields}\r\n`
const post = (fields: string, rest = ''): string => `POST / HTTP/1.1\r\n${fields}\r\n${rest}`
const chunkedPost = (body: string): string => post('Transfer-Encoding: chunked\r\n', body)

/** A chunked POST's head is read before its body's framing is found wrong. */
const chunkedHead = ['POST / 1.1 length=-1 chunked keep-alive {Transfer-Encoding=chunked}']

const bad: Bad[] = [
  { name: 'a bare LF ending the request line', bytes: 'GET / HTTP/1.1\nHost: a\r\n\r\n' },
  { name: 'a bare LF ending a field', bytes: get('Host: a\nX: b\r\n') },
  { name: 'a bare LF ending the head', bytes: 'GET / HTTP/1.1\r\nHost: a\r\n\n' },
  { name: 'a bare LF before the request line', bytes: '\nGET / HTTP/1.1\r\n\r\n', reason: 'bare LF in the request head' },
  { name: 'a bare CR in the request line', bytes: 'GET /\r HTTP/1.1\r\n\r\n' },
  { name: 'HTTP/2.0', bytes: 'GET / HTTP/2.0\r\n\r\n' },
  { name: 'HTTP/1.2', bytes: 'GET / HTTP/1.2\r\n\r\n' },
  { name: 'no version (HTTP/0.9 style)', bytes: 'GET /x\r\n\r\n' },
  { name: 'a lower-case version', bytes: 'GET / http/1.1\r\n\r\n' },
  { name: 'a space after the version', bytes: 'GET / HTTP/1.1 \r\n\r\n' },
  { name: 'a method alone', bytes: 'GET\r\n\r\n' },
  { name: 'an empty method', bytes: ' / HTTP/1.1\r\n\r\n' },
  { name: 'a bad character in the method', bytes: 'GE(T / HTTP/1.1\r\n\r\n' },
  { name: 'two spaces after the method', bytes: 'GET  / HTTP/1.1\r\n\r\n' },
  { name: 'a space inside the target', bytes: 'GET /a b HTTP/1.1\r\n\r\n' },
  { name: 'a tab inside the target', bytes: 'GET /a\tb HTTP/1.1\r\n\r\n' },
  { name: 'a control character in the target', bytes: 'GET /a\x01 HTTP/1.1\r\n\r\n' },
  { name: 'DEL in the target', bytes: 'GET /a\x7f HTTP/1.1\r\n\r\n' },
  { name: 'obs-text in the target', bytes: 'GET /caf\xe9 HTTP/1.1\r\n\r\n' },
  { name: 'an unknown method', bytes: 'FOO / HTTP/1.1\r\n\r\n', reason: 'unknown method' },
  { name: 'a lower-case method', bytes: 'get / HTTP/1.1\r\n\r\n', reason: 'unknown method' },
  { name: 'the same Content-Length twice', bytes: 'POST / HTTP/1.1\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\nok', reason: 'more than one Content-Length' },
  { name: 'a Content-Length list of equal values', bytes: 'POST / HTTP/1.1\r\nContent-Length: 2, 2\r\n\r\nok', reason: 'more than one Content-Length' },
  { name: 'not HTTP at all', bytes: '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n' },
  { name: 'nine empty lines before a request', bytes: '\r\n'.repeat(9) + 'GET / HTTP/1.1\r\n\r\n' },
  { name: 'a bad character in a field name', bytes: get('X(A): b\r\n') },
  { name: 'an empty field name', bytes: get(': b\r\n') },
  { name: 'whitespace before the colon', bytes: get('Host : a\r\n') },
  { name: 'a field line without colon', bytes: get('Host a\r\n') },
  { name: 'obs-fold', bytes: get('X: a\r\n b\r\n') },
  { name: 'obs-fold with a tab', bytes: get('X: a\r\n\tb\r\n') },
  { name: 'NUL in a value', bytes: get('X: a\x00b\r\n') },
  { name: 'a bare CR in a value', bytes: get('X: a\rb\r\n') },
  { name: 'DEL in a value', bytes: get('X: a\x7f\r\n') },
  { name: 'Content-Length and Transfer-Encoding', bytes: post('Content-Length: 5\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n') },
  { name: 'Transfer-Encoding and Content-Length', bytes: post('Transfer-Encoding: chunked\r\nContent-Length: 5\r\n', '0\r\n\r\n') },
  { name: 'differing Content-Length fields', bytes: post('Content-Length: 1\r\nContent-Length: 2\r\n', 'ab') },
  { name: 'a differing Content-Length list', bytes: post('Content-Length: 2, 1\r\n', 'ab') },
  { name: 'a signed Content-Length', bytes: post('Content-Length: +2\r\n', 'ab') },
  { name: 'a negative Content-Length', bytes: post('Content-Length: -2\r\n') },
  { name: 'a hex Content-Length', bytes: post('Content-Length: 0x2\r\n', 'ab') },
  { name: 'an empty Content-Length', bytes: post('Content-Length:\r\n') },
  { name: 'a Content-Length beyond 2^53', bytes: post('Content-Length: 99999999999999999999\r\n') },
  { name: 'gzip before chunked', bytes: post('Transfer-Encoding: gzip, chunked\r\n', '0\r\n\r\n') },
  { name: 'chunked in two fields', bytes: post('Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n') },
  { name: 'identity', bytes: post('Transfer-Encoding: identity\r\n', 'ab') },
  { name: 'chunked with a parameter', bytes: post('Transfer-Encoding: chunked;x=1\r\n', '0\r\n\r\n') },
  { name: 'Transfer-Encoding in HTTP/1.0', bytes: 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' },
  { name: 'a chunk size that is not hex', bytes: chunkedPost('z\r\nabc\r\n0\r\n\r\n'), before: chunkedHead },
  { name: 'an empty chunk size', bytes: chunkedPost('\r\nabc\r\n0\r\n\r\n'), before: chunkedHead },
  { name: 'a chunk size beyond 2^52', bytes: chunkedPost('fffffffffffffff\r\nabc\r\n'), before: chunkedHead },
  { name: 'a bare LF after a chunk size', bytes: chunkedPost('3\nabc\r\n0\r\n\r\n'), before: chunkedHead },
  { name: 'a control character in a chunk extension', bytes: chunkedPost('3;a\x00\r\nabc\r\n0\r\n\r\n'), before: chunkedHead },
  { name: 'chunk data longer than its size', bytes: chunkedPost('2\r\nabc\r\n0\r\n\r\n'), before: chunkedHead },
  { name: 'obs-fold in the trailers', bytes: chunkedPost('0\r\nT: a\r\n b\r\n\r\n'), before: chunkedHead },
  { name: 'a bare LF in the trailers', bytes: chunkedPost('0\r\nT: a\n\r\n'), before: chunkedHead },
  {
    // The CR is the body's: the LF after it is a bare one, not an empty line.
    name: 'a LF right after a body that ends in CR',
    bytes: 'POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n',
    reason: 'bare LF in the request head',
    before: ['POST / 1.1 length=1 keep-alive {Content-Length=1}', 'end'],
  },
  {
    name: 'a smuggled second request after a good one',
    bytes: 'GET /ok HTTP/1.1\r\n\r\nPOST /x HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    before: ['GET /ok 1.1 length=-1 keep-alive {}', 'end'],
  },
]

/** A GET exactly `size` bytes long (head and final CRLF), padded in one field. */
function headOfSize(size: number): string {
  const bare = 'GET / HTTP/1.1\r\nX-Pad: \r\n\r\n'
  return `GET / HTTP/1.1\r\nX-Pad: ${'p'.repeat(size - bare.length)}\r\n\r\n`
}

/** Runs `bytes` through a parser whose callbacks record the three flags as they were then. */
function flagsAlong(bytes: string): string[] {
  const seen: string[] = []
  let parser: RequestParser | undefined
  const flags = (): string => `${parser!.idle ? 'I' : '-'}${parser!.readingHead ? 'H' : '-'}${parser!.readingBody ? 'B' : '-'}`
  parser = new RequestParser(
    {
      onRequestHead: () => seen.push(`head ${flags()}`) > 0,
      onRequestBody: () => seen.push(`body ${flags()}`) > 0,
      onRequestEnd: () => seen.push(`end ${flags()}`) > 0,
    },
    LIMIT,
  )
  seen.push(`new ${flags()}`)
  for (const byte of Buffer.from(bytes, 'latin1')) {
    const result = parser.execute(Buffer.from([byte]))
    seen.push(`${JSON.stringify(String.fromCharCode(byte))} ${result === PARSE_ERROR ? 'error ' : ''}${flags()}`)
  }
  return seen
}

describe('request parser', () => {
  it('refuses a framing field in the trailer section, after the head and body it read, cut anywhere', () => {
    for (const name of ['Content-Length', 'transfer-encoding']) {
      const bytes = `POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX-Fine: 1\r\n${name}: 41\r\n\r\n`
      for (const parts of cuts(bytes)) {
        const { result, parser, events } = run(parts)
        assert.equal(result, PARSE_ERROR, label(parts))
        assert.equal(parser.error, 'framing field in the trailer section', label(parts))
        assert.deepEqual(events, ['POST / 1.1 length=-1 chunked keep-alive {Transfer-Encoding=chunked}', 'body:a'], label(parts))
      }
    }
  })

  for (const c of good) {
    it(`reads ${c.name}, cut anywhere`, () => {
      for (const parts of cuts(c.bytes)) {
        const { result, parser, events } = run(parts)
        assert.equal(result, PARSE_MORE, `${label(parts)}: ${parser.error}`)
        assert.deepEqual(events, c.events, label(parts))
        assert.equal(parser.idle, true, label(parts))
      }
    })

    it(`reads ${c.name} when every callback stops it`, () => {
      for (const parts of cuts(c.bytes)) {
        const { result, events, stops } = run(parts, true)
        assert.equal(result, PARSE_MORE, label(parts))
        assert.deepEqual(events, c.events, label(parts))
        assert.ok(stops >= c.events.length, `${label(parts)}: ${stops} stops`)
      }
    })
  }

  for (const c of bad) {
    it(`refuses ${c.name} with 400, cut anywhere`, () => {
      for (const parts of cuts(c.bytes)) {
        const { result, parser, events } = run(parts)
        assert.equal(result, PARSE_ERROR, `${label(parts)}: got ${result}, events ${JSON.stringify(events)}`)
        assert.equal(parser.errorStatus, 400, `${label(parts)}: ${parser.error}`)
        assert.notEqual(parser.error, '')
        if (c.reason !== undefined) assert.equal(parser.error, c.reason, label(parts))
        assert.deepEqual(events.filter((e) => !e.startsWith('body:')), c.before ?? [], label(parts))
        assert.equal(parser.execute(Buffer.from('GET / HTTP/1.1\r\n\r\n')), PARSE_ERROR, 'nothing is read after an error')
      }
    })
  }

  it('names the reason of a bad request line and of a refused coding', () => {
    const reasons: Array<[string, string]> = [
      ['GET / HTTP/2.0', 'unsupported HTTP version'],
      ['GET /x', 'unsupported HTTP version'],
      ['GET / HTTP/1.2', 'unsupported HTTP version'],
      ['GET /a\x01 HTTP/1.1', 'invalid request target'],
      ['GET  / HTTP/1.1', 'invalid request target'],
      ['G@T / HTTP/1.1', 'invalid request line'],
    ]
    for (const [line, reason] of reasons) {
      const { parser } = run([Buffer.from(`${line}\r\n\r\n`, 'latin1')])
      assert.equal(parser.error, reason, line)
    }
    const { parser } = run([Buffer.from(post('Transfer-Encoding: gzip\r\n'))])
    assert.equal(parser.error, 'unsupported Transfer-Encoding (only "chunked" is accepted)')
  })

  it('takes a head of exactly the limit and refuses one byte more with 431, cut anywhere', () => {
    const fits = headOfSize(LIMIT)
    assert.equal(Buffer.byteLength(fits), LIMIT)
    for (const parts of cuts(`${fits}GET /next HTTP/1.1\r\n\r\n`)) {
      const { result, events, parser } = run(parts)
      assert.equal(result, PARSE_MORE, `${label(parts)}: ${parser.error}`)
      assert.equal(events.length, 4, label(parts))
    }
    for (const parts of cuts(headOfSize(LIMIT + 1))) {
      const { result, parser } = run(parts)
      assert.equal(result, PARSE_ERROR, label(parts))
      assert.equal(parser.errorStatus, 431, `${label(parts)}: ${parser.error}`)
    }
  })

  it('refuses an endless head as soon as the bytes held pass the limit', () => {
    const parser = new RequestParser(new Recorder(), LIMIT)
    const endless = Buffer.from(`GET / HTTP/1.1\r\nX: ${'x'.repeat(4 * LIMIT)}`)
    let fed = 0
    let result: ParseResult = PARSE_MORE
    while (result === PARSE_MORE && fed < endless.length) {
      result = parser.execute(endless.subarray(fed, fed + 7))
      fed += 7
    }
    // The error comes with the piece that takes the bytes held past LIMIT, not later.
    assert.equal(result, PARSE_ERROR)
    assert.ok(fed > LIMIT && fed - 7 <= LIMIT, `error after ${fed} bytes`)
    assert.equal(parser.errorStatus, 431)
    const whole = new RequestParser(new Recorder(), LIMIT)
    assert.equal(whole.execute(Buffer.alloc(LIMIT + 1, 'a')), PARSE_ERROR, 'one chunk without a line end')
    assert.equal(whole.errorStatus, 431)
  })

  it('refuses a head size limit that would not limit', () => {
    for (const limit of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, 1.5]) {
      assert.throws(() => new RequestParser(new Recorder(), limit), RangeError, String(limit))
    }
    assert.equal(new RequestParser(new Recorder(), 1).execute(Buffer.from('\r\n')), PARSE_ERROR, 'a one-byte limit holds no empty line')
  })

  it('stops right after a head and tells the end of a body-less request when resumed', () => {
    const sink = new Recorder()
    sink.answer.head = false
    const parser = new RequestParser(sink, LIMIT)
    const first = 'GET /a HTTP/1.1\r\n\r\n'
    const bytes = Buffer.from(`${first}GET /b HTTP/1.1\r\n\r\n`)
    assert.equal(parser.execute(bytes), PARSE_STOPPED)
    assert.equal(parser.stoppedAt, first.length)
    assert.deepEqual(sink.events, ['GET /a 1.1 length=-1 keep-alive {}'])
    assert.equal(parser.idle, false)
    assert.equal(parser.execute(bytes, parser.stoppedAt), PARSE_STOPPED)
    assert.equal(parser.stoppedAt, bytes.length, 'the second head ends the chunk')
    sink.answer.head = true
    // Nothing is left of the chunk: the end of /b still comes.
    assert.equal(parser.execute(bytes, parser.stoppedAt), PARSE_MORE)
    assert.deepEqual(sink.events.slice(1), ['end', 'GET /b 1.1 length=-1 keep-alive {}', 'end'])
    assert.equal(parser.idle, true)
  })

  it('leaves the bytes after an upgrade head to the sink that takes the connection', () => {
    const head = 'GET /ws HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n'
    const bytes = Buffer.concat([Buffer.from(head), Buffer.from([0x81, 0x80, 1, 2, 3, 4])])
    const parser = new RequestParser(
      {
        onRequestHead: (h) => !h.upgrade,
        onRequestBody: () => assert.fail('no body for an upgrade the sink took'),
        onRequestEnd: () => assert.fail('no end for an upgrade the sink took'),
      },
      LIMIT,
    )
    assert.equal(parser.execute(bytes), PARSE_STOPPED)
    assert.deepEqual([...bytes.subarray(parser.stoppedAt)], [0x81, 0x80, 1, 2, 3, 4])
  })

  it('stops in the body and at the end, and goes on from stoppedAt', () => {
    const sink = new Recorder()
    sink.answer = { head: true, body: false, end: false }
    const parser = new RequestParser(sink, LIMIT)
    const head = 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n'
    const bytes = Buffer.from(`${head}3\r\nabc\r\n2\r\nde\r\n0\r\n\r\nGET /n HTTP/1.1\r\n\r\n`)
    const at: number[] = []
    let result = parser.execute(bytes)
    while (result === PARSE_STOPPED) {
      at.push(parser.stoppedAt)
      result = parser.execute(bytes, parser.stoppedAt)
    }
    assert.equal(result, PARSE_MORE)
    const data = head.length + 3
    // After "abc", after "de", after the last chunk's CRLF (end of /), after /n's head (its end).
    assert.deepEqual(at, [data + 3, data + 3 + 5 + 2, data + 3 + 5 + 2 + 7, bytes.length])
    assert.deepEqual(sink.events.slice(1), ['body:abcde', 'end', 'GET /n 1.1 length=-1 keep-alive {}', 'end'])
  })

  it('hands on body bytes without copying them', () => {
    const pieces: Buffer[] = []
    const parser = new RequestParser({ onRequestHead: () => true, onRequestBody: (c) => pieces.push(c) > 0, onRequestEnd: () => true }, LIMIT)
    const chunk = Buffer.from('PUT / HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody')
    assert.equal(parser.execute(chunk), PARSE_MORE)
    assert.equal(pieces.length, 1)
    assert.equal(pieces[0]!.buffer, chunk.buffer)
    assert.equal(pieces[0]!.byteOffset, chunk.byteOffset + chunk.length - 4)
    const next = Buffer.from('PUT / HTTP/1.1\r\nContent-Length: 4\r\n\r\n')
    const body = Buffer.from('wxyz')
    assert.equal(parser.execute(next), PARSE_MORE)
    assert.equal(parser.execute(body), PARSE_MORE)
    assert.equal(pieces[1], body, 'a chunk that is all body goes on as it is')
  })

  const flagCases: Array<[string, string, Partial<RequestHead>]> = [
    ['HTTP/1.1 by default', 'GET / HTTP/1.1\r\n\r\n', { keepAlive: true, upgrade: false, expectContinue: false }],
    ['HTTP/1.1 with close', 'GET / HTTP/1.1\r\nConnection: close\r\n\r\n', { keepAlive: false }],
    ['HTTP/1.1 with close in a second field', 'GET / HTTP/1.1\r\nConnection: x-hop\r\nConnection: Close\r\n\r\n', { keepAlive: false }],
    ['HTTP/1.0 by default', 'GET / HTTP/1.0\r\n\r\n', { keepAlive: false }],
    ['HTTP/1.0 with keep-alive', 'GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n', { keepAlive: true }],
    ['HTTP/1.0 with keep-alive and close', 'GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n', { keepAlive: false }],
    ['a websocket upgrade', 'GET / HTTP/1.1\r\nConnection: Keep-Alive, Upgrade\r\nUpgrade: websocket\r\n\r\n', { keepAlive: true, upgrade: true }],
    ['Upgrade without the Connection option', 'GET / HTTP/1.1\r\nConnection: keep-alive\r\nUpgrade: websocket\r\n\r\n', { upgrade: false }],
    ['the Connection option without Upgrade', 'GET / HTTP/1.1\r\nConnection: upgrade\r\n\r\n', { upgrade: false }],
    ['Upgrade with close', 'GET / HTTP/1.1\r\nconnection: UPGRADE,close\r\nupgrade: h2c\r\n\r\n', { keepAlive: false, upgrade: true }],
    ['Expect: 100-continue', 'PUT / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\nx', { expectContinue: true, contentLength: 1 }],
    ['another expectation', 'PUT / HTTP/1.1\r\nExpect: 100-continue-later\r\n\r\n', { expectContinue: false }],
  ]
  for (const [name, bytes, expected] of flagCases) {
    it(`says keepAlive, upgrade and expectContinue: ${name}`, () => {
      const sink = new Recorder()
      assert.equal(new RequestParser(sink, LIMIT).execute(Buffer.from(bytes)), PARSE_MORE)
      assert.equal(sink.heads.length, 1)
      for (const [key, value] of Object.entries(expected)) assert.equal(sink.heads[0]![key as keyof RequestHead], value, key)
    })
  }

  it('says idle, readingHead and readingBody along the way', () => {
    assert.deepEqual(flagsAlong('\r\nPOST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nokG'), [
      'new I--',
      '"\\r" -H-',
      '"\\n" -H-',
      ...'POST / HTTP/1.1\r\nContent-Length: 2\r\n\r'.split('').map((c) => `${JSON.stringify(c)} -H-`),
      'head --B',
      '"\\n" --B',
      'body --B',
      '"o" --B',
      'body ---',
      'end I--',
      '"k" I--',
      '"G" -H-',
    ])
    assert.deepEqual(flagsAlong('GET / HTTP/1.1\r\n\r\n\n').slice(-5), ['"\\r" -H-', 'head ---', 'end I--', '"\\n" I--', '"\\n" error ---'])
  })
})
