/**
 * A seeded generator of random and mutated HTTP/1.1 requests, for fuzzing a listener over raw sockets.
 *
 * Each case starts from a valid request (GET, POST with Content-Length or chunked, pipelined, upgrade, absolute
 * form, Expect, HTTP/1.0...) or, rarely, from random bytes, and gets up to four mutations: byte and bit flips,
 * inserted CR/LF/NUL and framing headers, deleted ranges, truncation, duplicated or swapped header lines, random
 * methods, targets, versions and header bytes, chunked bodies with broken framing, Content-Length that lies, a
 * repeated request. The bytes are then cut into up to three writes. The same seed gives the same cases in the
 * same order, and a case names its recipe, so a failure can be replayed (SWITCHYARD_FUZZ_SEED=N).
 */

import { randomBytes } from 'node:crypto'

/** mulberry32: small, fast, and good enough to spread cases; not for anything secret. */
export class Random {
  private state: number

  constructor(seed: number) {
    this.state = seed >>> 0
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n)
  }

  chance(p: number): boolean {
    return this.next() < p
  }

  pick<T>(list: readonly T[]): T {
    return list[this.int(list.length)]!
  }

  /** `n` characters (latin1, so bytes) drawn from `alphabet`, or any byte without one. */
  text(n: number, alphabet?: string): string {
    let out = ''
    for (let i = 0; i < n; i++) out += alphabet === undefined ? String.fromCharCode(this.int(256)) : alphabet[this.int(alphabet.length)]
    return out
  }
}

/** The seed of this run: SWITCHYARD_FUZZ_SEED when set, otherwise a new random one (printed by the test). */
export function fuzzSeed(): number {
  const fromEnv = process.env.SWITCHYARD_FUZZ_SEED
  if (fromEnv !== undefined && fromEnv !== '') {
    const seed = Number(fromEnv)
    if (!Number.isInteger(seed)) throw new Error(`SWITCHYARD_FUZZ_SEED must be an integer, got ${fromEnv}`)
    return seed >>> 0
  }
  return randomBytes(4).readUInt32BE(0)
}

export interface FuzzCase {
  /** Position in the sequence of this seed (0-based). */
  readonly index: number
  /** How it was made, e.g. "post-chunked > flip-byte > truncate". */
  readonly recipe: string
  /** The bytes, in the writes they are sent in. */
  readonly parts: readonly Buffer[]
}

const TOKEN = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
const VISIBLE = TOKEN + '"(),/:;<=>?@[\\]{} '
/** (No HEAD: its answers have a Content-Length and no body, which a reader of the raw stream cannot tell apart.) */
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'PROPFIND', 'CONNECT', 'PRI', 'get', 'G ET', 'GET\0', '', 'FOO', 'X'.repeat(60), 'GET ']
const TARGETS = [
  '/', '/a/b?c=d', '*', 'http://other.example/x', 'https://other.example:8443/y?z', 'http:///x', 'http://u:p@h/x', 'ftp://h/x', '//x', '/%00',
  '/%0d%0aX-Injected:%201', '/..%2f..%2fetc/passwd', '/?' + 'q'.repeat(300), 'h:80', '/ /', '/\t', '/#frag', '', '/\xff', 'javascript:x',
]
const VERSIONS = ['HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.2', 'HTTP/0.9', 'HTTP/1', 'http/1.1', 'HTTP/1.1 ', 'HTTP/11', 'HTTP/9.9', '']
const INSERTS = [
  '\r', '\n', '\r\n', '\r\n\r\n', '\0', ' ', '\t', ':', ',', '"', '\x7f', '\xff', '\x0b', '\x0c',
  'Transfer-Encoding: chunked\r\n', 'Content-Length: 5\r\n', 'Content-Length: 0\r\n', 'Host: other.example\r\n', ' chunked\r\n',
  'Connection: close\r\n', 'Connection: upgrade\r\nUpgrade: websocket\r\n', 'Expect: 100-continue\r\n', '0\r\n\r\n',
  'GET /pipelined HTTP/1.1\r\nHost: h\r\n\r\n',
]
const HEADER_NAMES = ['Host', 'Content-Length', 'Transfer-Encoding', 'Connection', 'Upgrade', 'Expect', 'X-Forwarded-For', 'Cookie', 'TE', 'Trailer', 'X-Request-Id', 'Keep-Alive', 'Accept']

type Mutation = (r: Random, s: string) => string

function lines(s: string): { head: string[]; rest: string } {
  const end = s.indexOf('\r\n\r\n')
  if (end < 0) return { head: s.split('\r\n'), rest: '' }
  return { head: s.slice(0, end).split('\r\n'), rest: s.slice(end + 4) }
}

function join(head: string[], rest: string): string {
  return `${head.join('\r\n')}\r\n\r\n${rest}`
}

