import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { tcplogLine } from '../src/proxy/access-log.js'
import { startBalancer, startBalancerProcess, tempDir } from './helpers/balancer.js'
import { cleanups } from './helpers/cleanup.js'
import { balancerYaml, type ServerEntry } from './helpers/config-yaml.js'
import { makeSelfSigned } from './helpers/self-signed.js'
import { connectClient, startTcpEcho, type TcpClient, type TcpEcho } from './helpers/tcp-echo.js'
import { waitFor, within } from './helpers/wait.js'

type Balancer = Awaited<ReturnType<typeof startBalancer>>
type Defer = ReturnType<typeof cleanups>

const TOKEN = 'tcp-test-token'

interface TcpYaml {
  readonly servers: readonly ServerEntry[]
  /** More lines of frontend `web` (indented by 4). */
  readonly frontend?: string
  /** Lines of backend `app` before its servers (indented by 4). */
  readonly backend?: string
  readonly after?: string
}

/** Frontend `web` in tcp mode in front of backend `app`; the admin API takes TOKEN. */
function tcpYaml(options: TcpYaml): string {
  return balancerYaml({
    admin: `token: ${TOKEN}`,
    frontend: `    mode: tcp\n    default_backend: app${options.frontend === undefined ? '' : `\n${options.frontend}`}`,
    ...(options.backend === undefined ? {} : { backend: options.backend }),
    ...(options.after === undefined ? {} : { after: options.after }),
    servers: options.servers,
  })
}

async function echoes(defer: Defer, ...names: string[]): Promise<TcpEcho[]> {
  const started: TcpEcho[] = []
  for (const name of names) {
    const echo = await startTcpEcho(name)
    defer(() => echo.kill())
    started.push(echo)
  }
  return started
}

async function balancer(defer: Defer, yaml: string): Promise<Balancer> {
  const lb = await startBalancer(yaml)
  defer(() => lb.stop(0))
  return lb
}

function port(lb: Balancer, frontend = 'web'): number {
  return lb.addresses(frontend)[0]!.port
}

/** A client through the frontend, closed when the test ends. */
async function client(defer: Defer, lb: Balancer, frontend = 'web'): Promise<TcpClient> {
  const c = await connectClient(port(lb, frontend))
  defer(() => c.socket.destroy())
  return c
}

/** Opens a connection, reads the greeting (the name of the server that took it) and closes it. */
async function greeting(lb: Balancer, localAddress?: string): Promise<string> {
  const c = await connectClient(port(lb), localAddress === undefined ? {} : { localAddress })
  try {
    return await c.line()
  } finally {
    c.socket.destroy()
  }
}

