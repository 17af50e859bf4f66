import assert from 'node:assert/strict'
import http from 'node:http'
import net, { type AddressInfo, type Socket } from 'node:net'
import { describe, it } from 'node:test'
import { startBackend } from './helpers/backend.js'
import { cleanups } from './helpers/cleanup.js'
import { startBalancer } from './helpers/balancer.js'
import { balancerYaml } from './helpers/config-yaml.js'
import { request } from './helpers/load.js'
import { headerValues, rawRequest, refusedPort, type RawReply } from './helpers/raw-http.js'

interface FrontendOptions {
  readonly maxBodySize?: string
  readonly maxHeaderSize?: string
  readonly httpRequestTimeout?: string
}

interface BackendOptions {
  readonly retries?: number
  readonly retryBuffer?: string
  readonly serverTimeout?: string
  readonly queueTimeout?: string
}

/** Frontend web sends everything to app; frontend strict routes only Host only.example.com and has no default. */
function config(serverAddress: string, fe: FrontendOptions = {}, be: BackendOptions = {}): string {
  return balancerYaml({
    frontend: `    default_backend: app
    max_body_size: ${fe.maxBodySize ?? 0}
    max_header_size: ${fe.maxHeaderSize ?? '16kb'}
    timeouts: { http_request: ${fe.httpRequestTimeout ?? '10s'} }
  strict:
    listen: 127.0.0.1:0
    routes:
      - match: { host: only.example.com }
        backend: app`,
    backend: `    retries: ${be.retries ?? 2}
    retry_buffer: ${be.retryBuffer ?? '64kb'}
    timeouts: { connect: 1s, server: ${be.serverTimeout ?? '30s'}, queue: ${be.queueTimeout ?? '10s'} }`,
    servers: { s1: serverAddress },
  })
}

/** An error answer of the balancer: the status, a non-empty body naming the code and the request id. */
function assertErrorAnswer(reply: { status: number; body: string; requestId: string | undefined }, status: number, code: string): void {
  assert.equal(reply.status, status, `expected ${status} ${code}, got ${reply.status}: ${reply.body}`)
  assert.ok(reply.body.trim().length > 0, 'the error body is not empty')
  assert.ok(reply.body.includes(code), `the body names ${code}: ${reply.body}`)
  assert.ok(reply.requestId !== undefined && reply.requestId.length > 0, 'an X-Request-Id header is present')
  assert.ok(reply.body.includes(reply.requestId), `the body names the request id ${reply.requestId}: ${reply.body}`)
}

function fromRaw(reply: RawReply): { status: number; body: string; requestId: string | undefined } {
  return { status: reply.status, body: reply.body, requestId: headerValues(reply, 'x-request-id')[0] }
}

function fromHttp(reply: { status: number; body: string; headers: http.IncomingHttpHeaders }): { status: number; body: string; requestId: string | undefined } {
  const id = reply.headers['x-request-id']
  return { status: reply.status, body: reply.body, requestId: typeof id === 'string' ? id : undefined }
}

