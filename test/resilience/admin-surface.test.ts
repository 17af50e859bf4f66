/**
 * Resilience, part 4 (issue 7): the admin surface of a real `switchyard run` child. Every write endpoint, taken
 * from the route tables of src/admin, is attacked without the token, with a wrong one, with the token in the wrong
 * place, and cross-site; the state (servers, services, deployments) must be the same afterwards. Then oversized,
 * malformed, deeply nested and mistyped bodies, path traversal in every parameter that names something, and a
 * check that no error answer leaks a stack trace, a file path or the token.
 *
 * Decisions written down here:
 * - The auth scheme is case-insensitive (RFC 7235 section 2.1): `bearer TOKEN` is accepted. `BearerTOKEN`, a
 *   bare token, `Basic`, the query string, cookies and other headers are not.
 * - A write whose Origin is not the admin listener itself, or that a browser marked cross-site or same-site
 *   (Sec-Fetch-Site), is refused with 403 even with a valid token (defence in depth: a form cannot set the
 *   Authorization header anyway). A foreign Referer without Origin is not checked by itself: a browser sends
 *   Origin with every cross-origin POST, and without a valid Authorization header the write is refused anyway.
 */
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { BalancerControl, StateView } from '../../src/admin/balancer-control.js'
import { deploymentRoutes } from '../../src/admin/deployment-routes.js'
import { serverRoutes } from '../../src/admin/server-routes.js'
import { statsRoutes } from '../../src/admin/stats-routes.js'
import type { RateLookup } from '../../src/stats/request-rates.js'
import { startBackend, type TestBackend } from '../helpers/backend.js'
import { ROOT, startBalancerProcess, tempDir, type BalancerProcess } from '../helpers/balancer.js'
import { balancerYaml, STATIC_SERVICE } from '../helpers/config-yaml.js'
import { sampleResident } from '../helpers/process-memory.js'
import { hostPortOf, rawRequest } from '../helpers/raw-http.js'
import { recordCase } from './summary.js'

const TOKEN = 'sUrFaCe-7f3c9a-token'
const MB = 1024 * 1024

interface Reply {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly body: string
}

/** Every reply of this file, for the leak check at the end. */
const replies: { what: string; reply: Reply }[] = []

/** A request with the path exactly as given (no URL normalisation of `..` or `%2e`). */
function call(admin: string, method: string, path: string, options: { headers?: http.OutgoingHttpHeaders; body?: string | Buffer } = {}): Promise<Reply> {
  const { host, port } = hostPortOf(`http://${admin}`)
  return new Promise((resolve, reject) => {
    // With an explicit length: node's client would send a DELETE body unframed.
    const headers = options.body === undefined ? options.headers : { ...options.headers, 'content-length': Buffer.byteLength(options.body) }
    const req = http.request({ host, port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const reply = { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }
        replies.push({ what: `${method} ${path}`, reply })
        resolve(reply)
      })
    })
    req.on('error', reject)
    req.end(options.body)
  })
}

const bearer = { authorization: `Bearer ${TOKEN}` }
const json = { 'content-type': 'application/json' }

interface WriteEndpoint {
  readonly method: string
  readonly pattern: string
  readonly path: string
  readonly body: string
}

/**
 * The write endpoints, from the route tables themselves (a new write route is attacked without a change here).
 * Parameters name real things: backend app, server a, service app, and a paused deployment.
 */