function replaceRequestLinePart(s: string, index: number, value: string): string {
  const { head, rest } = lines(s)
  const parts = head[0]!.split(' ')
  if (parts.length > index) parts[index] = value
  head[0] = parts.join(' ')
  return join(head, rest)
}

const MUTATIONS: Record<string, Mutation> = {
  'flip-byte': (r, s) => {
    if (s.length === 0) return s
    const at = r.int(s.length)
    return s.slice(0, at) + String.fromCharCode(r.int(256)) + s.slice(at + 1)
  },
  'flip-bit': (r, s) => {
    if (s.length === 0) return s
    const at = r.int(s.length)
    return s.slice(0, at) + String.fromCharCode(s.charCodeAt(at) ^ (1 << r.int(8))) + s.slice(at + 1)
  },
  insert: (r, s) => {
    const at = r.int(s.length + 1)
    return s.slice(0, at) + r.pick(INSERTS) + s.slice(at)
  },
  delete: (r, s) => {
    const at = r.int(s.length + 1)
    return s.slice(0, at) + s.slice(at + 1 + r.int(20))
  },
  truncate: (r, s) => s.slice(0, r.int(s.length + 1)),
  'duplicate-header': (r, s) => {
    const { head, rest } = lines(s)
    if (head.length < 2) return s
    const i = 1 + r.int(head.length - 1)
    head.splice(i, 0, head[i]!)
    return join(head, rest)
  },
  'swap-lines': (r, s) => {
    const { head, rest } = lines(s)
    if (head.length < 3) return s
    const i = r.int(head.length)
    const j = r.int(head.length)
    ;[head[i], head[j]] = [head[j]!, head[i]!]
    return join(head, rest)
  },
  'random-method': (r, s) => replaceRequestLinePart(s, 0, r.chance(0.2) ? r.text(1 + r.int(10), TOKEN) : r.pick(METHODS)),
  'random-target': (r, s) => replaceRequestLinePart(s, 1, r.chance(0.2) ? `/${r.text(1 + r.int(30))}` : r.pick(TARGETS)),
  'random-version': (r, s) => replaceRequestLinePart(s, 2, r.pick(VERSIONS)),
  'random-header': (r, s) => {
    const { head, rest } = lines(s)
    const name = r.chance(0.5) ? r.pick(HEADER_NAMES) : r.text(1 + r.int(12), r.chance(0.8) ? TOKEN : undefined)
    const value = r.text(r.int(40), r.chance(0.7) ? VISIBLE : undefined)
    head.splice(1 + r.int(head.length), 0, `${name}:${r.chance(0.8) ? ' ' : ''}${value}`)
    return join(head, rest)
  },
  'change-case': (r, s) => {
    const { head, rest } = lines(s)
    if (head.length < 2) return s
    const i = 1 + r.int(head.length - 1)
    const colon = head[i]!.indexOf(':')
    if (colon < 0) return s
    const name = [...head[i]!.slice(0, colon)].map((c) => (r.chance(0.5) ? c.toUpperCase() : c.toLowerCase())).join('')
    head[i] = name + head[i]!.slice(colon)
    return join(head, rest)
  },
  'lying-length': (r, s) => {
    const { head, rest } = lines(s)
    const i = head.findIndex((l) => /^content-length:/i.test(l))
    const lie = r.pick([0, 1, rest.length + 1, rest.length + 100, Math.max(0, rest.length - 3), 2 ** 31, 99999999999])
    if (i >= 0) head[i] = `Content-Length: ${lie}`
    else head.push(`Content-Length: ${lie}`)
    return join(head, rest)
  },
  'repeat-request': (r, s) => s.repeat(2 + r.int(3)),
}

/** Chunked bodies, correct or with broken framing. */
function chunkedBody(r: Random): { body: string; broken: string | undefined } {
  const chunks: string[] = []
  const count = r.int(4)
  for (let i = 0; i < count; i++) {
    const data = r.text(1 + r.int(300), VISIBLE)
    chunks.push(`${data.length.toString(16)}${r.chance(0.1) ? ';ext=1' : ''}\r\n${data}\r\n`)
  }
  const end = r.chance(0.1) ? '0\r\nX-Trailer: 1\r\n\r\n' : '0\r\n\r\n'
  if (!r.chance(0.4)) return { body: chunks.join('') + end, broken: undefined }
  const breaks: Record<string, () => string> = {
    'size-too-small': () => `2\r\nabcdef\r\n${end}`,
    'size-too-large': () => `ff\r\nabc\r\n${end}`,
    'size-not-hex': () => `zz\r\nabc\r\n${end}`,
    'size-negative': () => `-1\r\nabc\r\n${end}`,
    'size-overflow': () => `${'f'.repeat(20)}\r\nabc\r\n${end}`,
    'size-huge': () => `7fffffff\r\nabc`,
    'missing-crlf': () => `3\r\nabc${end}`,
    'bare-lf': () => `3\nabc\n0\n\n`,
    'no-last-chunk': () => chunks.join(''),
    'junk-extension': () => `3;${r.text(20)}\r\nabc\r\n${end}`,
    'junk-trailer': () => `3\r\nabc\r\n0\r\n${r.text(20)}\r\n\r\n`,
    'space-in-size': () => `3 3\r\nabc\r\n${end}`,
  }
  const name = r.pick(Object.keys(breaks))
  return { body: breaks[name]!(), broken: name }
}

