import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { stringify } from 'yaml'
import { parseConfigText } from '../src/config/load-config.js'
import type { ConfigInput } from '../src/import/haproxy-common.js'
import { importHaproxy, type ImportResult } from '../src/import/import-haproxy.js'
import { parseHaproxy } from '../src/import/parse-haproxy.js'
import { startBackend, type TestBackend } from './helpers/backend.js'
import { CLI, ROOT, startBalancer } from './helpers/balancer.js'
import { request } from './helpers/load.js'
import { makeSelfSigned } from './helpers/self-signed.js'
import { waitFor } from './helpers/wait.js'

const FIXTURES = join(ROOT, 'test/fixtures/haproxy')
const CLEAN = ['http-with-httpchk-and-cookie.cfg', 'canary-weights.cfg', 'listen-with-stats.cfg', 'tcp-with-ssl-hello-chk.cfg']

function convert(name: string): ImportResult {
  return importHaproxy(readFileSync(join(FIXTURES, name), 'utf8'), name)
}

/** The converted configuration with every server moved to a live test backend and listeners on free ports. */
function onTestPorts(config: ConfigInput, backends: ReadonlyMap<string, { readonly address: string }>): string {
  const copy = structuredClone(config)
  copy.admin = { listen: '127.0.0.1:0' }
  copy.access_log = false
  for (const frontend of Object.values(copy.frontends)) frontend.listen = '127.0.0.1:0'
  for (const backend of Object.values(copy.backends)) {
    for (const [name, server] of Object.entries(backend.servers ?? {})) server.address = backends.get(name)!.address
  }
  return stringify(copy)
}

async function startBackends(names: readonly string[]): Promise<Map<string, TestBackend>> {
  return new Map(await Promise.all(names.map(async (n) => [n, await startBackend(n)] as const)))
}

