import assert from 'node:assert/strict'
import http from 'node:http'
import { after, before, describe, it } from 'node:test'
import { startBackend, type TestBackend } from './helpers/backend.js'
import { startBalancer } from './helpers/balancer.js'
import { balancerYaml } from './helpers/config-yaml.js'
import { request } from './helpers/load.js'
import { headerValues, rawRequest } from './helpers/raw-http.js'

type Balancer = Awaited<ReturnType<typeof startBalancer>>

/** What the echo backend saw of a request: its raw header list (duplicates kept) and its body. */
interface Seen {
  rawHeaders: string[]
  body: string
}

function config(backendAddress: string, frontendExtra = ''): string {
  return balancerYaml({ frontend: `    default_backend: app\n${frontendExtra}`, servers: { s1: backendAddress } })
}

/** Header values the backend received under one (case-insensitive) name. */
function seenValues(seen: Seen, name: string): string[] {
  const out: string[] = []
  for (let i = 0; i < seen.rawHeaders.length; i += 2) {
    if (seen.rawHeaders[i]!.toLowerCase() === name) out.push(seen.rawHeaders[i + 1]!)
  }
  return out
}

/**
 * /hop answers with hop-by-hop headers and a header named in its Connection header; /cookies with two
 * Set-Cookie headers; anything else echoes the request's raw headers and body as JSON.
 */
function handler(req: http.IncomingMessage, res: http.ServerResponse, body: string): void {
  if (req.url === '/hop') {
    res.writeHead(200, [
      'Content-Type', 'text/plain',
      'Connection', 'x-internal',
      'X-Internal', 'secret',
      'Keep-Alive', 'timeout=99, max=7',
      'Proxy-Authenticate', 'Basic realm="upstream"',
      'Proxy-Connection', 'keep-alive',
      'Trailer', 'X-Checksum',
      'X-Public', 'visible',
    ])
    res.end('ok')
    return
  }
  if (req.url === '/cookies') {
    res.writeHead(200, ['Set-Cookie', 'a=1; Path=/', 'Set-Cookie', 'b=2; Path=/', 'Content-Length', '2'])
    res.end('ok')
    return
  }
  const seen: Seen = { rawHeaders: req.rawHeaders, body }
  res.writeHead(200, { 'content-type': 'application/json' })
  res.end(JSON.stringify(seen))
}

async function seenBy(url: string, options: Parameters<typeof request>[1] = {}): Promise<Seen> {
  const reply = await request(url, options)
  assert.equal(reply.status, 200, reply.body)
  return JSON.parse(reply.body) as Seen
}