/** A POST whose body is written in `chunks` (no Content-Length: chunked); resolves with the answer. */
function chunkedPost(url: string, chunks: Buffer[]): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/upload`, { method: 'POST', agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => (body += c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }))
      res.on('error', reject)
    })
    // The balancer may answer and close before the whole body is written; the answer is what counts.
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE' && err.code !== 'ECONNRESET') reject(err)
    })
    req.setTimeout(5000, () => req.destroy(new Error('no answer')))
    for (const chunk of chunks) req.write(chunk)
    req.end()
  })
}

/** A TCP server that answers every connection with bytes that are not HTTP. */
async function startGarbageServer(): Promise<{ address: string; close: () => Promise<void> }> {
  const sockets = new Set<Socket>()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => undefined)
    socket.once('data', () => socket.write('this is not http at all\r\n\r\n\x00\x01\x02'))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

describe('proxy error answers', () => {
  it('answers 400 SY_ERR_BAD_REQUEST to a malformed request line', async (t) => {
    const defer = cleanups(t)
    const backend = await startBackend('app')
    defer(() => backend.close())
    const lb = await startBalancer(config(backend.address))
    defer(() => lb.stop(0))
    const reply = await rawRequest(lb.url(), 'THIS IS NOT HTTP\r\n\r\n')
    assertErrorAnswer(fromRaw(reply), 400, 'SY_ERR_BAD_REQUEST')
    assert.equal(backend.received.length, 0)
  })

  it('answers 400 SY_ERR_BAD_REQUEST to a request with two Host headers (RFC 9112 section 3.2)', async (t) => {
    const defer = cleanups(t)
    const backend = await startBackend('app')
    defer(() => backend.close())
    const lb = await startBalancer(config(backend.address))
    defer(() => lb.stop(0))
    const reply = await rawRequest(lb.url(), 'GET / HTTP/1.1\r\nHost: a.example.com\r\nHost: b.example.com\r\n\r\n')
    assertErrorAnswer(fromRaw(reply), 400, 'SY_ERR_BAD_REQUEST')
    assert.equal(backend.received.length, 0)
  })

  it('answers 400 SY_ERR_BAD_REQUEST to an asterisk-form request target on a method other than OPTIONS', async (t) => {
    const defer = cleanups(t)
    const backend = await startBackend('app')
    defer(() => backend.close())
    const lb = await startBalancer(config(backend.address))
    defer(() => lb.stop(0))
    const reply = await rawRequest(lb.url(), 'GET * HTTP/1.1\r\nHost: app.test\r\n\r\n')
    assertErrorAnswer(fromRaw(reply), 400, 'SY_ERR_BAD_REQUEST')
  })

  it('answers 404 SY_ERR_NO_ROUTE when no route matches and there is no default backend', async (t) => {
    const defer = cleanups(t)
    const backend = await startBackend('app')
    defer(() => backend.close())
    const lb = await startBalancer(config(backend.address))
    defer(() => lb.stop(0))
    const reply = await request(`${lb.url('strict')}/`, { headers: { host: 'nowhere.test' } })
    assertErrorAnswer(fromHttp(reply), 404, 'SY_ERR_NO_ROUTE')
  })

  it('answers 413 SY_ERR_BODY_TOO_LARGE to a Content-Length above max_body_size', async (t) => {
    const defer = cleanups(t)
    const backend = await startBackend('app')
    defer(() => backend.close())
    const lb = await startBalancer(config(backend.address, { maxBodySize: '1kb' }))
    defer(() => lb.stop(0))
    const reply = await request(`${lb.url()}/upload`, { method: 'POST', body: 'x'.repeat(2048) })
    assertErrorAnswer(fromHttp(reply), 413, 'SY_ERR_BODY_TOO_LARGE')
    assert.equal(backend.received.length, 0)
  })

  it('answers 413 to Expect: 100-continue with a declared body above max_body_size, without inviting the body', async (t) => {
    const defer = cleanups(t)
    const backend = await startBackend('app')
    defer(() => backend.close())
    const lb = await startBalancer(config(backend.address, { maxBodySize: '1kb' }))
    defer(() => lb.stop(0))
    const reply = await rawRequest(lb.url(), 'POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n')
    assert.ok(!reply.raw.includes('100 Continue'), 'no 100 Continue before the refusal')
    assertErrorAnswer(fromRaw(reply), 413, 'SY_ERR_BODY_TOO_LARGE')
    assert.equal(backend.received.length, 0)
  })

  it('answers OPTIONS * itself with 200 and an Allow header', async (t) => {
    const defer = cleanups(t)
    const backend = await startBackend('app')
    defer(() => backend.close())
    const lb = await startBalancer(config(backend.address))
    defer(() => lb.stop(0))
    const reply = await rawRequest(lb.url(), 'OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n')
    assert.equal(reply.status, 200, reply.raw)
    assert.ok(headerValues(reply, 'allow')[0]?.includes('GET'))
    assert.equal(backend.received.length, 0)
  })

  it('answers 413 SY_ERR_BODY_TOO_LARGE to a chunked body that grows above max_body_size', async (t) => {
    const defer = cleanups(t)
    const backend = await startBackend('app')
    defer(() => backend.close())
    const lb = await startBalancer(config(backend.address, { maxBodySize: '1kb' }))
    defer(() => lb.stop(0))
    const reply = await chunkedPost(lb.url(), [Buffer.alloc(600, 'a'), Buffer.alloc(600, 'b'), Buffer.alloc(600, 'c')])
    assertErrorAnswer(fromHttp(reply), 413, 'SY_ERR_BODY_TOO_LARGE')
    assert.equal(backend.received.length, 0)
  })

  it('answers 413 SY_ERR_BODY_TOO_LARGE to a chunked body that outgrows max_body_size after it started streaming', async (t) => {
    // A retry buffer smaller than the limit: the body is already on its way to the server when it passes the limit.
    const defer = cleanups(t)
    const backend = await startBackend('app')
    defer(() => backend.close())
    const lb = await startBalancer(config(backend.address, { maxBodySize: '4kb' }, { retryBuffer: '1kb' }))
    defer(() => lb.stop(0))
    const chunks = Array.from({ length: 8 }, () => Buffer.alloc(1024, 'z'))
    const reply = await chunkedPost(lb.url(), chunks)
    assertErrorAnswer(fromHttp(reply), 413, 'SY_ERR_BODY_TOO_LARGE')
    assert.ok(!backend.received.some((r) => r.body.length > 4096), 'the backend never got a body above the limit')
  })

  it('answers 431 SY_ERR_HEADERS_TOO_LARGE to headers above max_header_size', async (t) => {
    const defer = cleanups(t)
    const backend = await startBackend('app')
    defer(() => backend.close())
    const lb = await startBalancer(config(backend.address, { maxHeaderSize: '1kb' }))
    defer(() => lb.stop(0))
    const reply = await rawRequest(lb.url(), `GET / HTTP/1.1\r\nHost: app.test\r\nX-Big: ${'b'.repeat(4096)}\r\n\r\n`)
    assertErrorAnswer(fromRaw(reply), 431, 'SY_ERR_HEADERS_TOO_LARGE')
    assert.equal(backend.received.length, 0)
  })

  it('answers 502 SY_ERR_UPSTREAM_CONNECT when the only server refuses and no retry is configured', async (t) => {
    const defer = cleanups(t)
    const lb = await startBalancer(config(`127.0.0.1:${await refusedPort()}`, {}, { retries: 0 }))
    defer(() => lb.stop(0))
    const reply = await request(`${lb.url()}/`, { timeoutMs: 5000 })
    assertErrorAnswer(fromHttp(reply), 502, 'SY_ERR_UPSTREAM_CONNECT')
  })

  it('answers 503 SY_ERR_NO_SERVER when the only server refuses, is marked down, and the queue wait runs out', async (t) => {
    const defer = cleanups(t)
    const lb = await startBalancer(config(`127.0.0.1:${await refusedPort()}`, {}, { retries: 2, queueTimeout: '300ms' }))
    defer(() => lb.stop(0))
    const reply = await request(`${lb.url()}/`, { timeoutMs: 5000 })
    assertErrorAnswer(fromHttp(reply), 503, 'SY_ERR_NO_SERVER')
  })

  it('answers 504 SY_ERR_UPSTREAM_TIMEOUT when the server does not answer within timeouts.server', async (t) => {
    const defer = cleanups(t)
    const backend = await startBackend('silent', () => {
    defer(() => backend.kill())
      // never answers
    })
    const lb = await startBalancer(config(backend.address, {}, { serverTimeout: '300ms' }))
    defer(() => lb.stop(0))
    const reply = await request(`${lb.url()}/`, { timeoutMs: 5000 })
    assertErrorAnswer(fromHttp(reply), 504, 'SY_ERR_UPSTREAM_TIMEOUT')
  })

  it('answers 408 SY_ERR_REQUEST_TIMEOUT when the request headers are not complete within timeouts.http_request', async (t) => {
    const defer = cleanups(t)
    const backend = await startBackend('app')
    defer(() => backend.close())
    const lb = await startBalancer(config(backend.address, { httpRequestTimeout: '300ms' }))
    defer(() => lb.stop(0))
    const reply = await rawRequest(lb.url(), 'GET / HTTP/1.1\r\nHost: app.test\r\nX-Slow: ')
    assertErrorAnswer(fromRaw(reply), 408, 'SY_ERR_REQUEST_TIMEOUT')
    assert.equal(backend.received.length, 0)
  })

  it('answers 502 SY_ERR_UPSTREAM_PROTOCOL when the server answers with bytes that are not HTTP', async (t) => {
    const defer = cleanups(t)
    const garbage = await startGarbageServer()
    defer(() => garbage.close())
    const lb = await startBalancer(config(garbage.address))
    defer(() => lb.stop(0))
    const reply = await request(`${lb.url()}/`, { timeoutMs: 5000 })
    assertErrorAnswer(fromHttp(reply), 502, 'SY_ERR_UPSTREAM_PROTOCOL')
  })

  it('answers the errors as JSON when the client accepts application/json', async (t) => {
    const defer = cleanups(t)
    const lb = await startBalancer(config(`127.0.0.1:${await refusedPort()}`, {}, { retries: 0 }))
    defer(() => lb.stop(0))
    const reply = await request(`${lb.url()}/`, { headers: { accept: 'application/json' }, timeoutMs: 5000 })
    assert.equal(reply.status, 502)
    const body = JSON.parse(reply.body) as { error: { code: string; request_id: string } }
    assert.equal(body.error.code, 'SY_ERR_UPSTREAM_CONNECT')
    assert.equal(body.error.request_id, reply.headers['x-request-id'])
  })
})
