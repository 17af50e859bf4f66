/** The admin API against a real LoadBalancer: real proxy traffic, real drains, a real configuration file. */
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { ServerView, StateView } from '../src/admin/balancer-control.js'
import { loadConfigFile } from '../src/config/load-config.js'
import { LoadBalancer } from '../src/load-balancer.js'
import { startBackend, type TestBackend } from './helpers/backend.js'
import { tempDir } from './helpers/balancer.js'
import { balancerYaml } from './helpers/config-yaml.js'
import { waitFor } from './helpers/wait.js'

const TOKEN = 'e2e-token'

/** /slow goes to backend slow, the rest to app; `default_backend: app` is line 10 of the text. */
function configYaml(addresses: { s1: string; s2: string; w1: string }, s2Weight = 1): string {
  return balancerYaml({
    admin: `token: ${TOKEN}`,
    frontend: '    routes:\n      - match: { path_prefix: /slow }\n        backend: slow\n    default_backend: app',
    backend: '    health: { type: tcp, interval: 100ms, rise: 2, fall: 2 }',
    servers: { s1: addresses.s1, s2: `${addresses.s2}, weight: ${s2Weight}` },
    after: `  slow:\n    servers:\n      w1: { address: ${addresses.w1} }`,
  })
}

describe('admin API with a real balancer', () => {
  let lb: LoadBalancer
  let file: string
  let addresses: { s1: string; s2: string; w1: string }
  const backends: TestBackend[] = []
  const held: (() => void)[] = []
  const release = (): void => held.splice(0).forEach((finish) => finish())
  let adminUrl: string
  let webUrl: string

  const call = async (method: string, path: string, options: { body?: unknown; token?: string | null; headers?: Record<string, string> } = {}) => {
    const headers: Record<string, string> = { ...options.headers }
    const token = options.token === undefined ? TOKEN : options.token
    if (token !== null) headers.authorization = `Bearer ${token}`
    const res = await fetch(adminUrl + path, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) })
    return { status: res.status, body: (await res.json()) as Record<string, unknown> & ServerView }
  }
  const state = async (): Promise<StateView> => (await (await fetch(`${adminUrl}/api/v1/state`)).json()) as StateView
  /** What a write could change: admin states, weights and the set of servers. */
  const settings = async () =>
    (await state()).backends.map((b) => ({ backend: b.name, servers: b.servers.map((s) => [s.name, s.admin, s.weight, s.address]) }))

  before(async () => {
    backends.push(await startBackend('s1'), await startBackend('s2'), await startBackend('w1', (_req, res) => held.push(() => res.end('slow done'))))
    addresses = { s1: backends[0]!.address, s2: backends[1]!.address, w1: backends[2]!.address }
    file = join(tempDir(), 'switchyard.yaml')
    writeFileSync(file, configYaml(addresses))
    lb = await LoadBalancer.start(await loadConfigFile(file, {}), { configFile: file })
    adminUrl = `http://127.0.0.1:${lb.adminListen!.port}`
    webUrl = `http://127.0.0.1:${lb.addresses('web')[0]!.port}`
    await waitFor('app servers UP', () => (lb.state().backends[0]!.servers.every((s) => s.state === 'UP') ? true : undefined))
  })
  after(async () => {
    release()
    await lb.stop(0)
    await Promise.all(backends.map((b) => b.close()))
  })

  it('answers /healthz with 200 and the state without a token', async () => {
    assert.equal((await fetch(`${adminUrl}/healthz`)).status, 200)
    const s = await state()
    assert.deepEqual(s.frontends.map((f) => f.name), ['web'])
    assert.deepEqual(s.backends.map((b) => b.name), ['app', 'slow'])
  })

  it('refuses writes without the token, with a wrong one, or with it in the query or a cookie; nothing changes', async () => {
    const before = await settings()
    const ways: { token?: string | null; headers?: Record<string, string>; query?: string }[] = [
      { token: null },
      { token: 'e2e-tokeN' },
      { token: null, query: `?token=${TOKEN}` },
      { token: null, headers: { cookie: `token=${TOKEN}` } },
    ]
    for (const way of ways) {
      const q = way.query ?? ''
      for (const [method, path, body] of [
        ['POST', `/api/v1/backends/app/servers/s1${q}`, { admin: 'maint', weight: 0 }],
        ['POST', `/api/v1/backends/app/servers${q}`, { name: 'intruder', address: '127.0.0.1:9' }],
        ['DELETE', `/api/v1/backends/app/servers/s2${q}`, undefined],
        ['POST', `/api/v1/reload${q}`, undefined],
      ] as const) {
        const answer = await call(method, path, { body, token: way.token, headers: way.headers })
        assert.equal(answer.status, 401, `${method} ${path} ${JSON.stringify(way)}`)
        assert.equal((answer.body.error as { code: string }).code, 'SY_ERR_UNAUTHORIZED')
      }
    }
    assert.deepEqual(await settings(), before)
  })

  it('changes weight and admin state; the proxy follows', async () => {
    const maint = await call('POST', '/api/v1/backends/app/servers/s1', { body: { admin: 'maint' } })
    assert.equal(maint.status, 200)
    assert.equal(maint.body.state, 'MAINT')
    for (let i = 0; i < 6; i++) assert.equal(await (await fetch(webUrl)).text(), 's2')
    const ready = await call('POST', '/api/v1/backends/app/servers/s1', { body: { admin: 'ready', weight: 3 } })
    assert.equal(ready.body.weight, 3)
    assert.equal(ready.body.admin, 'ready')
    await waitFor('s1 UP', () => (lb.server('app', 's1').state === 'UP' ? true : undefined))
    const seen = new Set<string>()
    for (let i = 0; i < 8; i++) seen.add(await (await fetch(webUrl)).text())
    assert.deepEqual([...seen].sort(), ['s1', 's2'])
  })

  it('drain with ?wait=1 answers once the request in flight finished; that request succeeds', async () => {
    const inFlight = fetch(`${webUrl}/slow`)
    await waitFor('request in flight', () => (lb.server('slow', 'w1').active === 1 ? true : undefined))
    let answered = false
    const pending = call('POST', '/api/v1/backends/slow/servers/w1?wait=1&timeout=10s', { body: { admin: 'drain' } }).then((a) => {
      answered = true
      return a
    })
    await new Promise((r) => setTimeout(r, 300))
    assert.equal(answered, false)
    assert.equal(lb.server('slow', 'w1').state, 'DRAIN')
    release()
    const answer = await pending
    assert.equal(answer.status, 200)
    assert.deepEqual({ ...(answer.body.drain as object), waited_ms: 0 }, { drained: true, active: 0, waited_ms: 0 })
    const response = await inFlight
    assert.equal(response.status, 200)
    assert.equal(await response.text(), 'slow done')
    assert.equal((await call('POST', '/api/v1/backends/slow/servers/w1', { body: { admin: 'ready' } })).body.state, 'UP')
  })

  it('adds a server with a UTF-8 name: STARTING until its checks pass, then in rotation; removes it after draining', async () => {
    const extra = await startBackend('s3', (_req, res) => res.end('서버3'))
    backends.push(extra)
    const added = await call('POST', '/api/v1/backends/app/servers', { body: { name: '서버3', address: extra.address } })
    assert.equal(added.status, 201)
    assert.equal(added.body.name, '서버3')
    assert.equal(added.body.state, 'STARTING')
    const path = `/api/v1/backends/app/servers/${encodeURIComponent('서버3')}`
    await waitFor('서버3 UP', () => (lb.server('app', '서버3').state === 'UP' ? true : undefined))
    assert.equal((await call('GET', path)).body.state, 'UP')
    const seen = new Set<string>()
    for (let i = 0; i < 12; i++) seen.add(await (await fetch(webUrl)).text())
    assert.ok(seen.has('서버3'), [...seen].join(','))
    const duplicate = await call('POST', '/api/v1/backends/app/servers', { body: { name: '서버3', address: extra.address } })
    assert.equal(duplicate.status, 409)

    const removed = await call('DELETE', `${path}?timeout=5s`)
    assert.equal(removed.status, 200)
    assert.equal(removed.body.removed, true)
    assert.equal((removed.body.drain as { drained: boolean }).drained, true)
    const gone = await call('GET', path)
    assert.equal(gone.status, 404)
    assert.equal((gone.body.error as { message: string }).message, "no server named '서버3' in backend 'app'")
  })

  it('reloads the file; an invalid file is refused with its problems and changes nothing', async () => {
    writeFileSync(file, configYaml(addresses, 5))
    const ok = await call('POST', '/api/v1/reload')
    assert.equal(ok.status, 200)
    assert.deepEqual(ok.body, { reloaded: true })
    assert.equal(lb.server('app', 's2').weight, 5)

    const before = await settings()
    writeFileSync(file, configYaml(addresses, 5).replace('default_backend: app', 'default_backend: appp'))
    const bad = await call('POST', '/api/v1/reload')
    assert.equal(bad.status, 400)
    const error = bad.body.error as { code: string; problems: { file: string; line: number; message: string }[] }
    assert.equal(error.code, 'SY_ERR_CONFIG_INVALID')
    assert.equal(error.problems.length, 1)
    assert.equal(error.problems[0]!.file, file)
    assert.equal(error.problems[0]!.line, 10)
    assert.match(error.problems[0]!.message, /appp/)
    assert.deepEqual(await settings(), before)
    assert.equal((await fetch(webUrl)).status, 200)
  })
})