function headers(r: Random): string {
  let out = ''
  const n = r.int(4)
  for (let i = 0; i < n; i++) out += `X-F${i}: ${r.text(r.int(30), VISIBLE.trim())}\r\n`
  if (r.chance(0.2)) out += 'Accept: */*\r\nUser-Agent: fuzz\r\n'
  if (r.chance(0.1)) out += `X-Big: ${'b'.repeat(r.pick([1000, 7000, 9000]))}\r\n`
  return out
}

const BASES: Record<string, (r: Random) => string> = {
  get: (r) => `GET /fuzz/${r.int(1000)} HTTP/1.1\r\nHost: h\r\n${headers(r)}\r\n`,
  'get-close': (r) => `GET /fuzz/${r.int(1000)} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n${headers(r)}\r\n`,
  'post-length': (r) => {
    const body = r.text(r.pick([0, 5, 200, 3000, 70_000]), VISIBLE)
    return `POST /fuzz/post HTTP/1.1\r\nHost: h\r\nContent-Length: ${body.length}\r\n${headers(r)}\r\n${body}`
  },
  'post-chunked': (r) => `POST /fuzz/chunked HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n${headers(r)}\r\n${chunkedBody(r).body}`,
  'pipelined': (r) => {
    let out = ''
    const n = 2 + r.int(4)
    for (let i = 0; i < n; i++) out += r.chance(0.5) ? `GET /fuzz/p${i} HTTP/1.1\r\nHost: h\r\n\r\n` : `POST /fuzz/p${i} HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc`
    return out
  },
  upgrade: (r) =>
    `GET /fuzz/ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: ${r.pick(['websocket', 'h2c', 'foo'])}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n${r.chance(0.5) ? 'GET /fuzz/after HTTP/1.1\r\nHost: h\r\n\r\n' : ''}`,
  absolute: (r) => `GET http://${r.pick(['h', 'other.example', 'h:81', '[::1]'])}/fuzz/abs HTTP/1.1\r\nHost: h\r\n${headers(r)}\r\n`,
  expect: (r) => `PUT /fuzz/expect HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: ${r.pick([4, 100_000])}\r\n\r\nbody`,
  'http-1.0': (r) => `GET /fuzz/old HTTP/1.0\r\n${r.chance(0.5) ? 'Connection: keep-alive\r\n' : ''}\r\n`,
  options: () => 'OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n',
  'smuggle-cl-te': (r) => `POST /fuzz/smuggle HTTP/1.1\r\nHost: h\r\nContent-Length: ${r.int(10)}\r\nTransfer-Encoding: ${r.pick(['chunked', ' chunked', 'chunked, identity', 'xchunked', 'CHUNKED'])}\r\n\r\n0\r\n\r\nGET /fuzz/smuggled HTTP/1.1\r\nHost: h\r\n\r\n`,
}

export class HttpFuzzer {
  private readonly random: Random
  private index = 0

  constructor(readonly seed: number) {
    this.random = new Random(seed)
  }

  next(): FuzzCase {
    const r = this.random
    const steps: string[] = []
    let text: string
    if (r.chance(0.04)) {
      text = r.text(1 + r.int(400))
      steps.push('random-bytes')
    } else {
      const base = r.pick(Object.keys(BASES))
      text = BASES[base]!(r)
      steps.push(base)
      const count = r.chance(0.2) ? 0 : 1 + r.int(4)
      for (let i = 0; i < count; i++) {
        const name = r.pick(Object.keys(MUTATIONS))
        text = MUTATIONS[name]!(r, text)
        steps.push(name)
      }
    }
    const bytes = Buffer.from(text, 'latin1')
    const parts: Buffer[] = []
    const cuts = bytes.length < 2 ? 0 : r.int(3)
    let at = 0
    for (let i = 0; i < cuts; i++) {
      const next = at + 1 + r.int(Math.max(1, bytes.length - at - 1))
      if (next >= bytes.length) break
      parts.push(bytes.subarray(at, next))
      at = next
    }
    parts.push(bytes.subarray(at))
    return { index: this.index++, recipe: steps.join(' > '), parts }
  }
}

/** A case as one line to paste into a reproduction: its recipe and its bytes as a JSON string. */
export function describeCase(c: FuzzCase): string {
  const text = Buffer.concat(c.parts).toString('latin1')
  return `#${c.index} [${c.recipe}] ${JSON.stringify(text.length > 600 ? `${text.slice(0, 600)}...(${text.length} bytes)` : text)}`
}