function writeEndpoints(deploymentId: string): WriteEndpoint[] {
  const control = {} as BalancerControl
  const routes = [...serverRoutes(control), ...deploymentRoutes(control), ...statsRoutes(control, {} as RateLookup)]
  const values: Record<string, string> = { backend: 'app', server: 'a', service: 'app', id: deploymentId }
  // Bodies that would change something if the write got through.
  const bodies: Record<string, string> = {
    'POST /api/v1/backends/:backend/servers/:server': '{"weight": 0, "admin": "maint"}',
    'POST /api/v1/backends/:backend/servers': '{"name": "evil", "address": "127.0.0.1:9"}',
    'POST /api/v1/deployments': '{"service": "app", "version": "evil"}',
  }
  const out: WriteEndpoint[] = []
  for (const route of routes) {
    for (const method of Object.keys(route.methods)) {
      if (method === 'GET' || method === 'HEAD') continue
      const path = route.path.replace(/:(\w+)/g, (_, name: string) => values[name] ?? 'x')
      out.push({ method, pattern: route.path, path: method === 'DELETE' ? `${path}?timeout=1s` : path, body: bodies[`${method} ${route.path}`] ?? '{}' })
    }
  }
  return out
}

/** Ways of presenting credentials that must all be refused with 401 (or 403 when a browser gives itself away). */
function attempts(admin: string): { what: string; headers: http.OutgoingHttpHeaders; query?: string; status: number }[] {
  const basic = (text: string) => `Basic ${Buffer.from(text).toString('base64')}`
  const foreign = 'https://evil.example'
  return [
    { what: 'no token', headers: json, status: 401 },
    { what: 'wrong token', headers: { ...json, authorization: 'Bearer wrong-token' }, status: 401 },
    { what: 'token with a suffix', headers: { ...json, authorization: `Bearer ${TOKEN}x` }, status: 401 },
    { what: 'token prefix only', headers: { ...json, authorization: `Bearer ${TOKEN.slice(0, -1)}` }, status: 401 },
    { what: 'token twice', headers: { ...json, authorization: `Bearer ${TOKEN} ${TOKEN}` }, status: 401 },
    { what: 'empty Bearer', headers: { ...json, authorization: 'Bearer ' }, status: 401 },
    { what: 'Bearer without space', headers: { ...json, authorization: `Bearer${TOKEN}` }, status: 401 },
    { what: 'bare token', headers: { ...json, authorization: TOKEN }, status: 401 },
    { what: 'token scheme', headers: { ...json, authorization: `Token ${TOKEN}` }, status: 401 },
    { what: 'Basic admin:token', headers: { ...json, authorization: basic(`admin:${TOKEN}`) }, status: 401 },
    { what: 'Basic token:', headers: { ...json, authorization: basic(`${TOKEN}:`) }, status: 401 },
    { what: 'query ?token=', headers: json, query: `token=${TOKEN}`, status: 401 },
    { what: 'query ?access_token=', headers: json, query: `access_token=${TOKEN}`, status: 401 },
    { what: 'cookie', headers: { ...json, cookie: `token=${TOKEN}; switchyard_token=${TOKEN}; authorization=Bearer%20${TOKEN}` }, status: 401 },
    { what: 'X-Auth-Token header', headers: { ...json, 'x-auth-token': TOKEN, 'x-switchyard-token': TOKEN }, status: 401 },
    { what: 'Proxy-Authorization', headers: { ...json, 'proxy-authorization': `Bearer ${TOKEN}` }, status: 401 },
    // Cross-site: HTML forms (simple requests, no token possible) and scripts with a stolen token.
    {
      what: 'cross-site form (urlencoded)',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: foreign, referer: `${foreign}/x` },
      status: 403,
    },
    { what: 'cross-site text/plain', headers: { 'content-type': 'text/plain', origin: foreign }, status: 403 },
    { what: 'cross-site with the token', headers: { ...json, ...bearer, origin: foreign }, status: 403 },
    { what: 'Origin null with the token', headers: { ...json, ...bearer, origin: 'null' }, status: 403 },
    { what: 'look-alike Origin with the token', headers: { ...json, ...bearer, origin: `http://${admin}.evil.example` }, status: 403 },
    { what: 'Sec-Fetch-Site cross-site with the token', headers: { ...json, ...bearer, 'sec-fetch-site': 'cross-site' }, status: 403 },
    { what: 'Sec-Fetch-Site same-site with the token', headers: { ...json, ...bearer, 'sec-fetch-site': 'same-site' }, status: 403 },
    { what: 'foreign Referer, no Origin, no token', headers: { 'content-type': 'text/plain', referer: `${foreign}/page` }, status: 401 },
    { what: 'Sec-Fetch-Site cross-site, no token', headers: { 'content-type': 'text/plain', 'sec-fetch-site': 'cross-site' }, status: 403 },
  ]
}

