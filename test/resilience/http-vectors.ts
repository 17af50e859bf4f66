import net from 'node:net'
import { hostPortOf } from '../helpers/raw-http.js'

/**
 * Named hostile requests, written byte for byte, and what the balancer must do with each. Every vector carries a
 * marker (`{m}`, replaced by `m-NAME-m`) in every request target it contains, so that the test server's log tells
 * exactly which of its requests got through. Requests a vector tries to smuggle go to `/smuggled/{m}`.
 *
 * - `refused`: the balancer answers with this 4xx status and a body naming the error, closes the connection, and
 *   the server gets nothing with the marker.
 * - `forwarded`: the request is acceptable (odd, but well-formed): the server gets exactly these requests with the
 *   marker, in this order, with this body when one is given, and the client gets one answer for each.
 */
export type VectorGroup = 'smuggling' | 'request line' | 'header injection' | 'oversized' | 'pipelining'

export interface ForwardedRequest {
  readonly method: string
  /** The target the server gets, with `{m}`. */
  readonly url: string
  readonly body?: string
  /** Header values the server must see (lower-case names); `undefined` means the header must be absent. */
  readonly headers?: Readonly<Record<string, string | undefined>>
}

/** A vector before it is put in its group. */
type Entry = Omit<HttpVector, 'group'>

export type VectorExpectation = { readonly refused: number } | { readonly forwarded: readonly ForwardedRequest[] }

export interface HttpVector {
  readonly name: string
  readonly group: VectorGroup
  /** The bytes, with `{m}` for the marker (or made from the marker). Several parts are written 50 ms apart. */
  readonly bytes: string | readonly string[] | ((marker: string) => string)
  readonly expect: VectorExpectation
}

const SMUGGLED = 'GET /smuggled/{m} HTTP/1.1\r\nHost: h\r\n\r\n'
const CHUNKED_ABC = '3\r\nabc\r\n0\r\n\r\n'

function post(headers: string, body: string, target = '/v/{m}'): string {
  return `POST ${target} HTTP/1.1\r\nHost: h\r\n${headers}\r\n${body}`
}

function get(headers = '', target = '/v/{m}'): string {
  return `GET ${target} HTTP/1.1\r\nHost: h\r\n${headers}\r\n`
}

const refused = (status = 400): VectorExpectation => ({ refused: status })
const once = (method: string, body?: string, headers?: ForwardedRequest['headers'], url = '/v/{m}'): VectorExpectation => ({
  forwarded: [{ method, url, ...(body === undefined ? {} : { body }), ...(headers === undefined ? {} : { headers }) }],
})

