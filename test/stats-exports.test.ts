import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it, type TestContext } from 'node:test'
import { Script } from 'node:vm'
import { AdminServer } from '../src/admin/admin-server.js'
import type { StateView } from '../src/admin/balancer-control.js'
import { readsNeedToken } from '../src/admin/read-policy.js'
import type { LoadBalancer } from '../src/load-balancer.js'
import { PAGE_SCRIPT } from '../src/stats/page/stats-page.js'
import { statsCsv } from '../src/stats/stats-csv.js'
import type { StatsDocument } from '../src/stats/stats-document.js'
import { STATS_FIELDS, type StatsRow } from '../src/stats/stats-fields.js'
import { statsRows } from '../src/stats/stats-rows.js'
import { FakeControl } from './admin-fake-control.js'
import { startBackend } from './helpers/backend.js'
import { startBalancer } from './helpers/balancer.js'
import { balancerYaml } from './helpers/config-yaml.js'
import { request } from './helpers/load.js'
import { waitFor, within } from './helpers/wait.js'

const TOKEN = 'exports-token'
const KOREAN = '서버1'

/** Balancer: frontend web -> backend app (서버1, s2), and backend api (api1); active checks, a token. */
async function twoBackends(t: TestContext): Promise<{ lb: LoadBalancer & { url: (frontend?: string) => string }; admin: string }> {
  // The helper's default answer names the backend in a header, which cannot hold Korean text: answer in the body.
  const backends = await Promise.all([KOREAN, 's2', 'api1'].map((name) => startBackend(name, (_req, res) => res.end(name))))
  for (const b of backends) t.after(() => b.close())
  const health = '    health: { type: http, path: /healthz, interval: 200ms, rise: 1, fall: 1 }'
  const lb = await startBalancer(
    balancerYaml({
      admin: `token: ${TOKEN}`,
      backend: health,
      servers: [
        { name: KOREAN, address: backends[0]!.address },
        { name: 's2', address: backends[1]!.address },
      ],
      after: ['  api:', health, '    servers:', `      api1: { address: ${backends[2]!.address} }`].join('\n'),
    }),
  )
  t.after(() => lb.stop(0))
  await waitFor('every server UP', () => (lb.state().backends.every((b) => b.servers.every((s) => s.state === 'UP')) ? true : undefined))
  const a = lb.adminListen!
  return { lb, admin: `http://${a.host}:${a.port}` }
}

/** RFC 4180 lines into cells (quoted cells may hold commas, quotes and line breaks). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let cell = ''
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (cell += '"'), i++
      else if (c === '"') quoted = false
      else cell += c
    } else if (c === '"') quoted = true
    else if (c === ',') row.push(cell), (cell = '')
    else if (c === '\r' && text[i + 1] === '\n') {
      row.push(cell)
      rows.push(row)
      row = []
      cell = ''
      i++
    } else cell += c
  }
  assert.equal(cell, '', 'the text ends with a line break')
  return rows
}

function serverPath(backend: string, server: string): string {
  return `/api/v1/backends/${encodeURIComponent(backend)}/servers/${encodeURIComponent(server)}`
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

/** Reads a server-sent event stream until `done` says the text so far is enough. */
async function readEvents(url: string, done: (text: string) => boolean, start: () => Promise<unknown> = async () => undefined): Promise<string> {
  const abort = new AbortController()
  const res = await fetch(url, { signal: abort.signal })
  assert.equal(res.status, 200)
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/)
  const reader = res.body!.getReader()
  const decoder = new TextDecoder()
  let text = ''
  await start()
  try {
    await within('the events', (async () => {
      while (!done(text)) {
        const chunk = await reader.read()
        if (chunk.done) break
        text += decoder.decode(chunk.value, { stream: true })
      }
    })())
  } finally {
    abort.abort()
  }
  return text
}

