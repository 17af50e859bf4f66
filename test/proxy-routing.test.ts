import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { startBackend, type TestBackend } from './helpers/backend.js'
import { startBalancer } from './helpers/balancer.js'
import { request } from './helpers/load.js'
import { rawRequest } from './helpers/raw-http.js'

type Balancer = Awaited<ReturnType<typeof startBalancer>>

const NAMES = ['exact', 'wild', 'api', 'beta', 'fallback'] as const
type Name = (typeof NAMES)[number]

function config(address: Record<Name, string>): string {
  const backends = NAMES.map((name) => `  ${name}:\n    servers:\n      s1: { address: ${address[name]} }`).join('\n')
  return `
admin: { listen: 127.0.0.1:0 }
access_log: false
frontends:
  web:
    listen: 127.0.0.1:0
    routes:
      - match: { host: exact.example.com }
        backend: exact
      - match: { host: "*.example.com" }
        backend: wild
      - match: { path_prefix: /api }
        backend: api
      - match: { header: { X-Env: beta } }
        backend: beta
    default_backend: fallback
  strict:
    listen: 127.0.0.1:0
    routes:
      - match: { host: only.example.com }
        backend: exact
backends:
${backends}
`
}

describe('proxy routing', () => {
  const backends = new Map<Name, TestBackend>()
  let lb: Balancer

  before(async () => {
    for (const name of NAMES) backends.set(name, await startBackend(name))
    const address = Object.fromEntries([...backends].map(([name, b]) => [name, b.address])) as Record<Name, string>
    lb = await startBalancer(config(address))
  })

  after(async () => {
    await lb?.stop(0)
    for (const b of backends.values()) await b.close()
  })

  /** The name of the backend that answered a request with this Host, path and headers. */
  async function routedTo(host: string, path = '/', headers: Record<string, string> = {}): Promise<string> {
    const reply = await request(`${lb.url()}${path}`, { headers: { host, ...headers } })
    assert.equal(reply.status, 200, reply.body)
    return reply.body
  }

  it('routes an exact host to its backend', async () => {
    assert.equal(await routedTo('exact.example.com'), 'exact')
  })

  it('matches the host case-insensitively and ignores its port', async () => {
    assert.equal(await routedTo('EXACT.Example.COM:8080'), 'exact')
  })

  it('ignores the trailing dot of a rooted host name', async () => {
    assert.equal(await routedTo('exact.example.com.'), 'exact')
  })

  it('routes an absolute-form request target by its own authority and path (RFC 9112 section 3.2.2)', async () => {
    const byPath = await rawRequest(lb.url(), 'GET http://other.test/api/x HTTP/1.1\r\nHost: other.test\r\n\r\n')
    assert.equal(byPath.status, 200, byPath.raw)
    assert.equal(byPath.body, 'api')
    // The authority of the target wins over the Host header.
    const byHost = await rawRequest(lb.url(), 'GET http://exact.example.com/ HTTP/1.1\r\nHost: other.test\r\n\r\n')
    assert.equal(byHost.status, 200, byHost.raw)
    assert.equal(byHost.body, 'exact')
  })

  it('forwards an absolute-form request target to the server in origin form', async () => {
    const reply = await rawRequest(lb.url(), 'GET http://other.test/api/origin-form?q=1 HTTP/1.1\r\nHost: other.test\r\n\r\n')
    assert.equal(reply.status, 200, reply.raw)
    const seen = backends.get('api')!.received.find((r) => r.url.endsWith('/api/origin-form?q=1'))
    assert.ok(seen !== undefined, 'the api backend got the request')
    assert.equal(seen.url, '/api/origin-form?q=1')
  })

  it('routes a subdomain to the "*.example.com" wildcard route', async () => {
    assert.equal(await routedTo('shop.example.com'), 'wild')
    assert.equal(await routedTo('a.b.example.com:443'), 'wild')
  })

  it('does not match the bare domain with a "*.example.com" wildcard', async () => {
    assert.equal(await routedTo('example.com'), 'fallback')
  })

  it('routes by path prefix', async () => {
    assert.equal(await routedTo('other.test', '/api/users'), 'api')
    assert.equal(await routedTo('other.test', '/apis'), 'api')
    assert.equal(await routedTo('other.test', '/app/api'), 'fallback')
  })

  it('routes by an exact header value', async () => {
    assert.equal(await routedTo('other.test', '/', { 'x-env': 'beta' }), 'beta')
    assert.equal(await routedTo('other.test', '/', { 'x-env': 'prod' }), 'fallback')
  })

  it('takes the first matching route when several match', async () => {
    // exact.example.com matches the exact route, the wildcard, the path prefix and the header route.
    assert.equal(await routedTo('exact.example.com', '/api/x', { 'x-env': 'beta' }), 'exact')
    assert.equal(await routedTo('shop.example.com', '/api/x', { 'x-env': 'beta' }), 'wild')
    assert.equal(await routedTo('other.test', '/api/x', { 'x-env': 'beta' }), 'api')
  })

  it('falls back to default_backend when no route matches', async () => {
    assert.equal(await routedTo('unknown.test', '/nothing'), 'fallback')
  })

  it('answers 404 SY_ERR_NO_ROUTE with the request id in the body and in X-Request-Id when nothing matches and there is no default', async () => {
    const reply = await request(`${lb.url('strict')}/x`, { headers: { host: 'elsewhere.test' } })
    assert.equal(reply.status, 404)
    assert.ok(reply.body.length > 0, 'the body is not empty')
    assert.match(reply.body, /SY_ERR_NO_ROUTE/)
    const id = reply.headers['x-request-id']
    assert.equal(typeof id, 'string')
    assert.ok((id as string).length > 0)
    assert.ok(reply.body.includes(id as string), `body names request ${String(id)}: ${reply.body}`)
    assert.match(String(reply.headers['content-type']), /^text\/plain/)
    for (const b of backends.values()) assert.ok(!b.received.some((r) => r.url === '/x'), `backend ${b.name} got the request`)
  })

  it('still routes the matching host on a frontend without a default backend', async () => {
    const reply = await request(`${lb.url('strict')}/`, { headers: { host: 'only.example.com' } })
    assert.equal(reply.status, 200)
    assert.equal(reply.body, 'exact')
  })

  it('answers the 404 as JSON when the client accepts application/json', async () => {
    const reply = await request(`${lb.url('strict')}/x`, { headers: { host: 'elsewhere.test', accept: 'application/json' } })
    assert.equal(reply.status, 404)
    assert.match(String(reply.headers['content-type']), /^application\/json/)
    const body = JSON.parse(reply.body) as { error: { code: string; message: string; request_id: string } }
    assert.equal(body.error.code, 'SY_ERR_NO_ROUTE')
    assert.ok(body.error.message.length > 0)
    assert.equal(body.error.request_id, reply.headers['x-request-id'])
  })
})
