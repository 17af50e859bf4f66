import assert from 'node:assert/strict'
import http from 'node:http'
import { after, before, beforeEach, describe, it } from 'node:test'
import { FakeControl } from './admin-fake-control.js'
import { errorCode, startAdmin, TOKEN, type Admin } from './admin-harness.js'

describe('admin API', () => {
  let control: FakeControl
  let admin: Admin

  beforeEach(async () => {
    await admin?.server.close()
    control = new FakeControl({ app: ['s1', 's2'], api: ['a1'] }, { app: 'v1' })
    admin = await startAdmin(control)
  })
  after(() => admin.server.close())

  describe('GET /healthz', () => {
    it('answers 503 until ready, then 200', async () => {
      admin.server.ready = false
      assert.equal((await admin.call('GET', '/healthz')).status, 503)
      admin.server.ready = true
      const answer = await admin.call('GET', '/healthz', { token: null })
      assert.equal(answer.status, 200)
      assert.deepEqual(answer.body, { ready: true })
      assert.equal((await fetch(`${admin.url}/healthz`, { method: 'HEAD' })).status, 200)
    })
  })

  describe('reads', () => {
    it('GET /api/v1/state lists every frontend, backend and server without a token', async () => {
      const answer = await admin.call('GET', '/api/v1/state', { token: null })
      assert.equal(answer.status, 200)
      assert.deepEqual(answer.body, JSON.parse(JSON.stringify(control.state())))
      assert.match(answer.headers.get('content-type') ?? '', /^application\/json/)
    })

    it('GET one server; unknown backend or server is a 404 with its code', async () => {
      const answer = await admin.call('GET', '/api/v1/backends/app/servers/s2', { token: null })
      assert.equal(answer.status, 200)
      assert.equal(answer.body.name, 's2')
      assert.equal(answer.body.backend, 'app')
      const noBackend = await admin.call('GET', '/api/v1/backends/nope/servers/s1')
      assert.equal(noBackend.status, 404)
      assert.equal(errorCode(noBackend), 'SY_ERR_UNKNOWN_BACKEND')
      const noServer = await admin.call('GET', '/api/v1/backends/app/servers/s9')
      assert.equal(noServer.status, 404)
      assert.deepEqual(noServer.body, { error: { code: 'SY_ERR_UNKNOWN_SERVER', message: "no server named 's9' in backend 'app'" } })
    })
  })

  describe('POST /api/v1/backends/{b}/servers/{s}', () => {
    it('changes the admin state and the weight and answers with the server view', async () => {
      const drain = await admin.call('POST', '/api/v1/backends/app/servers/s1', { body: { admin: 'drain' } })
      assert.equal(drain.status, 200)
      assert.equal(drain.body.admin, 'drain')
      assert.equal(drain.body.state, 'DRAIN')
      const both = await admin.call('POST', '/api/v1/backends/app/servers/s1', { body: { admin: 'ready', weight: 256 } })
      assert.equal(both.status, 200)
      assert.equal(both.body.admin, 'ready')
      assert.equal(both.body.weight, 256)
      assert.equal(control.server('app', 's1').weight, 256)
      const zero = await admin.call('POST', '/api/v1/backends/app/servers/s1', { body: { weight: 0 } })
      assert.equal(zero.body.weight, 0)
    })

    it('with ?wait=1 answers only once the drain is complete, with the outcome', async () => {
      control.hold('app', 's1', 2)
      let answered = false
      const pending = admin.call('POST', '/api/v1/backends/app/servers/s1?wait=1&timeout=10s', { body: { admin: 'drain' } }).then((a) => {
        answered = true
        return a
      })
      await new Promise((resolve) => setTimeout(resolve, 150))
      assert.equal(answered, false, 'answered before the drain was complete')
      assert.equal(control.server('app', 's1').state, 'DRAIN')
      control.finish('app', 's1')
      const answer = await pending
      assert.equal(answer.status, 200)
      assert.equal(answer.body.state, 'DRAIN')
      const outcome = answer.body.drain as Record<string, unknown>
      assert.equal(outcome.drained, true)
      assert.equal(outcome.active, 0)
      assert.ok(Number(outcome.waited_ms) >= 100)
    })

    it('with ?wait=1 says drained: false when the timeout passes first', async () => {
      control.hold('app', 's2', 1)
      const answer = await admin.call('POST', '/api/v1/backends/app/servers/s2?wait=true&timeout=100ms', { body: { admin: 'drain' } })
      assert.equal(answer.status, 200)
      assert.deepEqual({ ...(answer.body.drain as object), waited_ms: 0 }, { drained: false, active: 1, waited_ms: 0 })
    })

    it('rejects wait on anything but a drain, a bad timeout and unknown query parameters, changing nothing', async () => {
      const before = control.state()
      for (const [query, body] of [
        ['?wait=1', { admin: 'maint' }],
        ['?wait=1', { weight: 3 }],
        ['?wait=yes', { admin: 'drain' }],
        ['?wait=1&timeout=soon', { admin: 'drain' }],
        ['?wait=1&timeout=2h', { admin: 'drain' }],
        ['?force=1', { admin: 'drain' }],
      ] as const) {
        const answer = await admin.call('POST', `/api/v1/backends/app/servers/s1${query}`, { body })
        assert.equal(answer.status, 400, query)
        assert.equal(errorCode(answer), 'SY_ERR_BAD_REQUEST', query)
      }
      assert.deepEqual(control.state(), before)
    })

    it('rejects malformed JSON, unknown fields and wrong values with SY_ERR_INVALID_BODY, changing nothing', async () => {
      const before = control.state()
      const cases: { raw: string; reason: RegExp }[] = [
        { raw: '{"admin": "drain"', reason: /not valid JSON/ },
        { raw: '', reason: /expected a JSON object/ },
        { raw: '[]', reason: /expected a JSON object/ },
        { raw: '{}', reason: /"admin" and\/or "weight"/ },
        { raw: '{"admin": "drain", "wieght": 3}', reason: /unknown field 'wieght'/ },
        { raw: '{"admin": "down"}', reason: /admin: must be one of: ready, drain, maint/ },
        { raw: '{"weight": 257}', reason: /weight/ },
        { raw: '{"weight": -1}', reason: /weight/ },
        { raw: '{"weight": 1.5}', reason: /weight/ },
        { raw: '{"weight": "3"}', reason: /weight/ },
      ]
      for (const { raw, reason } of cases) {
        const answer = await admin.call('POST', '/api/v1/backends/app/servers/s1', { raw })
        assert.equal(answer.status, 400, raw)
        assert.equal(errorCode(answer), 'SY_ERR_INVALID_BODY', raw)
        assert.match((answer.body.error as { message: string }).message, reason, raw)
      }
      assert.deepEqual(control.state(), before)
    })

    it('names an unknown backend or server with 404', async () => {
      const answer = await admin.call('POST', '/api/v1/backends/app/servers/nope', { body: { weight: 2 } })
      assert.equal(answer.status, 404)
      assert.equal(errorCode(answer), 'SY_ERR_UNKNOWN_SERVER')
    })
  })

  describe('POST /api/v1/backends/{b}/servers', () => {
    it('adds a server: 201 with its view', async () => {
      const answer = await admin.call('POST', '/api/v1/backends/app/servers', {
        body: { name: 's3', address: '127.0.0.1:40100', weight: 2, backup: true, max_connections: 10 },
      })
      assert.equal(answer.status, 201)
      assert.equal(answer.body.name, 's3')
      assert.equal(answer.body.state, 'STARTING')
      assert.equal(control.server('app', 's3').max_connections, 10)
    })

    it('refuses a duplicate (409), an unknown backend (404) and invalid bodies (400), changing nothing', async () => {
      const before = control.state()
      const dup = await admin.call('POST', '/api/v1/backends/app/servers', { body: { name: 's1', address: '127.0.0.1:1' } })
      assert.equal(dup.status, 409)
      assert.equal(errorCode(dup), 'SY_ERR_SERVER_EXISTS')
      const unknown = await admin.call('POST', '/api/v1/backends/nope/servers', { body: { name: 'x', address: '127.0.0.1:1' } })
      assert.equal(unknown.status, 404)
      assert.equal(errorCode(unknown), 'SY_ERR_UNKNOWN_BACKEND')
      for (const body of [
        { address: '127.0.0.1:1' },
        { name: 'x' },
        { name: 'x', address: 'localhost' },
        { name: 'x', address: '127.0.0.1:99999' },
        { name: 'a/b', address: '127.0.0.1:1' },
        { name: '', address: '127.0.0.1:1' },
        { name: 'x', address: '127.0.0.1:1', weight: 300 },
        { name: 'x', address: '127.0.0.1:1', backup: 'yes' },
        { name: 'x', address: '127.0.0.1:1', max_connections: -1 },
        { name: 'x', address: '127.0.0.1:1', health: 'up' },
      ]) {
        const answer = await admin.call('POST', '/api/v1/backends/app/servers', { body })
        assert.equal(answer.status, 400, JSON.stringify(body))
        assert.equal(errorCode(answer), 'SY_ERR_INVALID_BODY', JSON.stringify(body))
      }
      assert.deepEqual(control.state(), before)
    })
  })

  describe('DELETE /api/v1/backends/{b}/servers/{s}', () => {
    it('drains, then removes, and answers with the drain outcome', async () => {
      control.hold('app', 's2', 1)
      const pending = admin.call('DELETE', '/api/v1/backends/app/servers/s2?timeout=5s')
      await new Promise((resolve) => setTimeout(resolve, 100))
      assert.equal(control.server('app', 's2').state, 'DRAIN')
      control.finish('app', 's2')
      const answer = await pending
      assert.equal(answer.status, 200)
      assert.equal(answer.body.removed, true)
      assert.equal((answer.body.drain as { drained: boolean }).drained, true)
      assert.equal(control.backends.get('app')!.has('s2'), false)
      const again = await admin.call('DELETE', '/api/v1/backends/app/servers/s2')
      assert.equal(again.status, 404)
      assert.equal(errorCode(again), 'SY_ERR_UNKNOWN_SERVER')
    })
  })

  describe('POST /api/v1/reload', () => {
    it('answers {"reloaded": true}', async () => {
      const answer = await admin.call('POST', '/api/v1/reload')
      assert.equal(answer.status, 200)
      assert.deepEqual(answer.body, { reloaded: true })
      assert.equal(control.reloads, 1)
    })

    it('answers an invalid file with SY_ERR_CONFIG_INVALID and its problems', async () => {
      control.reloadProblems = [{ file: 'sy.yaml', line: 3, col: 7, message: "unknown key 'lisen' (did you mean 'listen'?)" }]
      const answer = await admin.call('POST', '/api/v1/reload', { body: {} })
      assert.equal(answer.status, 400)
      assert.deepEqual(answer.body, {
        error: {
          code: 'SY_ERR_CONFIG_INVALID',
          message: 'invalid configuration (1 problem(s)):',
          problems: [{ file: 'sy.yaml', line: 3, col: 7, message: "unknown key 'lisen' (did you mean 'listen'?)" }],
        },
      })
      assert.equal(control.reloads, 0)
    })

    it('takes no input', async () => {
      const answer = await admin.call('POST', '/api/v1/reload', { body: { file: '/etc/passwd' } })
      assert.equal(answer.status, 400)
      assert.equal(errorCode(answer), 'SY_ERR_INVALID_BODY')
      assert.equal(control.reloads, 0)
    })
  })

  describe('auth', () => {
    const writes: [string, string, unknown][] = [
      ['POST', '/api/v1/backends/app/servers/s1', { admin: 'maint', weight: 9 }],
      ['POST', '/api/v1/backends/app/servers', { name: 's3', address: '127.0.0.1:1' }],
      ['DELETE', '/api/v1/backends/app/servers/s1', undefined],
      ['POST', '/api/v1/reload', undefined],
      ['POST', '/api/v1/deployments', { service: 'app', version: 'v2' }],
      ['POST', '/api/v1/services/app/rollback', undefined],
      ['POST', '/api/v1/deployments/app-1/pause', undefined],
      ['POST', '/api/v1/deployments/app-1/abort', undefined],
    ]
    const wrongWays: [string, { token?: string | null; headers?: Record<string, string>; query?: string }][] = [
      ['no token', { token: null }],
      ['a wrong token', { token: 'wrong' }],
      ['a wrong token of the same length', { token: TOKEN.replace(/.$/, 'X') }],
      ['the token with a longer tail', { token: `${TOKEN}x` }],
      ['the token in the query string', { token: null, query: `?token=${TOKEN}` }],
      ['the token in a cookie', { token: null, headers: { cookie: `token=${TOKEN}` } }],
      ['the token as Basic auth', { token: null, headers: { authorization: `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}` } }],
      ['the token without a scheme', { token: null, headers: { authorization: TOKEN } }],
    ]
    for (const [what, how] of wrongWays) {
      it(`refuses every write with ${what}: 401, nothing changed`, async () => {
        const before = control.state()
        for (const [method, path, body] of writes) {
          const answer = await admin.call(method, path + (how.query ?? ''), { body, token: how.token, headers: how.headers })
          assert.equal(answer.status, 401, `${method} ${path}`)
          assert.equal(errorCode(answer), 'SY_ERR_UNAUTHORIZED')
          assert.equal(answer.headers.get('www-authenticate'), 'Bearer realm="switchyard"')
        }
        assert.deepEqual(control.state(), before)
        assert.equal(control.reloads, 0)
        assert.equal(control.releases.records.length, 0)
      })
    }

    it('accepts the scheme in any case', async () => {
      const answer = await admin.call('POST', '/api/v1/reload', { token: null, headers: { authorization: `bearer ${TOKEN}` } })
      assert.equal(answer.status, 200)
    })

    it('refuses every write when no token is configured, and says how to allow them', async () => {
      const open = await startAdmin(control, {})
      const empty = await startAdmin(control, { token: '' })
      try {
        for (const server of [open, empty]) {
          const answer = await server.call('POST', '/api/v1/backends/app/servers/s1', { body: { admin: 'maint' }, token: 'anything' })
          assert.equal(answer.status, 401)
          assert.equal(errorCode(answer), 'SY_ERR_UNAUTHORIZED')
          assert.match((answer.body.error as { message: string }).message, /set admin\.token/)
          assert.equal((await server.call('GET', '/api/v1/state', { token: null })).status, 200)
        }
        assert.equal(control.server('app', 's1').admin, 'ready')
      } finally {
        await open.server.close()
        await empty.server.close()
      }
    })

    it('checks the token before reading the body', async () => {
      const answer = await admin.call('POST', '/api/v1/backends/app/servers/s1', { raw: '{not json', token: 'wrong' })
      assert.equal(answer.status, 401)
    })
  })

  describe('bodies too large', () => {
    it('answers 413 for a declared length over 64 KB, changing nothing', async () => {
      const raw = JSON.stringify({ name: 'big', address: '127.0.0.1:1', pad: 'x'.repeat(70_000) })
      const answer = await admin.call('POST', '/api/v1/backends/app/servers', { raw })
      assert.equal(answer.status, 413)
      assert.equal(errorCode(answer), 'SY_ERR_BODY_TOO_LARGE')
      assert.equal(control.backends.get('app')!.has('big'), false)
    })

    it('answers 413 for a chunked body that grows past 64 KB, changing nothing', async () => {
      const { port } = new URL(admin.url)
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/api/v1/backends/app/servers/s1', headers: { authorization: `Bearer ${TOKEN}` } })
        req.on('response', (res) => {
          let body = ''
          res.setEncoding('utf8').on('data', (c: string) => (body += c))
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
        })
        req.on('error', reject)
        req.write(`{"admin": "maint", "pad": "`)
        for (let i = 0; i < 10; i++) req.write('x'.repeat(10_000))
        req.end('"}')
      })
      assert.equal(answer.status, 413)
      assert.equal((JSON.parse(answer.body) as { error: { code: string } }).error.code, 'SY_ERR_BODY_TOO_LARGE')
      assert.equal(control.server('app', 's1').admin, 'ready')
    })
  })

  describe('routing', () => {
    it('answers an unknown path with 404 SY_ERR_NOT_FOUND', async () => {
      for (const path of ['/', '/api/v1', '/api/v1/state/', '/api/v2/state', '/api/v1/backends/app', '/api/v1/backends//servers/s1']) {
        const answer = await admin.call('GET', path)
        assert.equal(answer.status, 404, path)
        assert.equal(errorCode(answer), 'SY_ERR_NOT_FOUND', path)
      }
    })

    it('answers a wrong method with 405 and the allowed ones', async () => {
      const cases: [string, string, string][] = [
        ['POST', '/api/v1/state', 'GET, HEAD'],
        ['DELETE', '/healthz', 'GET, HEAD'],
        ['GET', '/api/v1/reload', 'POST'],
        ['PUT', '/api/v1/backends/app/servers/s1', 'GET, POST, DELETE, HEAD'],
        ['GET', '/api/v1/backends/app/servers', 'POST'],
        ['DELETE', '/api/v1/deployments', 'GET, POST, HEAD'],
        ['POST', '/api/v1/deployments/app-1', 'GET, HEAD'],
        ['GET', '/api/v1/deployments/app-1/pause', 'POST'],
        ['GET', '/api/v1/services/app/rollback', 'POST'],
      ]
      for (const [method, path, allow] of cases) {
        const answer = await admin.call(method, path)
        assert.equal(answer.status, 405, `${method} ${path}`)
        assert.equal(errorCode(answer), 'SY_ERR_METHOD_NOT_ALLOWED')
        assert.equal(answer.headers.get('allow'), allow)
      }
    })

    it('decodes UTF-8 server names in paths', async () => {
      const name = '서버-1'
      const added = await admin.call('POST', '/api/v1/backends/app/servers', { body: { name, address: '127.0.0.1:40200' } })
      assert.equal(added.status, 201)
      const path = `/api/v1/backends/app/servers/${encodeURIComponent(name)}`
      const read = await admin.call('GET', path)
      assert.equal(read.status, 200)
      assert.equal(read.body.name, name)
      const changed = await admin.call('POST', path, { body: { weight: 7 } })
      assert.equal(changed.body.weight, 7)
      assert.equal(control.server('app', name).weight, 7)
      const missing = await admin.call('GET', `/api/v1/backends/app/servers/${encodeURIComponent('없음')}`)
      assert.equal((missing.body.error as { message: string }).message, "no server named '없음' in backend 'app'")
    })

    it('answers a malformed percent-escape with 400', async () => {
      const answer = await admin.call('GET', '/api/v1/backends/app/servers/%E0%A4%A')
      assert.equal(answer.status, 400)
      assert.equal(errorCode(answer), 'SY_ERR_BAD_REQUEST')
    })
  })
})

describe('admin API internal errors', () => {
  let admin: Admin
  before(async () => {
    const control = new FakeControl({ app: ['s1'] })
    control.state = () => {
      throw new Error('secret detail')
    }
    admin = await startAdmin(control)
  })
  after(() => admin.server.close())

  it('answers a defect with 500 SY_ERR_INTERNAL and no detail', async () => {
    const answer = await admin.call('GET', '/api/v1/state')
    assert.equal(answer.status, 500)
    assert.equal(errorCode(answer), 'SY_ERR_INTERNAL')
    assert.doesNotMatch(JSON.stringify(answer.body), /secret/)
  })
})
