import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  MAX_HEAD_BYTES,
  PARSE_DONE,
  PARSE_ERROR,
  PARSE_EXTRA,
  PARSE_MORE,
  PARSE_STOPPED,
  ResponseParser,
  type ParseResult,
  type ResponseSink,
} from '../src/proxy/response-parser.js'

/** What a parser handed on for one response. */
class Collected implements ResponseSink {
  status = 0
  reason = ''
  headers: string[] = []
  heads = 0
  private readonly chunks: Buffer[] = []

  onResponseHead(status: number, reason: string, headers: string[]): boolean {
    this.heads++
    this.status = status
    this.reason = reason
    this.headers = headers
    return true
  }

  onResponseData(chunk: Buffer): boolean {
    this.chunks.push(Buffer.from(chunk))
    return true
  }

  get body(): string {
    return Buffer.concat(this.chunks).toString('latin1')
  }
}

interface Outcome {
  readonly result: ParseResult
  readonly parser: ResponseParser
  readonly seen: Collected
}

/** Feeds `parts` in order to a fresh parser; stops at the first result other than "more". */
function feed(parts: readonly Buffer[], head = false): Outcome {
  const seen = new Collected()
  const parser = new ResponseParser(seen)
  parser.start(head)
  let result: ParseResult = PARSE_MORE
  for (const part of parts) {
    result = parser.execute(part)
    if (result !== PARSE_MORE) break
  }
  return { result, parser, seen }
}

/** The bytes split in two at every position (every 997th for long ones), then fed one byte at a time. */
function everySplit(text: string): Buffer[][] {
  const bytes = Buffer.from(text, 'latin1')
  const ways: Buffer[][] = []
  const step = bytes.length > 4096 ? 997 : 1
  for (let at = 0; at <= bytes.length; at += step) ways.push([bytes.subarray(0, at), bytes.subarray(at)])
  ways.push([...bytes].map((b) => Buffer.from([b])))
  return ways
}

interface Accepted {
  readonly name: string
  readonly bytes: string
  readonly head?: boolean
  readonly status: number
  readonly reason?: string
  readonly headers?: string[]
  readonly body: string
  readonly keepAlive: boolean
  /** The response runs until the connection closes. */
  readonly untilClose?: boolean
}