/** Servers (admin state, weight, address), services and deployments: what a write could change. */
async function snapshot(admin: string): Promise<unknown> {
  const state = JSON.parse((await call(admin, 'GET', '/api/v1/state')).body) as StateView
  const deployments = JSON.parse((await call(admin, 'GET', '/api/v1/deployments')).body) as { deployments: { id: string; status: string; to: string }[] }
  return {
    servers: state.backends.map((b) => b.servers.map((s) => [b.name, s.name, s.admin, s.weight, s.address])),
    services: state.services.map((s) => [s.name, s.version, s.previous, s.deployment?.id, s.deployment?.status]),
    deployments: deployments.deployments.map((d) => [d.id, d.status, d.to]),
  }
}

describe('admin surface', () => {
  let lb: BalancerProcess
  let dir: string
  let deploymentId: string
  const backends: TestBackend[] = []

  before(async () => {
    for (const name of ['a', 'b']) backends.push(await startBackend(name, (req, res) => res.end(req.url === '/healthz' ? 'ok' : name)))
    dir = tempDir()
    const yaml = balancerYaml({
      admin: `token: ${TOKEN}`,
      top: 'state_dir: state',
      backend: '    health: { type: http, path: /healthz, interval: 200ms, fast_interval: 100ms, rise: 1, fall: 2 }',
      servers: backends,
      after: STATIC_SERVICE.replace('VERSION', 'v1'),
    })
    lb = await startBalancerProcess(yaml, {}, { dir })
    // A paused deployment: pause, resume, promote and abort all have a live target.
    const created = await call(lb.admin, 'POST', '/api/v1/deployments', { headers: { ...bearer, ...json }, body: '{"service": "app", "version": "v2"}' })
    assert.equal(created.status, 202, created.body)
    deploymentId = (JSON.parse(created.body) as { id: string }).id
    const paused = await call(lb.admin, 'POST', `/api/v1/deployments/${deploymentId}/pause`, { headers: bearer })
    assert.equal(paused.status, 200, paused.body)
    // An unauthorized reload would pick this file up (a server z appears): it is on disk before the attacks.
    writeFileSync(lb.configFile, yaml.replace('services:', '      z: { address: 127.0.0.1:9 }\nservices:'))
    // A file that looks like a deployment record, outside the deployments folder: a traversal would serve it.
    const decoy = { version: 1, saved_at: '2020-01-01T00:00:00Z', data: { id: 'DECOY', service: 'app', to: 'DECOY-VERSION', strategy: 'rolling', status: 'succeeded', started_at: 1, steps: [], timeline: [] } }
    writeFileSync(join(dir, 'state', 'decoy.json'), JSON.stringify(decoy))
    writeFileSync(join(dir, 'decoy.json'), JSON.stringify(decoy))
    mkdirSync(join(dir, 'state', 'deployments'), { recursive: true })
  })

  after(async () => {
    await lb?.stop('SIGKILL')
    for (const b of backends) await b.close()
  })

  it('refuses every write endpoint without a valid token in the Authorization header, or cross-site; nothing changes', async () => {
    const endpoints = writeEndpoints(deploymentId)
    // The route tables hold at least the documented writes (docs/admin-api.md).
    for (const expected of ['POST /api/v1/backends/:backend/servers/:server', 'DELETE /api/v1/backends/:backend/servers/:server', 'POST /api/v1/backends/:backend/servers', 'POST /api/v1/reload', 'POST /api/v1/deployments', 'POST /api/v1/deployments/:id/pause', 'POST /api/v1/deployments/:id/resume', 'POST /api/v1/deployments/:id/promote', 'POST /api/v1/deployments/:id/abort', 'POST /api/v1/services/:service/rollback']) {
      assert.ok(endpoints.some((e) => `${e.method} ${e.pattern}` === expected), `${expected} is in the route tables`)
    }
    const before = await snapshot(lb.admin)
    let tried = 0
    const accepted: string[] = []
    for (const endpoint of endpoints) {
      for (const attempt of attempts(lb.admin)) {
        const path = attempt.query === undefined ? endpoint.path : `${endpoint.path}${endpoint.path.includes('?') ? '&' : '?'}${attempt.query}`
        const reply = await call(lb.admin, endpoint.method, path, { headers: attempt.headers, body: endpoint.body })
        tried++
        const code = attempt.status === 401 ? 'SY_ERR_UNAUTHORIZED' : 'SY_ERR_CROSS_SITE'
        if (reply.status !== attempt.status || !reply.body.includes(code)) accepted.push(`${endpoint.method} ${path} (${attempt.what}): ${reply.status} ${reply.body.slice(0, 120)}`)
      }
    }
    const after = await snapshot(lb.admin)
    const changed = JSON.stringify(after) !== JSON.stringify(before)
    recordCase({
      case: 'unauthorized admin writes',
      load: `${tried} attempts, ${endpoints.length} endpoints x ${attempts(lb.admin).length} ways`,
      failed: accepted.length + (changed ? 1 : 0),
      crashes: lb.proc.exitCode === null ? 0 : 1,
      note: changed ? 'STATE CHANGED' : 'state, services and deployments unchanged',
    })
    assert.deepEqual(accepted, [])
    assert.deepEqual(after, before, 'nothing changed')
    assert.ok(JSON.stringify(before).includes('paused'), 'the paused deployment was there to steer')
    assert.ok(!JSON.stringify(before).includes('"z"'), 'the edited file was not loaded')
  })

  it('accepts the same writes with the token (the attacks above reached real endpoints), and the scheme in any case', async () => {
    // Positive control: a write that got 401 above is accepted with the token; the lowercase scheme is fine.
    const weight = await call(lb.admin, 'POST', '/api/v1/backends/app/servers/b', { headers: { ...json, authorization: `bearer ${TOKEN}` }, body: '{"weight": 3}' })
    assert.equal(weight.status, 200, weight.body)
    // Same-origin from the stats page (its own Origin) is fine too.
    const sameOrigin = await call(lb.admin, 'POST', '/api/v1/backends/app/servers/b', { headers: { ...json, ...bearer, origin: `http://${lb.admin}`, 'sec-fetch-site': 'same-origin' }, body: '{"weight": 1}' })
    assert.equal(sameOrigin.status, 200, sameOrigin.body)
    // Every endpoint answers something other than 401/403/404-no-such-endpoint with the token.
    for (const endpoint of writeEndpoints(deploymentId).filter((e) => e.method !== 'DELETE')) {
      const reply = await call(lb.admin, endpoint.method, endpoint.path, { headers: { ...json, ...bearer }, body: endpoint.method === 'POST' && endpoint.pattern.endsWith('/servers') ? '{"name": "bogus", "address": "nope"}' : '{"bogus": 1}' })
      assert.ok(![401, 403].includes(reply.status) && !reply.body.includes('SY_ERR_NOT_FOUND'), `${endpoint.method} ${endpoint.path}: ${reply.status} ${reply.body}`)
    }
  })

  it('the stats page cannot be framed by another site, and takes no form posts', async () => {
    const page = await call(lb.admin, 'GET', '/stats')
    assert.equal(page.status, 200)
    assert.equal(page.headers['x-frame-options'], 'DENY')
    assert.match(String(page.headers['content-security-policy']), /frame-ancestors 'none'/)
    for (const path of ['/stats', '/stats.json', '/stats.csv']) {
      const post = await call(lb.admin, 'POST', path, { headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' }, body: 'admin=maint' })
      assert.equal(post.status, 405, `${path}: ${post.body}`)
    }
  })

  it('refuses oversized bodies quickly (413) without buffering them: the RSS of the balancer stays bounded', async () => {
    const { host, port } = hostPortOf(`http://${lb.admin}`)
    const pid = lb.proc.pid!
    const { default: net } = await import('node:net')
    /** Sends `total` bytes of JSON-ish body (declared, or chunked), returns the reply status/body and timing. */
    const upload = (total: number, declared: boolean): Promise<{ status: number; body: string; ms: number; sent: number }> =>
      new Promise((resolve, reject) => {
        const started = Date.now()
        const socket = net.connect(port, host)
        let text = ''
        let sent = 0
        let answered = false
        const chunk = Buffer.alloc(64 * 1024, 0x31) // "1111...": a JSON number that never ends
        const finish = (): void => {
          if (answered) return
          const end = text.indexOf('\r\n\r\n')
          if (end < 0) return
          const length = Number(/content-length: (\d+)/i.exec(text.slice(0, end))?.[1] ?? -1)
          if (text.length - end - 4 < length) return
          answered = true
          socket.destroy()
          resolve({ status: Number(text.split(' ')[1]), body: text.slice(end + 4), ms: Date.now() - started, sent })
        }
        socket.on('data', (c: Buffer) => {
          text += c.toString('latin1')
          finish()
        })
        socket.on('error', () => undefined)
        socket.on('close', () => (answered ? undefined : reject(new Error(`closed without an answer after ${sent} bytes: ${text}`))))
        socket.on('connect', () => {
          socket.write(
            `POST /api/v1/backends/app/servers/a HTTP/1.1\r\nhost: ${lb.admin}\r\nauthorization: Bearer ${TOKEN}\r\ncontent-type: application/json\r\n` +
              (declared ? `content-length: ${total}\r\n\r\n` : 'transfer-encoding: chunked\r\n\r\n'),
          )
          const pump = (): void => {
            while (!answered && sent < total && !socket.destroyed) {
              const frame = declared ? chunk : Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')])
              sent += chunk.length
              if (!socket.write(frame)) return void socket.once('drain', pump)
            }
            if (!declared && sent >= total && !socket.destroyed) socket.write('0\r\n\r\n')
          }
          pump()
        })
      })
    const baseline = sampleResident(pid, 10)
    await new Promise((r) => setTimeout(r, 300))
    const base = baseline.stop()
    const sampler = sampleResident(pid, 10)
    let declared, chunked
    try {
      declared = await upload(10 * MB, true)
      chunked = await upload(64 * MB, false)
      await new Promise((r) => setTimeout(r, 100))
    } finally {
      sampler.stop()
    }
    const peak = sampler.peak()
    const growth = Math.max(0, peak - base)
    const ok = (r: { status: number; body: string }) => r.status === 413 && r.body.includes('SY_ERR_BODY_TOO_LARGE')
    recordCase({
      case: 'oversized admin bodies',
      load: '10 MB declared + 64 MB chunked',
      failed: (ok(declared) ? 0 : 1) + (ok(chunked) ? 0 : 1),
      crashes: lb.proc.exitCode === null ? 0 : 1,
      note: `413 in ${declared.ms} ms and ${chunked.ms} ms; balancer RSS +${(growth / MB).toFixed(1)} MB`,
    })
    assert.ok(ok(declared), `declared: ${declared.status} ${declared.body}`)
    assert.ok(ok(chunked), `chunked: ${chunked.status} ${chunked.body}`)
    assert.ok(declared.ms < 2000 && chunked.ms < 5000, `${declared.ms} ms, ${chunked.ms} ms`)
    // Buffering the 64 MB body would cost at least that much (more with the copies of a concatenation); reading
    // and dropping it costs what the garbage collector has not yet given back.
    assert.ok(growth < 40 * MB, `RSS grew by ${(growth / MB).toFixed(1)} MB while 74 MB were sent`)
    assert.equal(lb.proc.exitCode, null)
  })

  it('refuses malformed, deeply nested and mistyped bodies with 400, changing nothing', async () => {
    const before = await snapshot(lb.admin)
    const deep = (n: number, inner: string) => '['.repeat(n) + inner + ']'.repeat(n)
    const bodies = [
      '{', '{"weight": }', "{'weight': 1}", '{"weight": 1,}', '{"weight": 1}{"weight": 2}', 'weight=1', '\u0000', '\uFEFF{"weight": 1', 'null', '[]', '"text"', '42', 'true',
      deep(30_000, '1'), `{"weight": ${deep(20_000, '1')}}`, `{"admin": ${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}`,
      '{"weight": "3"}', '{"weight": 3.5}', '{"weight": -1}', '{"weight": 257}', '{"weight": 1e309}', '{"weight": null}', '{"weight": [3]}', '{"weight": {"valueOf": 3}}',
      '{"admin": "DRAIN"}', '{"admin": ["drain"]}', '{"admin": true}', '{"wieght": 3}', '{}', '{"__proto__": {"weight": 0}}', '{"constructor": {"prototype": {"admin": "maint"}}}',
      `{"weight": 1, "pad": "${'x'.repeat(60_000)}"}`,
    ]
    let tried = 0
    const wrong: string[] = []
    const check = async (method: string, path: string, body: string) => {
      const reply = await call(lb.admin, method, path, { headers: { ...json, ...bearer }, body })
      tried++
      if (reply.status !== 400 || !/SY_ERR_(INVALID_BODY|BAD_REQUEST)/.test(reply.body)) wrong.push(`${method} ${path} ${body.slice(0, 40)}: ${reply.status} ${reply.body.slice(0, 100)}`)
    }
    for (const body of bodies) await check('POST', '/api/v1/backends/app/servers/a', body)
    for (const body of ['{"name": 42, "address": "127.0.0.1:9"}', '{"name": "../x", "address": "127.0.0.1:9"}', '{"name": "x", "address": "127.0.0.1:99999"}', '{"name": "x", "address": "file:///etc/passwd"}', '{"name": "x"}', '{"name": "x/y", "address": "127.0.0.1:9"}']) {
      await check('POST', '/api/v1/backends/app/servers', body)
    }
    for (const body of ['{"service": "app"}', '{"service": "app", "version": "../../etc"}', '{"service": "app", "version": "v/2"}', '{"service": ["app"], "version": "v3"}', '{"service": "app", "version": "v3", "extra": 1}']) {
      await check('POST', '/api/v1/deployments', body)
    }
    for (const path of ['/api/v1/reload', `/api/v1/deployments/${deploymentId}/pause`, '/api/v1/services/app/rollback']) await check('POST', path, '{"force": true}')
    const after = await snapshot(lb.admin)
    recordCase({
      case: 'malformed, deep and mistyped admin bodies',
      load: `${tried} requests`,
      failed: wrong.length + (JSON.stringify(after) === JSON.stringify(before) ? 0 : 1),
      crashes: lb.proc.exitCode === null ? 0 : 1,
      note: '400 with the field named',
    })
    assert.deepEqual(wrong, [])
    assert.deepEqual(after, before)
    assert.equal(lb.proc.exitCode, null)
  })

  it('path traversal in deployment, backend, server and service names: refused or 404, never a file outside', async () => {
    const ids = [
      '..%2f..%2fetc%2fpasswd', '..%2fdecoy', '..%2f..%2fdecoy', '%2e%2e%2fdecoy', '%2e%2e%2f%2e%2e%2fdecoy', '%252e%252e%252fdecoy', '..%5cdecoy', '..\\decoy',
      '..%2f..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd', '%2fetc%2fpasswd', '.%2fdecoy', 'decoy%00', 'decoy%00.json', '..', '.', '%2e%2e', '...', 'x'.repeat(5000), '%c0%ae%c0%ae%c0%afdecoy',
      encodeURIComponent(`${dir}/decoy`), encodeURIComponent(`${dir}/state/decoy`),
    ]
    const paths: [string, string][] = []
    for (const id of ids) {
      paths.push(['GET', `/api/v1/deployments/${id}`])
      paths.push(['POST', `/api/v1/deployments/${id}/abort`])
      paths.push(['GET', `/api/v1/backends/${id}/servers/a`])
      paths.push(['GET', `/api/v1/backends/app/servers/${id}`])
      paths.push(['POST', `/api/v1/backends/app/servers/${id}`])
      paths.push(['POST', `/api/v1/services/${id}/rollback`])
      paths.push(['GET', `/api/v1/deployments?service=${id}`])
    }
    // Raw paths that a client library would normalise, sent as bytes.
    const raw = ['/api/v1/deployments/../../../etc/passwd', '/api/v1/deployments/../../decoy', '/api/v1/../../../../etc/passwd', '/stats/../../../../etc/passwd', '/../../decoy.json', '//etc/passwd', '/stats.json/..%2f..%2fdecoy', '/api/v1/deployments/%2e%2e/%2e%2e/decoy']
    let tried = 0
    const bad: string[] = []
    const judge = (what: string, reply: { status: number; body: string }) => {
      tried++
      // A refusal (400) or "no such thing" (404); never a file's content, never a 5xx.
      if (![400, 404].includes(reply.status) || /DECOY-VERSION|root:x:0/.test(reply.body)) bad.push(`${what}: ${reply.status} ${reply.body.slice(0, 120)}`)
    }
    for (const [method, path] of paths) {
      judge(`${method} ${path.slice(0, 80)}`, await call(lb.admin, method, path, { headers: method === 'GET' ? {} : { ...json, ...bearer }, body: method === 'GET' ? undefined : '{"weight": 1}' }))
    }
    for (const path of raw) judge(`raw GET ${path}`, await rawRequest(`http://${lb.admin}`, `GET ${path} HTTP/1.1\r\nhost: ${lb.admin}\r\nconnection: close\r\n\r\n`))
    // The decoy is a valid record: the store would serve it if it were inside the deployments folder.
    const decoy = await call(lb.admin, 'GET', '/api/v1/deployments/DECOY')
    recordCase({
      case: 'path traversal in admin names',
      load: `${tried} requests`,
      failed: bad.length,
      crashes: lb.proc.exitCode === null ? 0 : 1,
      note: 'all 400/404; no file outside state_dir/deployments read',
    })
    assert.deepEqual(bad, [])
    assert.equal(decoy.status, 404)
    assert.equal(lb.proc.exitCode, null)
  })

  it('no error answer leaks a stack trace, a file path or the token', () => {
    const errors = replies.filter(({ reply }) => reply.status >= 400)
    const leaks: string[] = []
    for (const { what, reply } of errors) {
      const text = reply.body
      const problems = [
        /\n\s+at /.test(text) && 'stack trace',
        /\.(ts|js):\d+/.test(text) && 'source location',
        (text.includes(dir) || text.includes(ROOT.replace(/\/$/, '')) || text.includes('/tmp/')) && 'file path',
        text.includes(TOKEN) && 'the token',
        (text.includes(TOKEN.slice(0, -1)) || text.includes(Buffer.from(`admin:${TOKEN}`).toString('base64'))) && 'part of the token',
      ].filter(Boolean)
      // A reply echoing a path the client sent (`no such endpoint: GET /x`) is not a leak; check ours only.
      if (problems.length > 0 && !what.includes(encodeURIComponent(dir))) leaks.push(`${what}: ${problems.join(', ')}: ${text.slice(0, 160)}`)
    }
    recordCase({
      case: 'admin error answers leak nothing',
      load: `${errors.length} error answers`,
      failed: leaks.length,
      crashes: lb.proc.exitCode === null ? 0 : 1,
      note: 'no stack, path or token',
    })
    assert.ok(errors.length > 300, `${errors.length} error answers checked`)
    assert.deepEqual(leaks, [])
  })
})