describe('proxy headers', () => {
  let backend: TestBackend
  let lb: Balancer
  let trusting: Balancer

  before(async () => {
    backend = await startBackend('echo', handler)
    lb = await startBalancer(config(backend.address))
    trusting = await startBalancer(config(backend.address, '    trust_request_id: true'))
  })

  after(async () => {
    await lb?.stop(0)
    await trusting?.stop(0)
    await backend?.close()
  })

  it('drops hop-by-hop request headers and every header named in Connection before the backend', async () => {
    const reply = await rawRequest(
      lb.url(),
      'GET /echo HTTP/1.1\r\n' +
        'Host: app.test\r\n' +
        'Connection: keep-alive, X-Secret, x-other\r\n' +
        'Keep-Alive: timeout=5\r\n' +
        'Proxy-Connection: keep-alive\r\n' +
        'TE: trailers\r\n' +
        'Trailer: X-Checksum\r\n' +
        'Upgrade: h2c\r\n' +
        'Proxy-Authorization: Basic dXNlcjpwYXNz\r\n' +
        'X-Secret: 1\r\n' +
        'X-Other: 2\r\n' +
        'X-Kept: 3\r\n' +
        '\r\n',
    )
    assert.equal(reply.status, 200, reply.raw)
    const seen = JSON.parse(reply.body) as Seen
    for (const name of ['keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'x-secret', 'x-other']) {
      assert.deepEqual(seenValues(seen, name), [], `${name} reached the backend`)
    }
    // The upstream connection has its own Connection header (keep-alive or close), never the client's.
    for (const value of seenValues(seen, 'connection')) assert.match(value, /^(keep-alive|close)$/i)
    assert.deepEqual(seenValues(seen, 'x-kept'), ['3'])
  })

  it('drops the client Transfer-Encoding: the backend gets the body with its own framing', async () => {
    const reply = await rawRequest(
      lb.url(),
      'POST /echo HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n',
    )
    assert.equal(reply.status, 200, reply.raw)
    const seen = JSON.parse(reply.body) as Seen
    assert.equal(seen.body, 'hello world')
    for (const value of seenValues(seen, 'transfer-encoding')) assert.equal(value.toLowerCase(), 'chunked')
    assert.ok(seenValues(seen, 'transfer-encoding').length + seenValues(seen, 'content-length').length === 1, 'exactly one framing header')
  })

  it('drops hop-by-hop response headers and every header named in the backend Connection before the client', async () => {
    const reply = await rawRequest(lb.url(), 'GET /hop HTTP/1.1\r\nHost: app.test\r\n\r\n')
    assert.equal(reply.status, 200, reply.raw)
    assert.equal(reply.body, 'ok')
    assert.deepEqual(headerValues(reply, 'x-internal'), [])
    assert.deepEqual(headerValues(reply, 'proxy-authenticate'), [])
    assert.deepEqual(headerValues(reply, 'proxy-connection'), [])
    assert.deepEqual(headerValues(reply, 'trailer'), [])
    // The balancer's own connection to the client may carry its own Keep-Alive and Connection, not the backend's.
    for (const value of headerValues(reply, 'keep-alive')) assert.doesNotMatch(value, /max=7|timeout=99/)
    for (const value of headerValues(reply, 'connection')) assert.doesNotMatch(value, /x-internal/i)
    assert.deepEqual(headerValues(reply, 'x-public'), ['visible'])
  })

  it('passes two Set-Cookie headers from the backend to the client as two headers', async () => {
    const reply = await rawRequest(lb.url(), 'GET /cookies HTTP/1.1\r\nHost: app.test\r\n\r\n')
    assert.equal(reply.status, 200, reply.raw)
    assert.deepEqual(headerValues(reply, 'set-cookie'), ['a=1; Path=/', 'b=2; Path=/'])
  })

  it('passes two X-Custom request headers to the backend as two headers, in order', async () => {
    const reply = await rawRequest(lb.url(), 'GET /echo HTTP/1.1\r\nHost: app.test\r\nX-Custom: first\r\nX-Custom: second\r\n\r\n')
    assert.equal(reply.status, 200, reply.raw)
    assert.deepEqual(seenValues(JSON.parse(reply.body) as Seen, 'x-custom'), ['first', 'second'])
  })

  it('forwards the fields of a request with nothing to drop as sent, then the forwarding fields', async () => {
    // The path that passes the client's field lines on without rendering them again (whitespace and case kept).
    const reply = await rawRequest(lb.url(), 'GET /echo HTTP/1.1\r\nHost: app.test:81\r\nX-Custom:  spaced value \r\naccept: */*\r\n\r\n')
    assert.equal(reply.status, 200, reply.raw)
    const seen = JSON.parse(reply.body) as Seen
    const names = seen.rawHeaders.filter((_, i) => i % 2 === 0)
    assert.deepEqual(names.slice(0, 7), ['Host', 'X-Custom', 'accept', 'x-forwarded-for', 'x-forwarded-proto', 'x-request-id', 'x-forwarded-host'])
    assert.deepEqual(seenValues(seen, 'x-custom'), ['spaced value'])
    assert.deepEqual(seenValues(seen, 'x-forwarded-host'), ['app.test:81'])
    assert.deepEqual(seenValues(seen, 'x-forwarded-for'), ['127.0.0.1'])
    assert.equal(seenValues(seen, 'x-request-id').length, 1)
  })

  it('appends the client address to a client-sent X-Forwarded-For', async () => {
    const seen = await seenBy(`${lb.url()}/echo`, { headers: { 'x-forwarded-for': '203.0.113.9' } })
    assert.deepEqual(seenValues(seen, 'x-forwarded-for'), ['203.0.113.9, 127.0.0.1'])
  })

  it('appends this hop to a client-sent Forwarded chain (RFC 7239) and adds none otherwise', async () => {
    const seen = await seenBy(`${lb.url()}/echo`, { headers: { forwarded: 'for=203.0.113.9;proto=https' } })
    assert.deepEqual(seenValues(seen, 'forwarded'), ['for=203.0.113.9;proto=https, for=127.0.0.1;proto=http'])
    assert.deepEqual(seenValues(await seenBy(`${lb.url()}/echo`), 'forwarded'), [])
  })

  it('sets X-Forwarded-For to the client address when the client sent none', async () => {
    const seen = await seenBy(`${lb.url()}/echo`)
    assert.deepEqual(seenValues(seen, 'x-forwarded-for'), ['127.0.0.1'])
  })

  it('replaces spoofed X-Forwarded-Proto and X-Forwarded-Host with the real ones', async () => {
    const seen = await seenBy(`${lb.url()}/echo`, {
      headers: { host: 'shop.example.com:8080', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example' },
    })
    assert.deepEqual(seenValues(seen, 'x-forwarded-proto'), ['http'])
    assert.deepEqual(seenValues(seen, 'x-forwarded-host'), ['shop.example.com:8080'])
    assert.deepEqual(seenValues(seen, 'host'), ['shop.example.com:8080'])
  })

  it('gives every forwarded request one non-empty X-Request-Id, different per request', async () => {
    const first = seenValues(await seenBy(`${lb.url()}/echo`), 'x-request-id')
    const second = seenValues(await seenBy(`${lb.url()}/echo`), 'x-request-id')
    assert.equal(first.length, 1)
    assert.equal(second.length, 1)
    assert.ok(first[0]!.length > 0)
    assert.notEqual(first[0], second[0])
  })

  it('replaces a client X-Request-Id when the frontend does not trust it', async () => {
    const seen = await seenBy(`${lb.url()}/echo`, { headers: { 'x-request-id': 'client-chosen-id' } })
    const ids = seenValues(seen, 'x-request-id')
    assert.equal(ids.length, 1)
    assert.notEqual(ids[0], 'client-chosen-id')
  })

  it('keeps a client X-Request-Id when the frontend has trust_request_id: true', async () => {
    const seen = await seenBy(`${trusting.url()}/echo`, { headers: { 'x-request-id': 'client-chosen-id' } })
    assert.deepEqual(seenValues(seen, 'x-request-id'), ['client-chosen-id'])
  })

  it('survives a chunked request body with a Trailer header and trailers, and keeps serving', async () => {
    const reply = await rawRequest(
      lb.url(),
      'POST /echo HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n' +
        '5\r\nhello\r\n0\r\nX-Checksum: abc123\r\n\r\n',
    )
    assert.equal(reply.status, 200, reply.raw)
    const seen = JSON.parse(reply.body) as Seen
    assert.equal(seen.body, 'hello')
    assert.deepEqual(seenValues(seen, 'trailer'), [])
    const next = await request(`${lb.url()}/echo`)
    assert.equal(next.status, 200)
  })

  it('answers Expect: 100-continue and forwards the body sent after it', async () => {
    const body = 'x'.repeat(1000)
    const { hostname: host, port } = new URL(lb.url())
    const result = await new Promise<{ status: number; continued: boolean; text: string }>((resolve, reject) => {
      let continued = false
      const req = http.request(
        { host, port, method: 'POST', path: '/echo', agent: false, headers: { expect: '100-continue', 'content-length': body.length } },
        (res) => {
          let text = ''
          res.setEncoding('utf8')
          res.on('data', (c: string) => (text += c))
          res.on('end', () => resolve({ status: res.statusCode ?? 0, continued, text }))
          res.on('error', reject)
        },
      )
      req.on('continue', () => {
        continued = true
        req.end(body)
      })
      req.on('error', reject)
      req.setTimeout(5000, () => req.destroy(new Error('no answer to the 100-continue request')))
    })
    assert.equal(result.status, 200, result.text)
    assert.ok(result.continued, 'the client got 100 Continue')
    const seen = JSON.parse(result.text) as Seen
    assert.equal(seen.body, body)
    assert.deepEqual(seenValues(seen, 'expect'), [])
  })
})