describe('import haproxy: conversion', () => {
  for (const name of CLEAN) {
    it(`${name} translates completely and passes check`, () => {
      const result = convert(name)
      assert.deepEqual(result.untranslated, [])
      assert.doesNotThrow(() => parseConfigText(result.yaml, name, {}))
    })
  }

  it('translates routes, health checks, persistence and defaults of a web tier', () => {
    const config = parseConfigText(convert('http-with-httpchk-and-cookie.cfg').yaml, 'x', {})
    const www = config.frontends.www!
    assert.deepEqual(www.listen, [{ host: '0.0.0.0', port: 80 }])
    assert.deepEqual(www.routes.map((r) => [r.match.host ?? r.match.path_prefix, r.backend]), [
      ['shop.example.com', 'shop'], ['blog.example.com', 'blog'], ['*.blog.example.com', 'blog'], ['/api/', 'api'], ['/v2/', 'api'],
    ])
    assert.equal(www.default_backend, 'shop')
    assert.deepEqual(www.timeouts, { client: 30_000, http_request: 10_000, keep_alive: 2000 })
    const { shop, blog, api } = config.backends
    assert.deepEqual(shop!.sticky, { cookie: 'SERVERID' })
    assert.deepEqual(shop!.health, {
      type: 'http', method: 'GET', path: '/healthz', host: 'shop.example.com', expect_status: 200, timeout: 2000,
      interval: 3000, fast_interval: 1000, down_interval: 5000, rise: 2, fall: 3,
    })
    assert.equal(shop!.servers.shop3!.backup, true)
    assert.deepEqual(blog!.health, { type: 'http', method: 'HEAD', path: '/ping', host: 'blog.example.com', interval: 2000 })
    assert.equal(blog!.slow_start, 30_000)
    assert.equal(blog!.servers.blog1!.max_connections, 100)
    assert.equal(blog!.balance, 'leastconn')
    assert.deepEqual([api!.balance, api!.hash_key, api!.health?.type], ['hash', 'uri', 'tcp'])
    for (const backend of [shop!, blog!, api!]) {
      assert.equal(backend.retries, 3)
      assert.deepEqual(backend.retry_on, ['conn-failure', 'empty-response', '503'])
      assert.deepEqual(backend.timeouts, { connect: 5000, server: 30_000, queue: 15_000 })
    }
    assert.deepEqual(config.access_log, { format: 'httplog' })
    assert.equal(config.admin, undefined)
  })

  it('turns a listen section into a frontend and backend, and a stats-only one into the admin listener', () => {
    const config = parseConfigText(convert('listen-with-stats.cfg').yaml, 'x', {})
    assert.deepEqual(Object.keys(config.frontends), ['app'])
    assert.equal(config.frontends.app!.default_backend, 'app')
    assert.deepEqual([config.backends.app!.balance, config.backends.app!.hash_key], ['hash', 'source'])
    assert.deepEqual(config.backends.app!.health, { type: 'tls', verify: false })
    assert.deepEqual(config.admin?.listen, { host: '127.0.0.1', port: 8404 })
  })

  it('reports every line it cannot translate with its line number, and the rest still passes check', () => {
    const result = convert('unsupported-lines.cfg')
    assert.deepEqual([...new Set(result.untranslated.map((u) => u.line))], [2, 3, 11, 12, 17, 18, 19, 28, 30])
    assert.match(result.untranslated.find((u) => u.line === 12)!.reason, /crt-list/)
    const config = parseConfigText(result.yaml, 'x', {})
    assert.deepEqual(Object.keys(config.frontends), ['web', 'db'])
    assert.deepEqual(config.frontends.web!.routes, [])
    assert.equal(config.frontends.db!.mode, 'tcp')
    // `server ... check ssl verify none`: TLS to the servers and checks over TLS, both without verification.
    assert.deepEqual(config.backends.app!.tls, { verify: false })
    assert.deepEqual(config.backends.app!.health, { type: 'tls', verify: false })
  })

  it('translates TCP mode: frontends, ssl-hello-chk, tcp-check, source affinity, PROXY protocol and tcplog', () => {
    const config = parseConfigText(convert('tcp-with-ssl-hello-chk.cfg').yaml, 'x', {})
    const api = config.frontends.kube_api!
    assert.deepEqual([api.mode, api.default_backend, api.timeouts.client], ['tcp', 'masters', 3_600_000])
    assert.deepEqual(config.backends.masters!.health, { type: 'tls', verify: false, interval: 2000, rise: 2, fall: 3 })
    assert.equal(config.backends.masters!.balance, 'roundrobin')
    const etcd = config.backends.etcd_clients!
    assert.deepEqual([etcd.balance, etcd.hash_key, etcd.proxy_protocol, etcd.health?.type], ['hash', 'source', 'v2', 'tcp'])
    assert.deepEqual(config.frontends.etcd_clients!.listen, [{ host: '127.0.0.1', port: 2379 }])
    assert.equal(config.access_log, true)
  })

  it('translates TLS termination: ssl crt bundles, alpn h2, and the plain twin that redirects to https', () => {
    const text = [
      'frontend www',
      '    mode http',
      '    bind :80',
      '    bind :443 ssl crt /etc/haproxy/site.pem crt /etc/haproxy/other.pem alpn h2,http/1.1 ssl-min-ver TLSv1.2',
      '    http-request redirect scheme https code 301 unless { ssl_fc }',
      '    default_backend app',
      'backend app',
      '    server a 10.0.0.1:8080 check ssl verify required ca-file /etc/haproxy/ca.pem',
    ].join('\n')
    const result = importHaproxy(text, 'tls.cfg')
    assert.deepEqual(result.untranslated, [])
    const { www, www_plain: plain } = result.config.frontends
    assert.deepEqual(www, {
      listen: '0.0.0.0:443',
      default_backend: 'app',
      tls: { cert: '/etc/haproxy/site.pem', key: '/etc/haproxy/site.pem', certificates: [{ cert: '/etc/haproxy/other.pem', key: '/etc/haproxy/other.pem' }], http2: true, min_version: 'TLSv1.2' },
    })
    assert.deepEqual(plain, { listen: '0.0.0.0:80', default_backend: 'app', https_redirect: true })
    assert.deepEqual(result.config.backends.app!.tls, { verify: true, ca: '/etc/haproxy/ca.pem' })
    assert.deepEqual(result.config.backends.app!.health, { type: 'tls', verify: true, ca: '/etc/haproxy/ca.pem' })
    const tcpTls = importHaproxy('frontend f\n  mode tcp\n  bind :443 ssl crt /x.pem\n  default_backend b\nbackend b\n  server s 10.0.0.1:1\n', 't')
    assert.deepEqual(tcpTls.untranslated.map((u) => [u.line, u.reason]), [[3, "TLS termination on a TCP frontend is not supported yet, so frontend 'f' is left out"]])
  })

  it('durations without a unit are milliseconds; comments and continued lines are handled', () => {
    const text = 'defaults # d\n  timeout connect 1500\n  timeout server \\\n 2m\nfrontend f\n  bind 127.0.0.1:1 # x\n  default_backend b\nbackend b\n  server s "127.0.0.1:2"\n'
    assert.deepEqual(parseHaproxy(text).sections[0]!.lines.map((l) => [l.line, l.words]), [
      [2, ['timeout', 'connect', '1500']], [3, ['timeout', 'server', '2m']],
    ])
    const result = importHaproxy(text, 't')
    assert.deepEqual(result.untranslated, [])
    assert.deepEqual(result.config.backends.b!.timeouts, { connect: '1500ms', server: '2m' })
  })
})