describe('stats exports', () => {
  it('/stats.csv has a header line and one row per frontend, backend and server, all with the same fields', async (t) => {
    const { lb, admin } = await twoBackends(t)
    for (let i = 0; i < 4; i++) await request(lb.url() + '/hello')
    const res = await fetch(`${admin}/stats.csv`)
    assert.match(res.headers.get('content-type') ?? '', /^text\/csv; charset=utf-8/)
    const rows = parseCsv(await res.text())
    assert.deepEqual(rows[0], [...STATS_FIELDS])
    for (const row of rows) assert.equal(row.length, STATS_FIELDS.length)
    const at = (name: string) => STATS_FIELDS.indexOf(name as (typeof STATS_FIELDS)[number])
    const names = rows.slice(1).map((r) => `${r[at('type')]} ${r[at('pxname')]}/${r[at('svname')]}`)
    assert.deepEqual(names, ['frontend web/FRONTEND', 'backend app/BACKEND', `server app/${KOREAN}`, 'server app/s2', 'backend api/BACKEND', 'server api/api1'])
    const app = rows[2]!
    assert.equal(app[at('status')], 'UP')
    assert.equal(app[at('stot')], '4')
    assert.equal(app[at('hrsp_2xx')], '4')
    assert.equal(app[at('qlimit')], '1000')
    const korean = rows[3]!
    assert.equal(korean[at('check_status')], 'ok')
    assert.equal(korean[at('check_code')], '200')
    assert.equal(Number(korean[at('stot')]) + Number(rows[4]![at('stot')]), 4)
  })

  it('/stats.json has the same rows as objects, and the services', async (t) => {
    const { lb, admin } = await twoBackends(t)
    await request(lb.url() + '/hello')
    const doc = (await (await fetch(`${admin}/stats.json`)).json()) as StatsDocument
    assert.deepEqual(doc.fields, [...STATS_FIELDS])
    assert.equal(doc.rows.length, 6)
    for (const row of doc.rows) assert.deepEqual(Object.keys(row), [...STATS_FIELDS])
    const korean = doc.rows.find((r) => r.svname === KOREAN)!
    assert.equal(korean.pxname, 'app')
    assert.equal(korean.status, 'UP')
    assert.equal(typeof korean.lastchg, 'number')
    assert.deepEqual(doc.services, [])
    const csv = await (await fetch(`${admin}/stats.csv`)).text()
    assert.equal(parseCsv(csv).length - 1, doc.rows.length)
  })

  it('/api/v1/events delivers a server event when a server is drained through the API, and lets go of a client that left', async (t) => {
    const { lb, admin } = await twoBackends(t)
    const before = lb.events.size
    const text = await readEvents(
      `${admin}/api/v1/events`,
      (so) => /event: server\ndata: .*"DRAIN"/.test(so),
      async () => assert.equal((await post(admin + serverPath('app', KOREAN), { admin: 'drain' })).status, 200),
    )
    const block = text.split('\n\n').find((b) => b.startsWith('event: server') && b.includes('DRAIN'))!
    const data = JSON.parse(block.split('\n')[1]!.slice('data: '.length)) as Record<string, unknown>
    assert.equal(data.backend, 'app')
    assert.equal(data.server, KOREAN)
    assert.equal(data.state, 'DRAIN')
    assert.equal(data.admin, 'drain')
    assert.equal(typeof data.at, 'number')
    await waitFor('the stream to be let go', () => (lb.events.size === before ? true : undefined))
  })

  it('refuses a cross-site write with 403 and changes nothing; a same-origin one goes through', async (t) => {
    const { lb, admin } = await twoBackends(t)
    const path = admin + serverPath('app', 's2')
    const evil = await post(path, { admin: 'maint' }, { origin: 'http://evil.example' })
    assert.equal(evil.status, 403)
    assert.equal((evil.body.error as { code: string }).code, 'SY_ERR_CROSS_SITE')
    const marked = await post(path, { weight: 7 }, { 'sec-fetch-site': 'cross-site' })
    assert.equal(marked.status, 403)
    const s2 = lb.server('app', 's2')
    assert.equal(s2.admin, 'ready')
    assert.equal(s2.weight, 1)
    const own = await post(path, { admin: 'drain' }, { origin: admin })
    assert.equal(own.status, 200)
    assert.equal(lb.server('app', 's2').state, 'DRAIN')
    // A token anywhere but the Authorization header is not a token.
    const cookie = await fetch(path, { method: 'POST', headers: { cookie: `token=${TOKEN}`, origin: admin }, body: '{"admin":"ready"}' })
    assert.equal(cookie.status, 401)
    assert.equal(lb.server('app', 's2').state, 'DRAIN')
  })

  it('keeps Korean names intact through the page data, the CSV, the API and the events', async (t) => {
    const { admin } = await twoBackends(t)
    const csv = Buffer.from(await (await fetch(`${admin}/stats.csv`)).arrayBuffer())
    assert.ok(csv.includes(Buffer.from(`app,${KOREAN},server,UP`, 'utf8')))
    const doc = (await (await fetch(`${admin}/stats.json`)).json()) as StatsDocument
    assert.ok(doc.rows.some((r) => r.svname === KOREAN))
    const text = await readEvents(
      `${admin}/api/v1/events`,
      (so) => so.includes('"MAINT"'),
      async () => assert.equal((await post(`${admin}/api/v1/backends/app/servers/%EC%84%9C%EB%B2%841`, { admin: 'maint' })).status, 200),
    )
    assert.ok(text.includes(`"server":"${KOREAN}"`))
    const state = (await (await fetch(`${admin}/api/v1/state`)).json()) as StateView
    assert.equal(state.backends[0]!.servers.find((s) => s.name === KOREAN)!.admin, 'maint')
  })

  it('serves one self-contained UTF-8 page whose script and style are the only ones allowed to run', async (t) => {
    const { admin } = await twoBackends(t)
    const res = await fetch(`${admin}/stats`)
    assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8')
    const html = await res.text()
    assert.match(html, /^<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">/)
    assert.doesNotMatch(html, /<(script|link|img)[^>]+(src|href)=/i, 'no external assets')
    assert.equal(html.match(/<\/script/gi)?.length, 1, 'the script does not end early')
    assert.doesNotThrow(() => new Script(PAGE_SCRIPT), 'the page script parses')
    const csp = res.headers.get('content-security-policy') ?? ''
    const hash = createHash('sha256').update(PAGE_SCRIPT).digest('base64')
    assert.ok(csp.includes(`script-src 'sha256-${hash}'`), csp)
    assert.match(csp, /frame-ancestors 'none'/)
    assert.doesNotMatch(PAGE_SCRIPT, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/, 'text never goes in as HTML')
  })

  it('with reads closed (stats_public: false) only the page shell and /healthz answer without the token', async (t) => {
    const server = new AdminServer({ control: new FakeControl({ app: [KOREAN] }), token: TOKEN, statsPublic: false })
    const { port } = await server.listen({ host: '127.0.0.1', port: 0 })
    t.after(() => server.close())
    const url = `http://127.0.0.1:${port}`
    for (const path of ['/stats.json', '/stats.csv', '/api/v1/state', '/api/v1/events']) {
      assert.equal((await fetch(url + path)).status, 401, path)
    }
    assert.equal((await fetch(`${url}/stats`)).status, 200)
    assert.equal((await fetch(`${url}/healthz`)).status, 503)
    const withToken = await fetch(`${url}/stats.json`, { headers: { authorization: `Bearer ${TOKEN}` } })
    assert.equal(withToken.status, 200)
    assert.equal(((await withToken.json()) as StatsDocument).rows.find((r) => r.type === 'server')!.svname, KOREAN)
  })

  it('reads are open by default on a loopback listener only', () => {
    assert.equal(readsNeedToken(undefined, '127.0.0.1'), false)
    assert.equal(readsNeedToken(undefined, '::1'), false)
    assert.equal(readsNeedToken(undefined, '0.0.0.0'), true)
    assert.equal(readsNeedToken(undefined, '192.0.2.10'), true)
    assert.equal(readsNeedToken(true, '0.0.0.0'), false)
    assert.equal(readsNeedToken(false, '127.0.0.1'), true)
  })

  it('sends heartbeats on a quiet event stream', async (t) => {
    const server = new AdminServer({ control: new FakeControl({ app: ['s1'] }), token: TOKEN, heartbeatMs: 50 })
    const { port } = await server.listen({ host: '127.0.0.1', port: 0 })
    t.after(() => server.close())
    const text = await readEvents(`http://127.0.0.1:${port}/api/v1/events`, (so) => so.includes(': heartbeat\n\n'))
    assert.match(text, /^retry: 2000\n: connected\n\n/)
  })

  it('quotes CSV cells that need it and leaves unknown figures empty', () => {
    const control = new FakeControl({ app: ['s1'] })
    const [, , server] = statsRows(control.state(), { rate: () => undefined }, Date.now())
    const row: StatsRow = { ...server!, check_desc: 'HTTP 500, "bad"', check_status: 'failed' }
    const lines = statsCsv([row]).split('\r\n')
    const cells = parseCsv(`${lines[1]}\r\n`)[0]!
    assert.equal(cells.length, STATS_FIELDS.length)
    assert.equal(cells[STATS_FIELDS.indexOf('check_desc')], 'HTTP 500, "bad"')
    assert.equal(cells[STATS_FIELDS.indexOf('bin')], '')
  })
})