/** Request smuggling: framing that two HTTP parsers could read differently. */
const smuggling: Entry[] = [
  { name: 'cl-te', bytes: post('Content-Length: 4\r\nTransfer-Encoding: chunked\r\n', `0\r\n\r\n${SMUGGLED}`), expect: refused() },
  { name: 'te-cl', bytes: post('Transfer-Encoding: chunked\r\nContent-Length: 40\r\n', `0\r\n\r\n${SMUGGLED}`), expect: refused() },
  { name: 'te-chunked-cl-0', bytes: post('Content-Length: 0\r\nTransfer-Encoding: chunked\r\n', `${CHUNKED_ABC}${SMUGGLED}`), expect: refused() },
  { name: 'cl-duplicate-same', bytes: post('Content-Length: 3\r\nContent-Length: 3\r\n', 'abc'), expect: refused() },
  { name: 'cl-duplicate-conflicting', bytes: post('Content-Length: 3\r\nContent-Length: 41\r\n', `abc${SMUGGLED}`), expect: refused() },
  { name: 'cl-list', bytes: post('Content-Length: 3, 41\r\n', `abc${SMUGGLED}`), expect: refused() },
  { name: 'cl-plus-sign', bytes: post('Content-Length: +3\r\n', 'abc'), expect: refused() },
  { name: 'cl-negative', bytes: post('Content-Length: -1\r\n', `abc${SMUGGLED}`), expect: refused() },
  { name: 'cl-hex', bytes: post('Content-Length: 0x3\r\n', 'abc'), expect: refused() },
  { name: 'cl-overflow', bytes: post('Content-Length: 18446744073709551620\r\n', `abc${SMUGGLED}`), expect: refused() },
  { name: 'cl-space-inside', bytes: post('Content-Length: 3 3\r\n', 'abc'), expect: refused() },
  { name: 'cl-space-before-colon', bytes: post('Content-Length : 3\r\n', `abc${SMUGGLED}`), expect: refused() },
  { name: 'te-space-before-colon', bytes: post('Transfer-Encoding : chunked\r\nContent-Length: 3\r\n', `abc${SMUGGLED}`), expect: refused() },
  { name: 'obs-fold', bytes: get('X-Pad: 1\r\n  folded\r\n'), expect: refused() },
  { name: 'obs-fold-te', bytes: post('Transfer-Encoding: identity\r\n chunked\r\n', `${CHUNKED_ABC}${SMUGGLED}`), expect: refused() },
  { name: 'bare-lf-everywhere', bytes: 'GET /v/{m} HTTP/1.1\nHost: h\n\n', expect: refused() },
  { name: 'bare-lf-before-te', bytes: post('X-Pad: 1\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n', `abc${SMUGGLED}`), expect: refused() },
  { name: 'bare-cr-line-end', bytes: 'GET /v/{m} HTTP/1.1\rHost: h\r\n\r\n', expect: refused() },
  { name: 'te-chunked-identity', bytes: post('Transfer-Encoding: chunked, identity\r\n', `0\r\n\r\n${SMUGGLED}`), expect: refused() },
  // Accepted by Node's parser as chunked, but the balancer cannot apply (nor pass on) the other coding.
  { name: 'te-identity-chunked', bytes: post('Transfer-Encoding: identity, chunked\r\n', CHUNKED_ABC), expect: refused() },
  { name: 'te-gzip-chunked', bytes: post('Transfer-Encoding: gzip, chunked\r\n', CHUNKED_ABC), expect: refused() },
  { name: 'te-xchunked', bytes: post('Transfer-Encoding: xchunked\r\n', `0\r\n\r\n${SMUGGLED}`), expect: refused() },
  { name: 'te-quoted', bytes: post('Transfer-Encoding: "chunked"\r\n', CHUNKED_ABC), expect: refused() },
  { name: 'te-trailing-comma', bytes: post('Transfer-Encoding: chunked,\r\n', CHUNKED_ABC), expect: refused() },
  { name: 'te-parameter', bytes: post('Transfer-Encoding: chunked;q=1\r\n', CHUNKED_ABC), expect: refused() },
  // An empty Transfer-Encoding was read as "no body": the chunked body then became the next request.
  { name: 'te-empty', bytes: post('Transfer-Encoding:\r\n', `${SMUGGLED}`), expect: refused() },
  { name: 'te-two-lines', bytes: post('Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n', `0\r\n\r\n${SMUGGLED}`), expect: refused() },
  { name: 'te-vertical-tab', bytes: post('Transfer-Encoding: \x0bchunked\r\n', CHUNKED_ABC), expect: refused() },
  // RFC 9112 section 6.1: Transfer-Encoding in an HTTP/1.0 message means faulty framing.
  { name: 'te-http-1.0', bytes: `POST /v/{m} HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n${CHUNKED_ABC}${SMUGGLED}`, expect: refused() },
  { name: 'te-mixed-case', bytes: post('Transfer-Encoding: ChUnKeD\r\n', CHUNKED_ABC), expect: once('POST', 'abc', { 'transfer-encoding': undefined }) },
  { name: 'te-tab-before-value', bytes: post('Transfer-Encoding:\tchunked\r\n', CHUNKED_ABC), expect: once('POST', 'abc') },
  { name: 'chunk-size-not-hex', bytes: post('Transfer-Encoding: chunked\r\n', `g\r\nabc\r\n0\r\n\r\n${SMUGGLED}`), expect: refused() },
  { name: 'chunk-size-negative', bytes: post('Transfer-Encoding: chunked\r\n', `-3\r\nabc\r\n0\r\n\r\n${SMUGGLED}`), expect: refused() },
  { name: 'chunk-size-0x', bytes: post('Transfer-Encoding: chunked\r\n', `0x3\r\nabc\r\n0\r\n\r\n${SMUGGLED}`), expect: refused() },
  { name: 'chunk-size-overflow', bytes: post('Transfer-Encoding: chunked\r\n', `10000000000000003\r\nabc\r\n0\r\n\r\n${SMUGGLED}`), expect: refused() },
  { name: 'chunk-size-trailing-space', bytes: post('Transfer-Encoding: chunked\r\n', `3 \r\nabc\r\n0\r\n\r\n${SMUGGLED}`), expect: refused() },
  { name: 'chunk-size-bare-lf', bytes: post('Transfer-Encoding: chunked\r\n', `3\nabc\n0\n\n${SMUGGLED}`), expect: refused() },
  { name: 'chunk-extension-bare-lf', bytes: post('Transfer-Encoding: chunked\r\n', `3;x\ny\r\nabc\r\n0\r\n\r\n${SMUGGLED}`), expect: refused() },
  { name: 'chunk-data-longer-than-size', bytes: post('Transfer-Encoding: chunked\r\n', `3\r\nabcdef\r\n0\r\n\r\n${SMUGGLED}`), expect: refused() },
  { name: 'chunk-request-instead-of-size', bytes: post('Transfer-Encoding: chunked\r\n', `3\r\nabc\r\n${SMUGGLED}`), expect: refused() },
  { name: 'trailer-content-length', bytes: post('Transfer-Encoding: chunked\r\n', `3\r\nabc\r\n0\r\nContent-Length: 41\r\n\r\n${SMUGGLED}`), expect: refused() },
  { name: 'nul-in-header-value', bytes: get('X-Pad: a\x00b\r\n'), expect: refused() },
  {
    name: 'request-in-body',
    bytes: (m) => post(`Content-Length: ${SMUGGLED.replaceAll('{m}', m).length}\r\n`, SMUGGLED),
    expect: once('POST', SMUGGLED),
  },
  // More header lines than Node keeps: the framing header after them was used by the parser but hidden from the
  // proxy, which then forwarded the request without its body.
  { name: 'content-length-after-1000-headers', bytes: post(`${'X:1\r\n'.repeat(1000)}Content-Length: 5\r\n`, 'hello'), expect: once('POST', 'hello') },
  { name: 'te-after-1000-headers', bytes: post(`${'X:1\r\n'.repeat(1000)}Transfer-Encoding: chunked\r\n`, CHUNKED_ABC), expect: once('POST', 'abc') },
  // Upgrade smuggling: the server refuses the upgrade (here it does not know it at all and answers 200), so the
  // connection stays HTTP: what follows must not reach it as a raw tunnel, around the balancer.
  {
    name: 'upgrade-websocket-refused',
    bytes: `${get('Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n')}GET /smuggled/{m} HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n`,
    expect: once('GET', undefined, { upgrade: 'websocket' }),
  },
  {
    name: 'upgrade-h2c-refused',
    bytes: `${get('Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n')}${SMUGGLED}`,
    expect: once('GET', undefined, { upgrade: 'h2c', 'http2-settings': undefined }),
  },
  {
    name: 'upgrade-with-body-refused',
    bytes: post('Connection: Upgrade\r\nUpgrade: h2c\r\nContent-Length: 3\r\n', `abc${SMUGGLED}`),
    expect: once('POST', 'abc', { upgrade: 'h2c' }),
  },
]