describe('import haproxy: a balancer started from the result', () => {
  const stops: (() => Promise<void>)[] = []
  after(async () => {
    for (const stop of stops.reverse()) await stop()
  })

  it('routes by host and path, and keeps a client on its server with the cookie', async () => {
    const backends = await startBackends(['shop1', 'shop2', 'shop3', 'blog1', 'blog2', 'api1', 'api2'])
    stops.push(async () => { for (const b of backends.values()) await b.close() })
    const lb = await startBalancer(onTestPorts(convert('http-with-httpchk-and-cookie.cfg').config, backends))
    stops.push(() => lb.stop(0))
    const get = (host: string, path = '/', cookie?: string) =>
      request(`${lb.url('www')}${path}`, { headers: { host, ...(cookie ? { cookie } : {}) } })
    // Servers take traffic once their health checks pass (rise 2); until shop1 or shop2 is up, the backup answers.
    const deadline = Date.now() + 15_000
    for (const [host, path, expected] of [['shop.example.com', '/', /^shop[12]$/], ['blog.example.com', '/', /^blog/], ['x', '/api/1', /^api/]] as const) {
      while (!expected.test((await get(host, path)).body)) {
        assert.ok(Date.now() < deadline, `no healthy server for ${host}${path}`)
        await new Promise((r) => setTimeout(r, 100))
      }
    }
    const body = async (host: string, path = '/') => (await get(host, path)).body
    assert.match(await body('shop.example.com'), /^shop[12]$/)
    assert.match(await body('blog.example.com'), /^blog[12]$/)
    assert.match(await body('www.blog.example.com'), /^blog[12]$/)
    assert.match(await body('other.example.com', '/api/items'), /^api[12]$/)
    assert.match(await body('other.example.com', '/v2/items'), /^api[12]$/)
    assert.match(await body('other.example.com', '/'), /^shop[12]$/)

    const first = await get('shop.example.com')
    const cookie = String(first.headers['set-cookie']).split(';')[0]!
    assert.match(cookie, /^SERVERID=/)
    for (let i = 0; i < 10; i++) assert.equal((await get('shop.example.com', '/', cookie)).body, first.body)
  })

  it('balances TLS connections over the masters of the TCP configuration, checked with ssl-hello-chk', async () => {
    const cert = makeSelfSigned()
    stops.push(async () => cert.remove())
    const masters = await Promise.all(['master1', 'master2'].map(async (name) => {
      const server = https.createServer({ key: cert.key, cert: cert.cert }, (_req, res) => res.end(name))
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      stops.push(async () => {
        server.closeAllConnections()
        await new Promise<void>((resolve) => server.close(() => resolve()))
      })
      return [name, { address: `127.0.0.1:${(server.address() as AddressInfo).port}` }] as const
    }))
    const etcd = await startBackends(['etcd1', 'etcd2'])
    stops.push(async () => { for (const b of etcd.values()) await b.close() })
    const servers = new Map<string, { address: string }>([...masters, ...etcd])
    const lb = await startBalancer(onTestPorts(convert('tcp-with-ssl-hello-chk.cfg').config, servers))
    stops.push(() => lb.stop(0))
    const port = lb.addresses('kube_api')[0]!.port
    const ask = (): Promise<string> =>
      new Promise((resolve, reject) => {
        https.get({ host: '127.0.0.1', port, servername: 'localhost', ca: cert.cert, agent: false }, (res) => {
          let body = ''
          res.on('data', (c: Buffer) => (body += String(c)))
          res.on('end', () => resolve(body))
        }).on('error', reject)
      })
    await waitFor('both masters UP', () => (lb.state().backends.find((b) => b.name === 'masters')!.servers.every((s) => s.state === 'UP') ? true : undefined), 15_000)
    const answers = []
    for (let i = 0; i < 6; i++) answers.push(await ask())
    assert.deepEqual(answers.sort(), ['master1', 'master1', 'master1', 'master2', 'master2', 'master2'])
  })

  it('serves the listen section over TLS to its servers, keeps a client on one server, and has the stats page', async () => {
    const cert = makeSelfSigned()
    stops.push(async () => cert.remove())
    const servers = new Map<string, { address: string }>()
    for (const name of ['a1', 'a2']) {
      const server = https.createServer({ key: cert.key, cert: cert.cert }, (_req, res) => res.end(name))
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      stops.push(async () => {
        server.closeAllConnections()
        await new Promise<void>((resolve) => server.close(() => resolve()))
      })
      servers.set(name, { address: `127.0.0.1:${(server.address() as AddressInfo).port}` })
    }
    const lb = await startBalancer(onTestPorts(convert('listen-with-stats.cfg').config, servers))
    stops.push(() => lb.stop(0))
    await waitFor('both servers UP', () => (lb.state().backends[0]!.servers.every((s) => s.state === 'UP') ? true : undefined), 15_000)
    const answers = new Set<string>()
    for (let i = 0; i < 10; i++) answers.add((await request(lb.url('app'))).body)
    assert.equal(answers.size, 1, 'balance source keeps one client on one server')
    assert.match([...answers][0]!, /^a[12]$/)
    const stats = await request(`http://${lb.adminListen!.host}:${lb.adminListen!.port}/stats`)
    assert.equal(stats.status, 200)
  })

  it('splits traffic 1:9 like the weights of the canary configuration', async () => {
    const backends = await startBackends(['canary', 'stable'])
    stops.push(async () => { for (const b of backends.values()) await b.close() })
    const lb = await startBalancer(onTestPorts(convert('canary-weights.cfg').config, backends))
    stops.push(() => lb.stop(0))
    const counts: Record<string, number> = {}
    for (let i = 0; i < 1000; i++) {
      const reply = await request(lb.url('web'))
      counts[reply.body] = (counts[reply.body] ?? 0) + 1
    }
    assert.equal((counts.canary ?? 0) + (counts.stable ?? 0), 1000)
    assert.ok(Math.abs((counts.canary ?? 0) - 100) <= 30, `canary got ${counts.canary}`)
  })
})

