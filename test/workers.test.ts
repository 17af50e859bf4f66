import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import { after, describe, it } from 'node:test'
import type { LoadBalancer } from '../src/load-balancer.js'
import { startBackend, type TestBackend } from './helpers/backend.js'
import { startBalancer, startBalancerProcess } from './helpers/balancer.js'
import { request, steadyLoad } from './helpers/load.js'
import { parsePromText, sampleValue } from './helpers/prom-text.js'
import { releaseConfig, startReleaseBalancer } from './helpers/release.js'
import { startTcpEcho } from './helpers/tcp-echo.js'
import { waitFor } from './helpers/wait.js'

/** Two servers answering their name, behind `workers: 2`, health-checked over HTTP every 100 ms. */
function twoServerYaml(a: TestBackend, b: TestBackend, extra = ''): string {
  return `workers: 2
access_log: false
admin: { listen: 127.0.0.1:0, token: t }
frontends:
  web: { listen: 127.0.0.1:0, default_backend: app }
backends:
  app:
    health: { type: http, path: /, interval: 100ms, rise: 1, fall: 1, timeout: 500ms }
${extra}    servers:
      a: { address: ${a.address} }
      b: { address: ${b.address} }
`
}

/** `count` requests, each on a new connection (so that both workers get some). */
async function freshRequests(url: string, count: number): Promise<string[]> {
  const bodies: string[] = []
  for (let i = 0; i < count; i++) bodies.push((await request(url, { agent: false })).body)
  return bodies
}

function servingPids(lb: LoadBalancer): number[] {
  return (lb.state().workers ?? []).filter((w) => w.status === 'serving').map((w) => w.pid!)
}