const accepted: Accepted[] = [
  {
    name: 'Content-Length',
    bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Multi:  a b \t\r\nEmpty:\r\n\r\nhello',
    status: 200,
    reason: 'OK',
    headers: ['Content-Length', '5', 'X-Multi', 'a b', 'Empty', ''],
    body: 'hello',
    keepAlive: true,
  },
  {
    name: 'chunked, with extensions and trailers',
    bytes:
      'HTTP/1.1 201 Created\r\ntransfer-encoding: Chunked\r\n\r\n5;name=value\r\nhello\r\nB ; x="y z"\r\n 0123456789\r\n0\r\nX-Trailer: t\r\nY: u\r\n\r\n',
    status: 201,
    body: 'hello 0123456789',
    keepAlive: true,
  },
  {
    name: 'interim 100 and 103 before the final answer',
    bytes: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
    status: 200,
    headers: ['Content-Length', '2'],
    body: 'ok',
    keepAlive: true,
  },
  { name: 'HEAD: no body whatever the length says', bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n', head: true, status: 200, body: '', keepAlive: true },
  { name: '204 has no body', bytes: 'HTTP/1.1 204 No Content\r\n\r\n', status: 204, body: '', keepAlive: true },
  { name: '304 has no body', bytes: 'HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n', status: 304, body: '', keepAlive: true },
  { name: 'no reason phrase', bytes: 'HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n', status: 404, reason: '', body: '', keepAlive: true },
  { name: 'equal Content-Length values', bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\ncontent-length: 3\r\n\r\nabc', status: 200, body: 'abc', keepAlive: true },
  { name: 'Connection: close', bytes: 'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx', status: 200, body: 'x', keepAlive: false },
  { name: 'HTTP/1.0 keep-alive', bytes: 'HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\nx', status: 200, body: 'x', keepAlive: true },
  { name: 'HTTP/1.0 without keep-alive', bytes: 'HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx', status: 200, body: 'x', keepAlive: false },
  { name: 'read until close', bytes: 'HTTP/1.1 200 OK\r\nX: y\r\n\r\nall of it', status: 200, body: 'all of it', keepAlive: false, untilClose: true },
  { name: 'latin1 bytes in values', bytes: 'HTTP/1.1 200 \xe9t\xe9\r\nX-Name: caf\xe9\r\nContent-Length: 0\r\n\r\n', status: 200, reason: '\xe9t\xe9', headers: ['X-Name', 'caf\xe9', 'Content-Length', '0'], body: '', keepAlive: true },
]

interface Refused {
  readonly name: string
  readonly bytes: string
}

const head = (fields: string): string => `HTTP/1.1 200 OK\r\n${fields}\r\n`
const chunked = (body: string): string => `${head('Transfer-Encoding: chunked\r\n')}${body}`

const refused: Refused[] = [
  { name: 'Content-Length and Transfer-Encoding', bytes: head('Content-Length: 3\r\nTransfer-Encoding: chunked\r\n') + '0\r\n\r\n' },
  { name: 'Transfer-Encoding and Content-Length', bytes: head('Transfer-Encoding: chunked\r\nContent-Length: 3\r\n') + '0\r\n\r\n' },
  { name: 'differing Content-Length fields', bytes: head('Content-Length: 3\r\nContent-Length: 4\r\n') + 'abcd' },
  { name: 'differing Content-Length list', bytes: head('Content-Length: 3, 4\r\n') + 'abcd' },
  { name: 'Content-Length with a sign', bytes: head('Content-Length: +3\r\n') + 'abc' },
  { name: 'negative Content-Length', bytes: head('Content-Length: -1\r\n') },
  { name: 'hex Content-Length', bytes: head('Content-Length: 0x3\r\n') + 'abc' },
  { name: 'Content-Length with a space inside', bytes: head('Content-Length: 3 3\r\n') + 'abc' },
  { name: 'Content-Length too large', bytes: head('Content-Length: 18446744073709551620\r\n') },
  { name: 'empty Content-Length', bytes: head('Content-Length:\r\n') },
  { name: 'Content-Length list with a trailing comma', bytes: head('Content-Length: 3,\r\n') + 'abc' },
  { name: 'a coding before chunked', bytes: head('Transfer-Encoding: gzip, chunked\r\n') + '0\r\n\r\n' },
  { name: 'chunked twice', bytes: head('Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n') + '0\r\n\r\n' },
  { name: 'a final coding other than chunked', bytes: head('Transfer-Encoding: chunked, identity\r\n') + 'abc' },
  { name: 'identity', bytes: head('Transfer-Encoding: identity\r\n') + 'abc' },
  { name: 'chunked with a parameter', bytes: head('Transfer-Encoding: chunked;q=1\r\n') + '0\r\n\r\n' },
  { name: 'empty Transfer-Encoding', bytes: head('Transfer-Encoding:\r\n') + 'abc' },
  { name: 'Transfer-Encoding in HTTP/1.0', bytes: 'HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' },
  { name: 'obs-fold', bytes: head('X-A: b\r\n c\r\nContent-Length: 0\r\n') },
  { name: 'obs-fold with a tab', bytes: head('X-A: b\r\n\tc\r\nContent-Length: 0\r\n') },
  { name: 'whitespace before the colon', bytes: head('Content-Length : 3\r\n') + 'abc' },
  { name: 'a bad character in a name', bytes: head('X(A): b\r\n') },
  { name: 'an empty name', bytes: head(': b\r\n') },
  { name: 'a line without colon', bytes: head('Content-Length 3\r\n') + 'abc' },
  { name: 'NUL in a value', bytes: head('X-A: a\x00b\r\n') },
  { name: 'bare CR in a value', bytes: head('X-A: a\rb\r\n') },
  { name: 'DEL in a value', bytes: head('X-A: a\x7fb\r\n') },
  { name: 'bare LF line ends', bytes: 'HTTP/1.1 200 OK\nContent-Length: 0\n\n' },
  { name: 'a bare LF before a header', bytes: 'HTTP/1.1 200 OK\r\nX-A: b\nContent-Length: 3\r\n\r\nabc' },
  { name: 'bare CR line end', bytes: 'HTTP/1.1 200 OK\rContent-Length: 0\r\n\r\n' },
  { name: 'HTTP/2 status line', bytes: 'HTTP/2 200 OK\r\n\r\n' },
  { name: 'HTTP/1.2', bytes: 'HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n' },
  { name: 'two-digit status', bytes: 'HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n' },
  { name: 'status below 100', bytes: 'HTTP/1.1 099 Low\r\nContent-Length: 0\r\n\r\n' },
  { name: 'letters for a status', bytes: 'HTTP/1.1 abc OK\r\nContent-Length: 0\r\n\r\n' },
  { name: 'two spaces before the status', bytes: 'HTTP/1.1  200 OK\r\nContent-Length: 0\r\n\r\n' },
  { name: 'no space after the status', bytes: 'HTTP/1.1 200OK\r\nContent-Length: 0\r\n\r\n' },
  { name: 'control character in the reason', bytes: 'HTTP/1.1 200 O\x01K\r\nContent-Length: 0\r\n\r\n' },
  { name: 'not HTTP at all', bytes: '\x00\xff SSH-2.0-OpenSSH_9.6 definitely not HTTP\r\n\r\n' },
  { name: 'empty status line', bytes: '\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n' },
  { name: '101 Switching Protocols', bytes: 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n' },
  { name: 'chunk size not hex', bytes: chunked('g\r\nabc\r\n0\r\n\r\n') },
  { name: 'negative chunk size', bytes: chunked('-3\r\nabc\r\n0\r\n\r\n') },
  { name: 'chunk size with 0x', bytes: chunked('0x3\r\nabc\r\n0\r\n\r\n') },
  { name: 'chunk size too large', bytes: chunked('10000000000000003\r\nabc\r\n0\r\n\r\n') },
  { name: 'empty chunk size', bytes: chunked('\r\nabc\r\n0\r\n\r\n') },
  { name: 'space after the chunk size', bytes: chunked('3 \r\nabc\r\n0\r\n\r\n') },
  { name: 'bare LF after the chunk size', bytes: chunked('3\nabc\r\n0\r\n\r\n') },
  { name: 'bare LF in a chunk extension', bytes: chunked('3;x\ny\r\nabc\r\n0\r\n\r\n') },
  { name: 'control character in a chunk extension', bytes: chunked('3;x\x01\r\nabc\r\n0\r\n\r\n') },
  { name: 'chunk data longer than its size', bytes: chunked('3\r\nabcdef\r\n0\r\n\r\n') },
  { name: 'chunk data without CRLF', bytes: chunked('3\r\nabc0\r\n\r\n') },
  { name: 'a response instead of the next chunk size', bytes: chunked('3\r\nabc\r\nHTTP/1.1 200 OK\r\n\r\n') },
  { name: 'bare LF in the trailers', bytes: chunked('0\r\nX: y\n\r\n') },
  { name: 'obs-fold in the trailers', bytes: chunked('0\r\nX: y\r\n z\r\n\r\n') },
  { name: 'bare LF ending the trailers', bytes: chunked('0\r\n\n') },
  { name: 'a head above the limit', bytes: head(`X-Big: ${'b'.repeat(MAX_HEAD_BYTES)}\r\n`) },
]

describe('upstream response parser', () => {
  for (const c of accepted) {
    it(`reads ${c.name}, split at every byte`, () => {
      for (const parts of everySplit(c.bytes)) {
        const { result, parser, seen } = feed(parts, c.head)
        const where = `split ${parts.map((p) => p.length).join('+')}`
        if (c.untilClose === true) {
          assert.equal(result, PARSE_MORE, where)
          assert.equal(parser.finishAtClose(), true, where)
        } else assert.equal(result, PARSE_DONE, `${where}: ${parser.error}`)
        assert.equal(seen.heads, 1, where)
        assert.equal(seen.status, c.status, where)
        if (c.reason !== undefined) assert.equal(seen.reason, c.reason, where)
        if (c.headers !== undefined) assert.deepEqual(seen.headers, c.headers, where)
        assert.equal(seen.body, c.body, where)
        assert.equal(parser.keepAlive, c.keepAlive, where)
      }
    })
  }

  for (const c of refused) {
    it(`refuses ${c.name}, split at every byte`, () => {
      for (const parts of everySplit(c.bytes)) {
        const { result, parser } = feed(parts)
        assert.equal(result, PARSE_ERROR, `split ${parts.map((p) => p.length).join('+')}: got ${result}`)
        assert.notEqual(parser.error, '')
      }
    })
  }

  it('says when bytes follow a complete response, and when a close cuts one short', () => {
    assert.equal(feed([Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1 200 OK\r\n\r\n')]).result, PARSE_EXTRA)
    const done = feed([Buffer.from('HTTP/1.1 204 No Content\r\n\r\n')])
    assert.equal(done.result, PARSE_DONE)
    assert.equal(done.parser.execute(Buffer.from('x')), PARSE_EXTRA, 'a later chunk')
    const cut = feed([Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc')])
    assert.equal(cut.result, PARSE_MORE)
    assert.equal(cut.parser.finishAtClose(), false)
  })

  it('reads the Keep-Alive timeout hint and the Connection values', () => {
    const { parser } = feed([Buffer.from('HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5, max=100\r\nConnection: keep-alive\r\nConnection: X-Hop\r\nContent-Length: 0\r\n\r\n')])
    assert.equal(parser.keepAliveHintMs, 5000)
    assert.equal(parser.connection, 'keep-alive, X-Hop')
    assert.equal(parser.keepAlive, true)
    const none = feed([Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')])
    assert.equal(none.parser.keepAliveHintMs, -1)
    assert.equal(none.parser.connection, undefined)
  })

  it('hands on the body as the chunks came, without copying the common case', () => {
    const bytes = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n')
    const body = Buffer.from('abcdefgh')
    const pieces: Buffer[] = []
    const parser = new ResponseParser({ onResponseHead: () => true, onResponseData: (chunk) => pieces.push(chunk) > 0 })
    parser.start(false)
    assert.equal(parser.execute(bytes), PARSE_MORE)
    assert.equal(parser.execute(body), PARSE_DONE)
    assert.equal(pieces.length, 1)
    assert.equal(pieces[0], body, 'the chunk itself, not a copy')
  })

  it('reads responses one after another on the same parser', () => {
    const seen = new Collected()
    const parser = new ResponseParser(seen)
    for (const [bytes, body] of [
      ['HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none', 'one'],
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ntwo\r\n0\r\n\r\n', 'onetwo'],
    ] as const) {
      parser.start(false)
      assert.equal(parser.execute(Buffer.from(bytes)), PARSE_DONE)
      assert.equal(seen.body, body)
    }
  })

  it('says where it stopped when the sink asks, and goes on from there', () => {
    const bytes = Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n')
    const pieces: string[] = []
    let heads = 0
    const parser = new ResponseParser({
      onResponseHead: () => ++heads < 0,
      onResponseData: (chunk) => pieces.push(chunk.toString()) < 0,
    })
    parser.start(false)
    let rest = bytes
    const results: ParseResult[] = []
    for (;;) {
      const result = parser.execute(rest)
      results.push(result)
      if (result !== PARSE_STOPPED) break
      rest = rest.subarray(parser.stoppedAt)
    }
    assert.deepEqual(results, [PARSE_STOPPED, PARSE_STOPPED, PARSE_STOPPED, PARSE_DONE])
    assert.equal(heads, 1)
    assert.deepEqual(pieces, ['ab', 'cde'])
    assert.equal(parser.finished, true)
  })

  it('stops when the sink says the request is gone', () => {
    const parser = new ResponseParser({ onResponseHead: () => false, onResponseData: () => true })
    parser.start(false)
    assert.equal(parser.execute(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx')), PARSE_STOPPED)
  })
})