/** Request lines and Host headers that must not get through. */
const requestLine: Entry[] = [
  { name: 'method-unknown', bytes: 'FOO /v/{m} HTTP/1.1\r\nHost: h\r\n\r\n', expect: refused() },
  { name: 'method-lower-case', bytes: 'get /v/{m} HTTP/1.1\r\nHost: h\r\n\r\n', expect: refused() },
  { name: 'method-missing', bytes: ' /v/{m} HTTP/1.1\r\nHost: h\r\n\r\n', expect: refused() },
  { name: 'method-long', bytes: `${'A'.repeat(200)} /v/{m} HTTP/1.1\r\nHost: h\r\n\r\n`, expect: refused() },
  { name: 'method-with-nul', bytes: 'GE\x00T /v/{m} HTTP/1.1\r\nHost: h\r\n\r\n', expect: refused() },
  { name: 'version-1.2', bytes: 'GET /v/{m} HTTP/1.2\r\nHost: h\r\n\r\n', expect: refused() },
  // Node's HTTP/1 parser takes this line; it was then handled as an HTTP/2 stream and failed with a 500.
  { name: 'version-2.0-on-http1', bytes: 'GET /v/{m} HTTP/2.0\r\nHost: h\r\n\r\n', expect: refused() },
  { name: 'version-3.0', bytes: 'GET /v/{m} HTTP/3.0\r\nHost: h\r\n\r\n', expect: refused() },
  { name: 'version-lower-case', bytes: 'GET /v/{m} http/1.1\r\nHost: h\r\n\r\n', expect: refused() },
  { name: 'version-no-minor', bytes: 'GET /v/{m} HTTP/1\r\nHost: h\r\n\r\n', expect: refused() },
  // HTTP/0.9 has no headers (so no Host) and no status line in its answer.
  { name: 'http-0.9', bytes: 'GET /v/{m}\r\n\r\n', expect: refused() },
  { name: 'http2-preface', bytes: 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00', expect: refused() },
  { name: 'target-with-space', bytes: 'GET /v/{m} x HTTP/1.1\r\nHost: h\r\n\r\n', expect: refused() },
  { name: 'target-with-tab', bytes: 'GET /v/{m}\tx HTTP/1.1\r\nHost: h\r\n\r\n', expect: refused() },
  { name: 'target-with-nul', bytes: 'GET /v/{m}\x00 HTTP/1.1\r\nHost: h\r\n\r\n', expect: refused() },
  { name: 'target-with-high-byte', bytes: 'GET /v/{m}\xff HTTP/1.1\r\nHost: h\r\n\r\n', expect: refused() },
  { name: 'target-relative', bytes: 'GET v/{m} HTTP/1.1\r\nHost: h\r\n\r\n', expect: refused() },
  { name: 'target-dot-dot', bytes: 'GET ../{m}/etc/passwd HTTP/1.1\r\nHost: h\r\n\r\n', expect: refused() },
  { name: 'target-empty', bytes: 'GET  HTTP/1.1\r\nHost: h\r\nX-M: {m}\r\n\r\n', expect: refused() },
  { name: 'target-asterisk-get', bytes: 'GET * HTTP/1.1\r\nHost: h\r\nX-M: {m}\r\n\r\n', expect: refused() },
  { name: 'absolute-form', bytes: 'GET http://other.example:81/v/{m}?q=1 HTTP/1.1\r\nHost: h\r\n\r\n', expect: once('GET', undefined, { host: 'other.example:81' }, '/v/{m}?q=1') },
  { name: 'absolute-form-upper-case-scheme', bytes: 'GET HTTP://other.example/v/{m} HTTP/1.1\r\nHost: h\r\n\r\n', expect: once('GET', undefined, { host: 'other.example' }) },
  { name: 'absolute-form-ftp', bytes: 'GET ftp://other.example/v/{m} HTTP/1.1\r\nHost: h\r\n\r\n', expect: refused() },
  { name: 'absolute-form-javascript', bytes: 'GET javascript:alert(1)//{m} HTTP/1.1\r\nHost: h\r\n\r\n', expect: refused() },
  // The URL parser made "other.example" the host of "http:///other.example/..." and dropped user info silently.
  { name: 'absolute-form-empty-authority', bytes: 'GET http:///other.example/v/{m} HTTP/1.1\r\nHost: h\r\n\r\n', expect: refused() },
  { name: 'absolute-form-userinfo', bytes: 'GET http://user:secret@other.example/v/{m} HTTP/1.1\r\nHost: h\r\n\r\n', expect: refused() },
  { name: 'absolute-form-backslashes', bytes: 'GET http:\\\\other.example\\v\\{m} HTTP/1.1\r\nHost: h\r\n\r\n', expect: refused() },
  { name: 'absolute-form-encoded-crlf-host', bytes: 'GET http://a%0d%0ab/v/{m} HTTP/1.1\r\nHost: h\r\n\r\n', expect: refused() },
  // A frontend is not a forward proxy: CONNECT got no answer at all (Node closed the connection).
  { name: 'connect', bytes: 'CONNECT other.example:443 HTTP/1.1\r\nHost: other.example:443\r\nX-M: {m}\r\n\r\n', expect: refused() },
  { name: 'connect-origin-form', bytes: 'CONNECT /v/{m} HTTP/1.1\r\nHost: h\r\n\r\n', expect: refused() },
  { name: 'host-missing', bytes: 'GET /v/{m} HTTP/1.1\r\n\r\n', expect: refused() },
  { name: 'host-duplicate', bytes: 'GET /v/{m} HTTP/1.1\r\nHost: h\r\nHost: other.example\r\n\r\n', expect: refused() },
  { name: 'host-duplicate-case', bytes: 'GET /v/{m} HTTP/1.1\r\nHost: h\r\nhOST: h\r\n\r\n', expect: refused() },
  { name: 'host-duplicate-after-upgrade', bytes: get('Host: other.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n'), expect: refused() },
  // RFC 9112 section 3.2: a Host field with an invalid value gets 400.
  { name: 'host-list', bytes: 'GET /v/{m} HTTP/1.1\r\nHost: h, other.example\r\n\r\n', expect: refused() },
  { name: 'host-with-space', bytes: 'GET /v/{m} HTTP/1.1\r\nHost: h other.example\r\n\r\n', expect: refused() },
  { name: 'host-with-userinfo', bytes: 'GET /v/{m} HTTP/1.1\r\nHost: user@other.example\r\n\r\n', expect: refused() },
  { name: 'host-with-path', bytes: 'GET /v/{m} HTTP/1.1\r\nHost: other.example/admin\r\n\r\n', expect: refused() },
  { name: 'host-bad-port', bytes: 'GET /v/{m} HTTP/1.1\r\nHost: other.example:8o\r\n\r\n', expect: refused() },
  { name: 'host-ipv6', bytes: 'GET /v/{m} HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n', expect: once('GET', undefined, { host: '[::1]:8080' }) },
  { name: 'method-propfind', bytes: 'PROPFIND /v/{m} HTTP/1.1\r\nHost: h\r\n\r\n', expect: once('PROPFIND') },
]

/** CR, LF and other control bytes meant to split a header into two, toward the server. */
const headerInjection: Entry[] = [
  { name: 'cr-in-header-value', bytes: get('X-Pad: a\rX-Injected: 1\r\n'), expect: refused() },
  { name: 'lf-in-header-value', bytes: get('X-Pad: a\nX-Injected: 1\r\n'), expect: refused() },
  { name: 'crlf-in-header-name', bytes: get('X-Pad\r\nX-Injected: 1\r\n'), expect: refused() },
  { name: 'nul-in-header-name', bytes: get('X-Pa\x00d: 1\r\n'), expect: refused() },
  { name: 'space-in-header-name', bytes: get('X Pad: 1\r\n'), expect: refused() },
  { name: 'empty-header-name', bytes: get(': 1\r\n'), expect: refused() },
  { name: 'header-without-colon', bytes: get('X-Pad\r\n'), expect: refused() },
  { name: 'header-line-starting-with-space', bytes: 'GET /v/{m} HTTP/1.1\r\n Host: h\r\n\r\n', expect: refused() },
  { name: 'del-in-header-value', bytes: get('X-Pad: a\x7fb\r\n'), expect: refused() },
  { name: 'encoded-crlf-in-target', bytes: get('', '/v/{m}%0d%0aX-Injected:%201'), expect: once('GET', undefined, { 'x-injected': undefined }, '/v/{m}%0d%0aX-Injected:%201') },
  { name: 'encoded-crlf-in-request-id', bytes: get('X-Request-Id: a%0d%0aX-Injected: 1\r\n'), expect: once('GET', undefined, { 'x-injected': undefined }) },
  { name: 'spoofed-forwarding-headers', bytes: get('X-Forwarded-Proto: https\r\nX-Forwarded-Host: admin.internal\r\nX-Request-Id: fixed\r\n'), expect: once('GET', undefined, { 'x-forwarded-proto': 'http', 'x-forwarded-host': 'h' }) },
  { name: 'obs-text-in-header-value', bytes: get('X-Pad: caf\xe9\r\n'), expect: once('GET', undefined, { 'x-pad': 'caf\xe9' }) },
]

/** Requests above the limits of the test configuration (max_header_size 8kb, max_body_size 64kb). */
const oversized: Entry[] = [
  { name: 'header-too-large', bytes: get(`X-Big: ${'a'.repeat(9000)}\r\n`), expect: refused(431) },
  { name: 'many-headers-too-large', bytes: get(`${'X-Many: aaaaaaaaaaaaaaaaaaaa\r\n'.repeat(400)}`), expect: refused(431) },
  { name: 'target-too-long', bytes: get('', `/v/{m}?${'q'.repeat(9000)}`), expect: refused(431) },
  { name: 'body-declared-too-large', bytes: post('Content-Length: 100000\r\n', `abc${SMUGGLED}`), expect: refused(413) },
  { name: 'body-declared-too-large-expect', bytes: post('Content-Length: 100000\r\nExpect: 100-continue\r\n', ''), expect: refused(413) },
  {
    name: 'body-chunked-too-large',
    bytes: [post('Transfer-Encoding: chunked\r\n', ''), `8000\r\n${'a'.repeat(0x8000)}\r\n`, `8000\r\n${'a'.repeat(0x8000)}\r\n`, `10\r\n${'a'.repeat(16)}\r\n0\r\n\r\n${SMUGGLED}`],
    expect: refused(413),
  },
]

/** Several requests on one connection, written at once: answered in order, each forwarded once. */
const pipelining: Entry[] = [
  {
    name: 'pipelined-gets',
    bytes: get('', '/v/{m}/1') + get('', '/v/{m}/2') + get('', '/v/{m}/3'),
    expect: { forwarded: [{ method: 'GET', url: '/v/{m}/1' }, { method: 'GET', url: '/v/{m}/2' }, { method: 'GET', url: '/v/{m}/3' }] },
  },
  {
    name: 'pipelined-post-get',
    bytes: post('Content-Length: 5\r\n', 'hello', '/v/{m}/1') + get('', '/v/{m}/2'),
    expect: { forwarded: [{ method: 'POST', url: '/v/{m}/1', body: 'hello' }, { method: 'GET', url: '/v/{m}/2' }] },
  },
  {
    name: 'pipelined-chunked-get',
    bytes: post('Transfer-Encoding: chunked\r\n', CHUNKED_ABC, '/v/{m}/1') + get('', '/v/{m}/2'),
    expect: { forwarded: [{ method: 'POST', url: '/v/{m}/1', body: 'abc' }, { method: 'GET', url: '/v/{m}/2' }] },
  },
  {
    name: 'pipelined-slow-then-fast',
    bytes: get('', '/slow/{m}/1') + get('', '/v/{m}/2'),
    expect: { forwarded: [{ method: 'GET', url: '/slow/{m}/1' }, { method: 'GET', url: '/v/{m}/2' }] },
  },
  {
    name: 'pipelined-after-connection-close',
    bytes: get('Connection: close\r\n', '/v/{m}/1') + get('', '/smuggled/{m}'),
    expect: { forwarded: [{ method: 'GET', url: '/v/{m}/1' }] },
  },
  {
    name: 'pipelined-split-across-writes',
    bytes: [get('', '/v/{m}/1') + 'GET /v/{m}', '/2 HTTP/1.1\r\nHo', 'st: h\r\n\r\n'],
    expect: { forwarded: [{ method: 'GET', url: '/v/{m}/1' }, { method: 'GET', url: '/v/{m}/2' }] },
  },
]

/**
 * A malformed request behind a good one: the good one is answered first (and the error after it), never the
 * error in its place while the server handles it anyway. Checked separately (two answers, then a close).
 */
export const PIPELINED_THEN_MALFORMED: HttpVector = {
  name: 'pipelined-then-malformed',
  group: 'pipelining',
  bytes: `${get('', '/slow/{m}/1')}GARBAGE /v/{m}/2 HTTP/1.1\r\n\r\n`,
  expect: { forwarded: [{ method: 'GET', url: '/slow/{m}/1' }] },
}

function inGroup(group: VectorGroup, list: readonly Entry[]): HttpVector[] {
  return list.map((v) => ({ ...v, group }))
}

export const VECTORS: readonly HttpVector[] = [
  ...inGroup('smuggling', smuggling),
  ...inGroup('request line', requestLine),
  ...inGroup('header injection', headerInjection),
  ...inGroup('oversized', oversized),
  ...inGroup('pipelining', pipelining),
]

export function markerOf(vector: HttpVector): string {
  return `m-${vector.name}-m`
}

/** The vector's bytes with its marker in place. */
export function bytesOf(vector: HttpVector): string[] {
  const marker = markerOf(vector)
  const bytes = vector.bytes
  const parts = typeof bytes === 'function' ? [bytes(marker)] : typeof bytes === 'string' ? [bytes] : [...bytes]
  return parts.map((p) => p.replaceAll('{m}', marker))
}

// ---- the wire ----

export interface WireResponse {
  readonly status: number
  readonly statusLine: string
  /** Header lines in order, names lower-cased. */
  readonly headers: ReadonlyArray<readonly [string, string]>
  readonly body: string
}

export interface WireRead {
  /** Complete final (non-1xx) responses, in order. */
  readonly responses: WireResponse[]
  /** Why the bytes are not HTTP/1.1 responses, if they are not. */
  readonly malformed?: string
  /** Bytes after the last complete response (an incomplete one). */
  readonly rest: string
}

const STATUS_LINE = /^HTTP\/1\.[01] ([1-5]\d\d) [\t !-~\x80-\xff]*$/
const HEADER_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[\t ]*([\t !-~\x80-\xff]*?)[\t ]*$/

/**
 * Reads a stream of HTTP/1.1 responses (text in latin1), strictly: status line, header lines, then a body framed
 * by Content-Length, chunked coding, or the end of the connection (`closed`). Answers to HEAD are not expected.
 */
export function readResponses(text: string, closed: boolean): WireRead {
  const responses: WireResponse[] = []
  let at = 0
  for (;;) {
    if (at === text.length) return { responses, rest: '' }
    const headEnd = text.indexOf('\r\n\r\n', at)
    if (headEnd < 0) {
      return closed ? { responses, rest: text.slice(at), malformed: 'the connection closed inside a response head' } : { responses, rest: text.slice(at) }
    }
    const lines = text.slice(at, headEnd).split('\r\n')
    const statusLine = lines[0]!
    const status = STATUS_LINE.exec(statusLine)
    if (status === null) return { responses, rest: text.slice(at), malformed: `bad status line ${JSON.stringify(statusLine.slice(0, 80))}` }
    const headers: [string, string][] = []
    for (const line of lines.slice(1)) {
      const h = HEADER_LINE.exec(line)
      if (h === null) return { responses, rest: text.slice(at), malformed: `bad header line ${JSON.stringify(line.slice(0, 80))}` }
      headers.push([h[1]!.toLowerCase(), h[2]!])
    }
    const code = Number(status[1])
    let bodyStart = headEnd + 4
    if (code < 200) {
      at = bodyStart
      continue
    }
    const lengths = headers.filter(([n]) => n === 'content-length').map(([, v]) => v)
    const chunked = headers.some(([n, v]) => n === 'transfer-encoding' && /(^|,)\s*chunked\s*$/i.test(v))
    if (lengths.length > 1 || (lengths.length === 1 && chunked)) return { responses, rest: text.slice(at), malformed: 'ambiguous response framing' }
    let body: string
    if (chunked) {
      let cursor = bodyStart
      body = ''
      for (;;) {
        const lineEnd = text.indexOf('\r\n', cursor)
        if (lineEnd < 0) return incomplete(responses, text, at, closed)
        const sizeText = text.slice(cursor, lineEnd).split(';')[0]!.trim()
        if (!/^[0-9a-fA-F]{1,8}$/.test(sizeText)) return { responses, rest: text.slice(at), malformed: `bad chunk size ${JSON.stringify(sizeText)}` }
        const size = parseInt(sizeText, 16)
        if (size === 0) {
          const end = text.indexOf('\r\n\r\n', lineEnd)
          if (end < 0) return incomplete(responses, text, at, closed)
          bodyStart = end + 4
          break
        }
        if (text.length < lineEnd + 2 + size + 2) return incomplete(responses, text, at, closed)
        if (text.slice(lineEnd + 2 + size, lineEnd + 4 + size) !== '\r\n') return { responses, rest: text.slice(at), malformed: 'chunk not followed by CRLF' }
        body += text.slice(lineEnd + 2, lineEnd + 2 + size)
        cursor = lineEnd + 4 + size
      }
      at = bodyStart
    } else if (lengths.length === 1) {
      if (!/^\d+$/.test(lengths[0]!)) return { responses, rest: text.slice(at), malformed: `bad Content-Length ${lengths[0]}` }
      const n = Number(lengths[0])
      if (text.length < bodyStart + n) return incomplete(responses, text, at, closed)
      body = text.slice(bodyStart, bodyStart + n)
      at = bodyStart + n
    } else if (code === 204 || code === 304) {
      body = ''
      at = bodyStart
    } else {
      // Delimited by the end of the connection.
      if (!closed) return { responses, rest: text.slice(at) }
      body = text.slice(bodyStart)
      at = text.length
    }
    responses.push({ status: code, statusLine, headers, body })
  }
}

function incomplete(responses: WireResponse[], text: string, at: number, closed: boolean): WireRead {
  return closed ? { responses, rest: text.slice(at), malformed: 'the connection closed inside a response body' } : { responses, rest: text.slice(at) }
}

export interface Exchange extends WireRead {
  /** The balancer closed the connection (or reset it) within the time. */
  readonly closed: boolean
  readonly reset: boolean
  readonly raw: string
}

/**
 * Writes `parts` on a fresh connection (`gapMs` apart) and reads what comes back until the balancer closes the
 * connection, or `responses` answers are complete and nothing more came for `settleMs`, or `timeoutMs` passed.
 * The client never half-closes: a FIN would be a client leaving, which is another case.
 */
export function exchange(
  url: string,
  parts: readonly (string | Buffer)[],
  options: { responses?: number; timeoutMs?: number; gapMs?: number; settleMs?: number } = {},
): Promise<Exchange> {
  const { host, port } = hostPortOf(url)
  const want = options.responses ?? Infinity
  const settleMs = options.settleMs ?? 100
  return new Promise((resolve) => {
    const socket = net.connect({ host, port })
    let text = ''
    let reset = false
    let done = false
    let settle: NodeJS.Timeout | undefined
    const finish = (closed: boolean): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      clearTimeout(settle)
      socket.destroy()
      resolve({ ...readResponses(text, closed), closed, reset, raw: text })
    }
    const timer = setTimeout(() => finish(false), options.timeoutMs ?? 5000)
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => {
      text += chunk
      clearTimeout(settle)
      if (readResponses(text, false).responses.length >= want) settle = setTimeout(() => finish(false), settleMs)
    })
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET') reset = true
    })
    socket.on('close', () => finish(true))
    socket.once('connect', () => {
      void (async () => {
        for (let i = 0; i < parts.length; i++) {
          if (i > 0) await new Promise((r) => setTimeout(r, options.gapMs ?? 50))
          if (done || socket.destroyed) return
          socket.write(typeof parts[i] === 'string' ? Buffer.from(parts[i] as string, 'latin1') : (parts[i] as Buffer))
        }
      })()
    })
  })
}