describe('workers: 2 (node:cluster data plane, one control plane)', () => {
  const backends: TestBackend[] = []
  after(() => Promise.all(backends.map((b) => b.close())))
  const backend = async (name: string): Promise<TestBackend> => {
    const b = await startBackend(name)
    backends.push(b)
    return b
  }

  it('serves through two processes; state, stats and /metrics add up what both served', async (t) => {
    const [a, b] = [await backend('a'), await backend('b')]
    const lb = await startBalancer(twoServerYaml(a, b))
    t.after(() => lb.stop(1000))
    const pids = servingPids(lb)
    assert.equal(pids.length, 2)
    assert.ok(!pids.includes(process.pid))
    for (const pid of pids) process.kill(pid, 0) // alive
    const bodies = await freshRequests(lb.url(), 60)
    assert.equal(bodies.filter((x) => x === 'a').length, 30, 'round-robin over both servers, whichever worker')
    // Counters arrive with the workers' reports (every 250 ms).
    await waitFor('both workers reported', () => ((lb.state().workers ?? []).every((w) => w.requests > 0) ? true : undefined), 5000)
    await waitFor('60 requests counted', () => (lb.state().frontends[0]!.traffic?.requests === 60 ? true : undefined), 5000)
    const state = lb.state()
    assert.equal((state.workers ?? []).reduce((n, w) => n + w.requests, 0), 60)
    const servers = state.backends[0]!.servers
    assert.deepEqual(
      servers.map((s) => [s.name, s.requests, s.traffic?.responses['2xx']]),
      [
        ['a', 30, 30],
        ['b', 30, 30],
      ],
    )
    const admin = lb.adminListen!
    const metrics = parsePromText((await request(`http://${admin.host}:${admin.port}/metrics`)).body)
    assert.equal(sampleValue(metrics, 'switchyard_frontend_requests_total', { frontend: 'web' }), 60)
    assert.equal(sampleValue(metrics, 'switchyard_requests_total', { frontend: 'web', backend: 'app', server: 'a', code: '200' }), 30)
  })

  it('a drain answered by the admin API is in effect in every worker; ready brings the server back', async (t) => {
    const [a, b] = [await backend('a'), await backend('b')]
    const lb = await startBalancer(twoServerYaml(a, b))
    t.after(() => lb.stop(1000))
    const admin = lb.adminListen!
    const change = (body: unknown): Promise<unknown> =>
      request(`http://${admin.host}:${admin.port}/api/v1/backends/app/servers/a`, { method: 'POST', headers: { authorization: 'Bearer t', 'content-type': 'application/json' }, body: JSON.stringify(body) })
    await freshRequests(lb.url(), 4)
    await change({ admin: 'drain' })
    // Right after the answer: no new request reaches a, on any worker, on new or kept-alive connections.
    assert.deepEqual(new Set(await freshRequests(lb.url(), 40)), new Set(['b']))
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 })
    t.after(() => agent.destroy())
    const kept = await Promise.all(Array.from({ length: 40 }, () => request(lb.url(), { agent }).then((r) => r.body)))
    assert.deepEqual(new Set(kept), new Set(['b']))
    await change({ admin: 'ready' })
    assert.ok((await freshRequests(lb.url(), 10)).includes('a'))
  })

  it('a server that fails its checks leaves rotation in every worker; a refused connection is retried', async (t) => {
    const [a, b] = [await backend('a'), await backend('b')]
    const lb = await startBalancer(twoServerYaml(a, b))
    t.after(() => lb.stop(1000))
    await a.kill()
    // Until the checks notice, a request sent to a is retried on b: no client sees the failure.
    const early = await freshRequests(lb.url(), 10)
    assert.deepEqual(new Set(early), new Set(['b']))
    await waitFor('a DOWN', () => (lb.state().backends[0]!.servers[0]!.state === 'DOWN' ? true : undefined), 5000)
    const later = await freshRequests(lb.url(), 30)
    assert.deepEqual(new Set(later), new Set(['b']))
  })

  it('a reload adds a server to every worker and a frontend the workers listen on', async (t) => {
    const [a, b, c] = [await backend('a'), await backend('b'), await backend('c')]
    const lb = await startBalancer(twoServerYaml(a, b))
    t.after(() => lb.stop(1000))
    const next = twoServerYaml(a, b).replace(`      b: { address: ${b.address} }\n`, `      b: { address: ${b.address} }\n      c: { address: ${c.address} }\n`)
    writeFileSync(lb.configFile!, next.replace('frontends:\n', 'frontends:\n  api: { listen: 127.0.0.1:0, default_backend: app }\n'))
    await lb.reload()
    const seen = new Set(await freshRequests(lb.url(), 30))
    assert.deepEqual(seen, new Set(['a', 'b', 'c']))
    assert.equal(lb.addresses('api').length, 1)
    assert.ok((await freshRequests(lb.url('api'), 3)).every((x) => ['a', 'b', 'c'].includes(x)))
  })

  it('a worker killed with SIGKILL is started again while the other one serves', async (t) => {
    const [a, b] = [await backend('a'), await backend('b')]
    const lb = await startBalancer(twoServerYaml(a, b))
    t.after(() => lb.stop(1000))
    const [victim, survivor] = servingPids(lb)
    process.kill(victim!, 'SIGKILL')
    await waitFor('worker restarted', () => ((lb.state().workers ?? []).some((w) => w.restarts === 1 && w.status === 'serving') ? true : undefined), 10_000)
    const now = servingPids(lb)
    assert.equal(now.length, 2)
    assert.ok(now.includes(survivor!) && !now.includes(victim!))
    assert.equal((await freshRequests(lb.url(), 10)).length, 10)
  })

  it('a rolling release under steady load through the workers: no failed request', async (t) => {
    const { lb, url } = await startReleaseBalancer(`workers: 2\n${releaseConfig({ instances: 2, startDelayMs: 200 })}`)
    t.after(() => lb.stop(1000))
    assert.equal(servingPids(lb).length, 2)
    const load = steadyLoad({ url, rate: 200, durationMs: 6000 })
    await new Promise((r) => setTimeout(r, 500))
    const record = lb.deploy('app', 'v2')
    await lb.services.settled()
    const result = await load
    assert.equal((await lb.deployment(record.id)).status, 'succeeded')
    assert.equal(result.failed, 0, JSON.stringify(result.failures))
    assert.ok(result.ok > 1000)
    const versions = new Set((await freshRequests(url, 10)).map((body) => (JSON.parse(body) as { version: string }).version))
    assert.deepEqual(versions, new Set(['v2']))
  })

  it('a TCP frontend is served by the workers too: echo over both servers, connections counted once', async (t) => {
    const [e1, e2] = [await startTcpEcho('e1'), await startTcpEcho('e2')]
    t.after(() => Promise.all([e1.close(), e2.close()]))
    const lb = await startBalancer(
      `workers: 2\naccess_log: false\nadmin: { listen: 127.0.0.1:0 }\nfrontends:\n  db: { mode: tcp, listen: 127.0.0.1:0, default_backend: echo }\nbackends:\n  echo:\n    servers:\n      e1: { address: ${e1.address} }\n      e2: { address: ${e2.address} }\n`,
    )
    t.after(() => lb.stop(1000))
    const { host, port } = lb.addresses('db')[0]!
    const greeted: string[] = []
    for (let i = 0; i < 20; i++) {
      const echoed = await new Promise<string>((resolve, reject) => {
        const socket = net.connect(port, host, () => socket.end(`hello ${i}`))
        let got = ''
        socket.on('data', (c: Buffer) => (got += c.toString()))
        socket.on('end', () => resolve(got))
        socket.on('error', reject)
      })
      // The echo server greets with its name, then echoes.
      const [name, text] = echoed.split('\n')
      assert.equal(text, `hello ${i}`)
      greeted.push(name!)
    }
    assert.equal(e1.accepted() + e2.accepted(), 20)
    assert.equal(greeted.filter((n) => n === 'e1').length, 10)
    await waitFor('20 connections counted', () => (lb.state().frontends[0]!.traffic?.requests === 20 ? true : undefined), 5000)
    assert.ok((lb.state().workers ?? []).every((w) => w.requests > 0))
  })

  it('SIGTERM: a slow request in flight in a worker completes, then every process exits', async (t) => {
    const slow = await startBackend('slow', (_req, res) => setTimeout(() => res.end('done'), 800))
    backends.push(slow)
    const proc = await startBalancerProcess(
      `workers: 2\naccess_log: false\nadmin: { listen: 127.0.0.1:0 }\nfrontends:\n  web: { listen: 127.0.0.1:0, default_backend: app }\nbackends:\n  app:\n    servers:\n      s: { address: ${slow.address} }\n`,
    )
    t.after(() => proc.stop('SIGKILL'))
    const state = JSON.parse((await request(`http://${proc.admin}/api/v1/state`)).body) as { workers: { pid: number }[] }
    const pids = state.workers.map((w) => w.pid)
    assert.equal(pids.length, 2)
    const inFlight = request(proc.url(), { agent: false })
    await waitFor('request at the server', () => (slow.received.length === 1 ? true : undefined), 5000)
    proc.proc.kill('SIGTERM')
    const reply = await inFlight
    assert.equal(reply.status, 200)
    assert.equal(reply.body, 'done')
    assert.equal(await proc.exited, 0)
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), /ESRCH/)
  })

  it('a frontend address already in use fails the start with SY_ERR_WORKER_FAILED and leaves no worker', async () => {
    const taken = http.createServer()
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
    const port = (taken.address() as { port: number }).port
    const a = await backend('a')
    const yaml = `workers: 2\naccess_log: false\nadmin: { listen: 127.0.0.1:0 }\nfrontends:\n  web: { listen: 127.0.0.1:${port}, default_backend: app }\nbackends:\n  app:\n    servers:\n      a: { address: ${a.address} }\n`
    await assert.rejects(startBalancer(yaml), (err: Error & { code?: string }) => err.code === 'SY_ERR_WORKER_FAILED' && /EADDRINUSE/.test(err.message))
    taken.close()
  })
})