describe('import haproxy: the command', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [CLI, 'import', ...args], { cwd: ROOT, encoding: 'utf8' })
  const unsupportedFile = join(FIXTURES, 'unsupported-lines.cfg')

  it('prints the YAML and exits 0 when everything translates', () => {
    const result = run('haproxy', join(FIXTURES, 'canary-weights.cfg'))
    assert.equal(result.status, 0, result.stderr)
    assert.doesNotThrow(() => parseConfigText(result.stdout, 'out', {}))
  })

  it('exits 1 and lists the untranslated lines on stderr without --partial, 0 with it', () => {
    const strict = run('haproxy', unsupportedFile)
    assert.equal(strict.status, 1)
    for (const line of [2, 12, 17, 28, 30]) assert.match(strict.stderr, new RegExp(`unsupported-lines\\.cfg:${line}: not translated`))
    const partial = run('haproxy', unsupportedFile, '--partial')
    assert.equal(partial.status, 0)
    assert.match(partial.stderr, /unsupported-lines\.cfg:12: not translated/)
    assert.doesNotThrow(() => parseConfigText(partial.stdout, 'out', {}))
  })

  it('prints the JSON Schema with `import schema`', () => {
    const result = run('schema')
    assert.equal(result.status, 0, result.stderr)
    assert.equal((JSON.parse(result.stdout) as { type: string }).type, 'object')
  })
})