async function admin(lb: Balancer, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const a = lb.adminListen!
  const res = await fetch(`http://${a.host}:${a.port}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  return { status: res.status, body: await res.json() }
}

async function state(lb: Balancer): Promise<any> {
  return (await admin(lb, 'GET', '/api/v1/state')).body
}

function serverOf(lb: Balancer, name: string) {
  return lb.runtime.backends.get('app')!.serverNamed(name)!
}

function frontendStats(lb: Balancer) {
  return lb.frontends.get('web')!
}

describe('tcp frontends', () => {
  it('balance connections round robin over two echo servers, and each echoes', async (t) => {
    const defer = cleanups(t)
    const [a, b] = await echoes(defer, 'a', 'b')
    const lb = await balancer(defer, tcpYaml({ servers: [a!, b!] }))
    const seen: string[] = []
    for (let i = 0; i < 6; i++) {
      const c = await client(defer, lb)
      seen.push(await c.line())
      assert.equal(await c.roundTrip(`hello ${i}`), `hello ${i}`)
      c.socket.destroy()
    }
    assert.deepEqual(new Set(seen), new Set(['a', 'b']))
    for (let i = 1; i < seen.length; i++) assert.notEqual(seen[i], seen[i - 1], `connections alternate: ${seen.join(',')}`)
    assert.equal(a!.accepted() + b!.accepted(), 6)
    const view = await state(lb)
    assert.equal(view.frontends[0].mode, 'tcp')
    assert.equal(view.frontends[0].traffic.requests, 6)
  })

  it('passes a half-close on: the client ends its side and still reads the answer and the FIN', async (t) => {
    const defer = cleanups(t)
    const [a] = await echoes(defer, 'a')
    const lb = await balancer(defer, tcpYaml({ servers: [a!] }))
    const c = await client(defer, lb)
    assert.equal(await c.line(), 'a')
    // Written in pieces after our FIN would be lost if the FIN closed the whole connection.
    c.socket.end('last words\n')
    assert.equal(await c.line(), 'last words')
    await within('the FIN from the server', c.ended)
    assert.equal(await within('the close', c.closed), false, 'a clean close, not a reset')
    await waitFor('the connection gone on both sides', () => (a!.open() === 0 && frontendStats(lb).activeRequests === 0) || undefined)
    assert.equal(serverOf(lb, 'a').active, 0)
  })

  it('draining a server keeps its open connection working; new connections go to the other server', async (t) => {
    const defer = cleanups(t)
    const [a, b] = await echoes(defer, 'a', 'b')
    const lb = await balancer(defer, tcpYaml({ servers: [a!, b!] }))
    const held = await client(defer, lb)
    const first = await held.line()
    const other = first === 'a' ? 'b' : 'a'
    const drained = await admin(lb, 'POST', `/api/v1/backends/app/servers/${first}`, { admin: 'drain' })
    assert.equal(drained.status, 200, JSON.stringify(drained.body))
    const view = (await state(lb)).backends[0].servers.find((s: { name: string }) => s.name === first)
    assert.equal(view.state, 'DRAIN')
    assert.equal(view.active, 1, 'the open connection counts on its server')
    for (let i = 0; i < 4; i++) assert.equal(await greeting(lb), other)
    assert.equal(await held.roundTrip('still here'), 'still here')
    held.socket.end()
    await waitFor('the drained server idle', () => serverOf(lb, first).active === 0 || undefined)
  })

  it("a drained server's open connection gets a FIN once the backend's drain_timeout has passed", async (t) => {
    const defer = cleanups(t)
    const [a, b] = await echoes(defer, 'a', 'b')
    const lb = await balancer(defer, tcpYaml({ servers: [a!, b!], backend: '    drain_timeout: 300ms' }))
    const held = await client(defer, lb)
    const first = await held.line()
    let endedAt = 0
    void held.ended.then(() => (endedAt = Date.now()))
    const drainedAt = Date.now()
    assert.equal((await admin(lb, 'POST', `/api/v1/backends/app/servers/${first}`, { admin: 'drain' })).status, 200)
    assert.equal(await held.roundTrip('within drain_timeout'), 'within drain_timeout')
    await within('the FIN after drain_timeout', held.ended)
    assert.ok(endedAt - drainedAt >= 250, `not before drain_timeout (${endedAt - drainedAt}ms)`)
    assert.equal(await within('the close', held.closed), false, 'closed properly, not reset')
    await waitFor('the drained server idle', () => serverOf(lb, first).active === 0 || undefined)
  })

  it('a killed server: the next connection is retried on the other server, unseen by the client', async (t) => {
    const defer = cleanups(t)
    const echo = await echoes(defer, 'a', 'b')
    const lb = await balancer(defer, tcpYaml({ servers: echo, backend: '    retries: 2' }))
    const first = await greeting(lb)
    const victim = echo.find((e) => e.name !== first)!
    await victim.kill()
    // Round robin sends the next connection to the killed server first: it is refused and retried.
    for (let i = 0; i < 3; i++) {
      const c = await client(defer, lb)
      assert.equal(await c.line(), first)
      assert.equal(await c.roundTrip('ok?'), 'ok?')
      c.socket.destroy()
    }
    const view = (await state(lb)).backends[0].servers.find((s: { name: string }) => s.name === victim.name)
    assert.equal(view.health, 'down')
    assert.equal(view.traffic.connection_errors, 1, 'one refused connect, then the server is out of rotation')
    assert.equal(view.active, 0)
  })

  it('k8s-API style: HTTPS passes through to two TLS servers checked with a tls health check', async (t) => {
    const defer = cleanups(t)
    const cert = makeSelfSigned()
    defer(() => cert.remove())
    const caFile = join(tempDir(), 'ca.pem')
    writeFileSync(caFile, cert.cert)
    const health: Record<string, number> = { a: 200, b: 200 }
    const served: Record<string, number> = { a: 0, b: 0 }
    const servers: ServerEntry[] = []
    for (const name of ['a', 'b']) {
      const server = https.createServer({ key: cert.key, cert: cert.cert }, (req, res) => {
        if (req.url === '/healthz') {
          res.writeHead(health[name]!)
          return res.end()
        }
        served[name]!++
        res.end(name)
      })
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      defer(() => new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }))
      servers.push({ name, address: `127.0.0.1:${(server.address() as AddressInfo).port}` })
    }
    const check = `    health: { type: tls, path: /healthz, expect_status: 200, ca: ${caFile}, interval: 100ms, timeout: 1s, rise: 1, fall: 1 }`
    const lb = await balancer(defer, tcpYaml({ servers, backend: check }))
    await waitFor('both servers UP', () => (['a', 'b'].every((s) => lb.server('app', s).state === 'UP') || undefined))
    const get = (): Promise<string> =>
      new Promise<string>((resolve, reject) => {
        // One connection per request (agent: false): the balancer balances connections.
        const req = https.get({ host: '127.0.0.1', port: port(lb), path: '/', ca: cert.cert, agent: false }, (res) => {
          let body = ''
          res.setEncoding('utf8')
          res.on('data', (c: string) => (body += c))
          res.on('end', () => resolve(body))
        })
        req.on('error', reject)
      })
    const answers: string[] = []
    for (let i = 0; i < 4; i++) answers.push(await within('an https answer', get()))
    assert.deepEqual(new Set(answers), new Set(['a', 'b']))
    for (let i = 1; i < answers.length; i++) assert.notEqual(answers[i], answers[i - 1], `answers alternate: ${answers.join(',')}`)
    health.b = 500
    await waitFor('b DOWN', () => lb.server('app', 'b').state === 'DOWN' || undefined)
    const before = served.b
    for (let i = 0; i < 4; i++) assert.equal(await within('an https answer', get()), 'a')
    assert.equal(served.b, before, 'a DOWN server gets no new connection')
  })

  it('balance: hash keeps every connection from one client address on one server', async (t) => {
    const defer = cleanups(t)
    const echo = await echoes(defer, 'a', 'b', 'c')
    const lb = await balancer(defer, tcpYaml({ servers: echo, backend: '    balance: hash' }))
    const seen = new Set<string>()
    for (let i = 0; i < 8; i++) seen.add(await greeting(lb))
    assert.equal(seen.size, 1, `one server for 127.0.0.1: ${[...seen].join(',')}`)
    // The key is the source address: other addresses of 127.0.0.0/8 spread over the servers, each one sticking.
    const byAddress = new Map<string, string>()
    for (let i = 2; i <= 13; i++) {
      const from = `127.0.0.${i}`
      const first = await greeting(lb, from)
      for (let j = 0; j < 2; j++) assert.equal(await greeting(lb, from), first, `${from} sticks to ${first}`)
      byAddress.set(from, first)
    }
    assert.ok(new Set(byAddress.values()).size > 1, `source addresses spread: ${JSON.stringify([...byAddress])}`)
  })

  for (const version of ['v1', 'v2'] as const) {
    it(`sends a PROXY protocol ${version} header first, with the client's address and port`, async (t) => {
      const defer = cleanups(t)
      const echo = await startTcpEcho('a', { proxyProtocol: true })
      defer(() => echo.kill())
      const lb = await balancer(defer, tcpYaml({ servers: [echo], backend: `    proxy_protocol: ${version}` }))
      const c = await client(defer, lb)
      assert.equal(await c.line(), 'a')
      assert.equal(await c.roundTrip('after the header'), 'after the header')
      assert.deepEqual(echo.proxyHeaders, [
        {
          version: version === 'v1' ? 1 : 2,
          family: 'TCP4',
          source: '127.0.0.1',
          sourcePort: c.socket.localPort,
          destination: '127.0.0.1',
          destinationPort: port(lb),
        },
      ])
    })
  }

  it('upstream TLS: the balancer speaks TLS to the server for a plain client', async (t) => {
    const defer = cleanups(t)
    const cert = makeSelfSigned()
    defer(() => cert.remove())
    const caFile = join(tempDir(), 'ca.pem')
    writeFileSync(caFile, cert.cert)
    const echo = await startTcpEcho('secure', { tls: { key: cert.key, cert: cert.cert } })
    defer(() => echo.kill())
    const lb = await balancer(defer, tcpYaml({ servers: [echo], backend: `    tls: { ca: ${caFile} }` }))
    const c = await client(defer, lb)
    assert.equal(await c.line(), 'secure')
    assert.equal(await c.roundTrip('through TLS'), 'through TLS')
    c.socket.end()
    await within('the FIN back through TLS', c.ended)
  })

  it('upstream TLS with a PROXY header: the header goes before the TLS handshake', async (t) => {
    const defer = cleanups(t)
    const cert = makeSelfSigned()
    defer(() => cert.remove())
    const caFile = join(tempDir(), 'ca.pem')
    writeFileSync(caFile, cert.cert)
    const echo = await startTcpEcho('secure', { tls: { key: cert.key, cert: cert.cert }, proxyProtocol: true })
    defer(() => echo.kill())
    const backend = `    tls: { ca: ${caFile} }\n    proxy_protocol: v2`
    const lb = await balancer(defer, tcpYaml({ servers: [echo], backend }))
    const c = await client(defer, lb)
    assert.equal(await c.line(), 'secure')
    assert.equal(await c.roundTrip('proxied and secure'), 'proxied and secure')
    assert.equal(echo.proxyHeaders[0]?.sourcePort, c.socket.localPort)
  })

  it('closes a connection idle for timeouts.client; traffic keeps it open', async (t) => {
    const defer = cleanups(t)
    const [a] = await echoes(defer, 'a')
    const lb = await balancer(defer, tcpYaml({ servers: [a!], frontend: '    timeouts: { client: 600ms }' }))
    const busy = await client(defer, lb)
    const idle = await client(defer, lb)
    assert.equal(await busy.line(), 'a')
    assert.equal(await idle.line(), 'a')
    const started = Date.now()
    let idleClosedAt = 0
    void idle.closed.then(() => (idleClosedAt = Date.now()))
    // Twice the timeout with a byte every 100ms: never idle for long.
    while (Date.now() - started < 1200) {
      assert.equal(await busy.roundTrip('tick'), 'tick')
      await new Promise((r) => setTimeout(r, 100))
    }
    assert.ok(idleClosedAt > 0, 'the idle connection was closed')
    assert.ok(idleClosedAt - started >= 500, `not before the timeout (${idleClosedAt - started}ms)`)
    assert.equal(busy.socket.destroyed, false, 'the busy connection stays open')
    await waitFor('the idle server side closed', () => a!.open() === 1 || undefined)
  })

  it('counts bytes both ways on the frontend and the server (GET /api/v1/state)', async (t) => {
    const defer = cleanups(t)
    const [a] = await echoes(defer, 'a')
    const lb = await balancer(defer, tcpYaml({ servers: [a!] }))
    const payload = 'x'.repeat(100_000)
    const c = await client(defer, lb)
    assert.equal(await c.line(), 'a')
    assert.equal((await c.roundTrip(payload)).length, payload.length)
    const c2 = await client(defer, lb)
    assert.equal(await c2.line(), 'a')
    assert.equal(await c2.roundTrip('hi'), 'hi')
    const sent = payload.length + 1 + 'hi\n'.length
    const received = 2 * 'a\n'.length + sent
    const view = await state(lb)
    const fe = view.frontends[0].traffic
    const server = view.backends[0].servers[0].traffic
    assert.deepEqual({ in: fe.bytes_in, out: fe.bytes_out, requests: fe.requests }, { in: sent, out: received, requests: 2 })
    assert.deepEqual({ in: server.bytes_in, out: server.bytes_out, requests: server.requests }, { in: sent, out: received, requests: 2 })
    assert.equal(view.frontends[0].active, 2)
    assert.equal(fe.max_active, 2)
  })

  it('carries a large stream intact both ways (with backpressure on both sides)', async (t) => {
    const defer = cleanups(t)
    const [a] = await echoes(defer, 'a')
    const lb = await balancer(defer, tcpYaml({ servers: [a!] }))
    const c = await client(defer, lb)
    assert.equal(await c.line(), 'a')
    const payload = randomBytes(3 * 1024 * 1024).toString('base64')
    assert.ok((await c.roundTrip(payload)) === payload, 'the echo is the payload, byte for byte')
    assert.equal(lb.frontends.get('web')!.stats.bytesIn, payload.length + 1)
  })

  it('waits in the queue while no server is available, and is closed when the wait times out', async (t) => {
    const defer = cleanups(t)
    const [a] = await echoes(defer, 'a')
    const lb = await balancer(defer, tcpYaml({ servers: [a!], backend: '    timeouts: { queue: 3s }' }))
    const backend = lb.runtime.backends.get('app')!
    lb.changeServer('app', 'a', { admin: 'maint' })
    const waiting = await client(defer, lb)
    await waitFor('the connection queued', () => backend.queue.length === 1 || undefined)
    assert.equal(a!.accepted(), 0)
    lb.changeServer('app', 'a', { admin: 'ready' })
    assert.equal(await waiting.line(), 'a')
    assert.equal(await waiting.roundTrip('waited'), 'waited')

    const impatient = await startBalancer(tcpYaml({ servers: [a!], backend: '    timeouts: { queue: 200ms }' }))
    defer(() => impatient.stop(0))
    impatient.changeServer('app', 'a', { admin: 'maint' })
    const c = await client(defer, impatient)
    await within('the close after the queue timeout', c.closed)
    assert.equal(c.received(), '', 'nothing reached the client')
  })

  it('registers open connections on their server; goAway sends a FIN to both ends', async (t) => {
    const defer = cleanups(t)
    const [a] = await echoes(defer, 'a')
    const lb = await balancer(defer, tcpYaml({ servers: [a!] }))
    const c = await client(defer, lb)
    assert.equal(await c.line(), 'a')
    const server = serverOf(lb, 'a')
    assert.equal(server.longLivedCount, 1)
    server.goAwayNow()
    await within('the FIN to the client', c.ended)
    assert.equal(await within('the close', c.closed), false)
    await waitFor('deregistered and idle', () => (server.longLivedCount === 0 && server.active === 0 && a!.open() === 0) || undefined)
    // A connection that registers after the server was told to send its connections away (it was still
    // connecting) is sent away at once; back in rotation, new connections stay.
    const late = await client(defer, lb)
    await within('the FIN to the late client', late.ended)
    server.cancelGoAway()
    const kept = await client(defer, lb)
    assert.equal(await kept.line(), 'a')
    assert.equal(server.longLivedCount, 1)
  })

  it('a reload sends new connections to the new default backend and keeps open ones', async (t) => {
    const defer = cleanups(t)
    const [a, b] = await echoes(defer, 'a', 'b')
    const other = `  other:\n    servers:\n      b: { address: ${b!.address} }`
    const lb = await balancer(defer, tcpYaml({ servers: [a!], after: other }))
    const held = await client(defer, lb)
    assert.equal(await held.line(), 'a')
    const reloaded = tcpYaml({ servers: [a!], after: other }).replace('default_backend: app', 'default_backend: other')
    writeFileSync(lb.configFile!, reloaded)
    await lb.reload()
    assert.equal(await greeting(lb), 'b')
    assert.equal(await held.roundTrip('survived the reload'), 'survived the reload')
  })

  it('writes one access line per closed connection', async (t) => {
    const defer = cleanups(t)
    const [a] = await echoes(defer, 'a')
    const yaml = tcpYaml({ servers: [a!] }).replace('access_log: false', 'access_log: true')
    const lb = await startBalancerProcess(yaml)
    defer(() => lb.stop())
    const c = await connectClient(Number(lb.frontends.web![0]!.split(':')[1]))
    defer(() => c.socket.destroy())
    assert.equal(await c.line(), 'a')
    assert.equal(await c.roundTrip('logged'), 'logged')
    const clientPort = c.socket.localPort
    c.socket.end()
    await within('the close', c.closed)
    const line = await waitFor('the access line', () => lb.lines.find((l) => l.type === 'access'))
    assert.deepEqual(
      { ...line, time: undefined, pid: undefined, level: undefined, msg: undefined, duration_ms: undefined, connect_ms: undefined, queue_ms: undefined },
      {
        type: 'access', mode: 'tcp', frontend: 'web', backend: 'app', server: 'a', client: '127.0.0.1', client_port: clientPort,
        bytes_in: 'logged\n'.length, bytes_out: 'a\nlogged\n'.length, retries: 0, termination: 'client-closed',
        time: undefined, pid: undefined, level: undefined, msg: undefined, duration_ms: undefined, connect_ms: undefined, queue_ms: undefined,
      },
    )
    assert.equal(typeof line.duration_ms, 'number')
  })

  it('formats the httplog access line of a connection like tcplog', () => {
    const record = {
      frontend: 'db', backend: 'pg', server: 's1', client: '192.0.2.7', clientPort: 50000, bytesIn: 120, bytesOut: 4096,
      durationMs: 1523.4, queueMs: 0, connectMs: 1.6, retries: 1, termination: 'server-closed',
    }
    assert.equal(
      tcplogLine(record, new Date(Date.UTC(2026, 10, 21, 22, 40, 0, 123))),
      '192.0.2.7:50000 [21/Nov/2026:22:40:00.123] db pg/s1 0/2/1523 4096 120 1 server-closed',
    )
    assert.equal(
      tcplogLine({ ...record, server: undefined, connectMs: -1, termination: 'queue-timeout' }, new Date(0)),
      '192.0.2.7:50000 [01/Jan/1970:00:00:00.000] db pg/- 0/-1/1523 4096 120 1 queue-timeout',
    )
  })

  it('a graceful stop lets an open connection work during the grace period, then sends it a FIN; no socket is left', async (t) => {
    const defer = cleanups(t)
    const [a] = await echoes(defer, 'a')
    const sockets = (): number => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length
    const baseline = sockets()
    const lb = await startBalancer(tcpYaml({ servers: [a!] }))
    const frontendPort = port(lb)
    const c = await connectClient(frontendPort)
    defer(() => c.socket.destroy())
    assert.equal(await c.line(), 'a')
    const started = Date.now()
    const stopped = lb.stop(400)
    let endedAt = 0
    void c.ended.then(() => (endedAt = Date.now()))
    assert.equal(await newConnectionRefused(frontendPort), true, 'no new connection during the stop')
    assert.equal(await c.roundTrip('during the grace period'), 'during the grace period')
    await within('the stop', stopped)
    await within('the FIN', c.ended)
    assert.ok(endedAt - started >= 350, `the FIN came after the grace period (${endedAt - started}ms)`)
    await within('the close', c.closed)
    await waitFor('no socket left', () => (sockets() === baseline && a!.open() === 0) || undefined)
  })
})

/** True when a new connection to `port` is refused (the listener is closed). */
async function newConnectionRefused(port: number): Promise<boolean> {
  try {
    const c = await connectClient(port)
    c.socket.destroy()
    return false
  } catch {
    return true
  }
}
