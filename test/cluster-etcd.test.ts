/**
 * Shared runtime state in etcd (issue 10, part 1), against a real etcd started by each test on loopback with a
 * temporary data dir: two balancers with the same `cluster:` prefix share drains and weights, never lose a
 * concurrent change, keep serving while etcd is down (refusing writes) and catch up after it returns, also after
 * a compaction, and a release whose balancer dies is marked interrupted on the other one.
 */
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import { startBackend, type TestBackend } from './helpers/backend.js'
import { startBalancer, startBalancerProcess, tempDir } from './helpers/balancer.js'
import { cleanups } from './helpers/cleanup.js'
import { api, clusterYaml, serverOf, stateOf, uniquePrefix, waitConnected, type ClusterYaml } from './helpers/cluster.js'
import { startCuttableProxy } from './helpers/cuttable-proxy.js'
import { etcdBinary, startEtcd, type EtcdServer } from './helpers/etcd.js'
import { request, steadyLoad } from './helpers/load.js'
import { waitFor } from './helpers/wait.js'

const ETCD = etcdBinary()
const NOT_INSTALLED = 'etcd is not installed: these tests need a real etcd on PATH (Debian: apt-get install etcd-server)'

interface Setup {
  readonly etcd: EtcdServer
  readonly backends: TestBackend[]
  readonly prefix: string
  readonly cleanup: (f: () => unknown) => void
}

/** etcd, test servers s1..sN and a prefix; undefined (the test skipped, saying why) when etcd is not installed. */
async function setup(t: TestContext, servers = 2): Promise<Setup | undefined> {
  if (ETCD === undefined) {
    t.skip(NOT_INSTALLED)
    return undefined
  }
  const cleanup = cleanups(t)
  const etcd = await startEtcd(ETCD)
  cleanup(() => etcd.kill())
  const backends: TestBackend[] = []
  for (let i = 1; i <= servers; i++) {
    const backend = await startBackend(`s${i}`)
    cleanup(() => backend.close())
    backends.push(backend)
  }
  return { etcd, backends, prefix: uniquePrefix(), cleanup }
}

/** An in-process balancer of the cluster; stopped (lease revoked) at the end of the test. */
async function balancer(s: Setup, node: string, more: Partial<ClusterYaml> = {}) {
  const servers = Object.fromEntries(s.backends.map((b) => [b.name, b.address]))
  const lb = await startBalancer(clusterYaml({ etcd: [s.etcd.url], prefix: s.prefix, node, servers, ...more }))
  s.cleanup(() => lb.stop(500))
  const admin = `127.0.0.1:${lb.adminListen!.port}`
  await waitConnected(admin)
  return { lb, admin, url: lb.url() }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

describe('shared runtime state in etcd', () => {
  it('a drain on one balancer is in effect on the other: shown as DRAIN and sent no new request', async (t) => {
    const s = await setup(t)
    if (s === undefined) return
    const a = await balancer(s, 'a')
    const b = await balancer(s, 'b')
    const [s1, s2] = s.backends as [TestBackend, TestBackend]
    const figures: number[] = []
    for (let round = 0; round < 10; round++) {
      const [from, to] = round % 2 === 0 ? [a, b] : [b, a]
      const answer = await api(from.admin, 'POST', '/api/v1/backends/app/servers/s1', { admin: 'drain' })
      assert.equal(answer.status, 200, JSON.stringify(answer.body))
      const answeredAt = performance.now()
      await waitFor('DRAIN on the other balancer', async () => ((await serverOf(to.admin, 's1')).state === 'DRAIN' ? true : undefined), 5000, 1)
      figures.push(performance.now() - answeredAt)
      // From then on, the other balancer sends s1 nothing new.
      const before = s1.received.length
      for (let i = 0; i < 10; i++) assert.equal((await request(to.url)).status, 200)
      assert.equal(s1.received.length, before, 'no new request reached the drained server')
      assert.ok(s2.received.length >= 10)
      const ready = await api(to.admin, 'POST', '/api/v1/backends/app/servers/s1', { admin: 'ready' })
      assert.equal(ready.status, 200)
      await waitFor('ready again on both', async () => ((await serverOf(from.admin, 's1')).admin === 'ready' ? true : undefined), 5000, 1)
    }
    const worst = Math.max(...figures)
    t.diagnostic(`drain propagation (API answer on one balancer -> DRAIN in the other's /api/v1/state), ms: median ${median(figures).toFixed(1)}, max ${worst.toFixed(1)}, all ${figures.map((f) => f.toFixed(1)).join(' ')}`)
    // Measured at 2-10 ms on an idle machine; the bound has room for a loaded 2-core CI machine (see the report).
    assert.ok(worst < 500, `a drain took ${worst.toFixed(1)} ms to reach the other balancer`)
  })

  it('concurrent weight changes from both balancers are never lost, and both end up agreeing with etcd', async (t) => {
    const s = await setup(t)
    if (s === undefined) return
    // a's first endpoint refuses connections: every request (and the watch) goes on to the next one.
    const a = await balancer(s, 'a', { etcd: ['http://127.0.0.1:1', s.etcd.url] })
    assert.deepEqual((await stateOf(a.admin)).cluster!.endpoints, ['http://127.0.0.1:1', s.etcd.url])
    const b = await balancer(s, 'b')
    interface Write { readonly server: string; readonly weight: number; readonly sentAt: number; readonly ackedAt: number }
    // 50 writes each, interleaved over s1 and s2, both balancers at once; weights say who wrote them.
    const run = async (admin: string, base: number): Promise<Write[]> => {
      const writes: Write[] = []
      for (let i = 0; i < 50; i++) {
        const server = i % 2 === 0 ? 's1' : 's2'
        const weight = base + i
        const sentAt = performance.now()
        const answer = await api(admin, 'POST', `/api/v1/backends/app/servers/${server}`, { weight })
        assert.equal(answer.status, 200, JSON.stringify(answer.body))
        writes.push({ server, weight, sentAt, ackedAt: performance.now() })
      }
      return writes
    }
    const [fromA, fromB] = await Promise.all([run(a.admin, 100), run(b.admin, 200)])
    for (const server of ['s1', 's2']) {
      const lastA = fromA.filter((w) => w.server === server).at(-1)!
      const lastB = fromB.filter((w) => w.server === server).at(-1)!
      const stored = await s.etcd.call('/v3/kv/range', { key: Buffer.from(`${s.prefix}/servers/app/${server}`).toString('base64') })
      const kv = (stored.kvs as { value: string }[])[0]!
      const inEtcd = (JSON.parse(Buffer.from(kv.value, 'base64').toString()) as { weight: number }).weight
      // The last acknowledged write wins: when one balancer's last write was answered before the other's started,
      // the later one is the value; when they overlapped, either may be.
      const expected = lastA.ackedAt < lastB.sentAt ? [lastB.weight] : lastB.ackedAt < lastA.sentAt ? [lastA.weight] : [lastA.weight, lastB.weight]
      assert.ok(expected.includes(inEtcd), `${server}: etcd has ${inEtcd}, expected one of ${expected.join(', ')}`)
      for (const admin of [a.admin, b.admin]) {
        await waitFor(`${server} at ${inEtcd} on ${admin}`, async () => ((await serverOf(admin, server)).weight === inEtcd ? true : undefined), 5000)
      }
    }

    // Two fields of one server changed at once from both sides: a read-modify-write without the revision check
    // would drop one of them.
    const weights = (async () => {
      let last = 0
      for (let i = 1; i <= 50; i++) {
        assert.equal((await api(a.admin, 'POST', '/api/v1/backends/app/servers/s1', { weight: i })).status, 200)
        last = i
      }
      return last
    })()
    const admins = (async () => {
      let last = 'ready'
      for (let i = 1; i <= 50; i++) {
        last = i % 2 === 0 ? 'ready' : 'maint'
        assert.equal((await api(b.admin, 'POST', '/api/v1/backends/app/servers/s1', { admin: last })).status, 200)
      }
      return last
    })()
    const [weight, admin] = await Promise.all([weights, admins])
    for (const node of [a.admin, b.admin]) {
      await waitFor(`s1 with weight ${weight} and ${admin} on ${node}`, async () => {
        const view = await serverOf(node, 's1')
        return view.weight === weight && view.admin === admin ? true : undefined
      }, 5000)
    }
  })

  it('etcd killed and restarted: both keep serving, writes are refused meanwhile and change nothing, then they converge', async (t) => {
    const s = await setup(t)
    if (s === undefined) return
    const a = await balancer(s, 'a')
    const b = await balancer(s, 'b')
    const loads = [a, b].map((x) => steadyLoad({ url: x.url, rate: 50, durationMs: 7000 }))
    await new Promise((r) => setTimeout(r, 1000))
    await s.etcd.kill()
    await Promise.all([waitConnected(a.admin, false), waitConnected(b.admin, false)])
    const refused = await api(a.admin, 'POST', '/api/v1/backends/app/servers/s1', { admin: 'drain' })
    assert.equal(refused.status, 503, JSON.stringify(refused.body))
    assert.equal(refused.body.error.code, 'SY_ERR_CLUSTER_UNAVAILABLE')
    assert.match(refused.body.error.message, /etcd cannot be reached \(.*127\.0\.0\.1.*\)/)
    const added = await api(b.admin, 'POST', '/api/v1/backends/app/servers', { name: 'x1', address: '127.0.0.1:9' })
    assert.equal(added.status, 503)
    for (const admin of [a.admin, b.admin]) {
      assert.equal((await serverOf(admin, 's1')).admin, 'ready', 'the refused drain changed nothing')
      assert.equal((await stateOf(admin)).backends[0]!.servers.length, 2, 'the refused add changed nothing')
    }
    await new Promise((r) => setTimeout(r, 1500))
    await s.etcd.restart()
    await Promise.all([waitConnected(a.admin), waitConnected(b.admin)])
    for (const admin of [a.admin, b.admin]) assert.equal((await serverOf(admin, 's1')).admin, 'ready', 'still nothing of the refused writes')
    const drained = await api(a.admin, 'POST', '/api/v1/backends/app/servers/s2', { admin: 'drain' })
    assert.equal(drained.status, 200, JSON.stringify(drained.body))
    await waitFor('the drain after the restart reaches b', async () => ((await serverOf(b.admin, 's2')).state === 'DRAIN' ? true : undefined), 5000)
    const results = await Promise.all(loads)
    for (const [name, result] of [['a', results[0]!], ['b', results[1]!]] as const) {
      t.diagnostic(`balancer ${name} during the etcd outage: ${result.sent} requests, ${result.failed} failed`)
      assert.equal(result.failed, 0, `${name}: ${JSON.stringify(result.failures)}`)
      assert.ok(result.ok >= 300)
    }
  })

  it('a compaction while one balancer is cut off from etcd: it reads everything again and converges', async (t) => {
    const s = await setup(t, 3)
    if (s === undefined) return
    const [s1, s2, s3] = s.backends as [TestBackend, TestBackend, TestBackend]
    const twoServers = { [s1.name]: s1.address, [s2.name]: s2.address }
    const proxy = await startCuttableProxy(s.etcd.url.slice('http://'.length))
    s.cleanup(() => proxy.close())
    const a = await balancer(s, 'a', { servers: twoServers })
    const b = await balancer(s, 'b', { servers: twoServers, etcd: [`http://${proxy.address}`] })
    proxy.cut()
    await waitConnected(b.admin, false)
    assert.equal((await api(a.admin, 'POST', '/api/v1/backends/app/servers/s1', { admin: 'drain' })).status, 200)
    assert.equal((await api(a.admin, 'POST', '/api/v1/backends/app/servers/s2', { weight: 7 })).status, 200)
    assert.equal((await api(a.admin, 'POST', '/api/v1/backends/app/servers', { name: 's3', address: s3.address })).status, 201)
    const compactedAt = await s.etcd.compact()
    assert.equal((await serverOf(b.admin, 's1')).admin, 'ready', 'b saw nothing while cut off')
    proxy.restore()
    const view = await waitConnected(b.admin)
    await waitFor('b converged', async () => {
      const state = await stateOf(b.admin)
      const servers = Object.fromEntries(state.backends[0]!.servers.map((x) => [x.name, x]))
      return servers.s1?.state === 'DRAIN' && servers.s2?.weight === 7 && servers.s3 !== undefined ? true : undefined
    }, 5000)
    assert.ok((await stateOf(b.admin)).cluster!.revision >= compactedAt, `b's revision ${view.revision} is past the compaction at ${compactedAt}`)
    // And it keeps following changes from there.
    assert.equal((await api(a.admin, 'POST', '/api/v1/backends/app/servers/s1', { admin: 'ready' })).status, 200)
    await waitFor('b follows after the re-read', async () => ((await serverOf(b.admin, 's1')).admin === 'ready' ? true : undefined), 5000)
  })

  it('a release whose balancer is killed is marked interrupted on the other one, and can be rolled back from there', async (t) => {
    const s = await setup(t, 0)
    if (s === undefined) return
    const dir = tempDir()
    // The servers answer with the version their file names; the deploy command writes it (slowly).
    const versioned: TestBackend[] = []
    for (const name of ['r1', 'r2']) {
      writeFileSync(join(dir, `${name}.version`), 'v1')
      const backend = await startBackend(name, (req, res) => {
        res.end(req.url === '/healthz' ? 'ok' : readFileSync(join(dir, `${name}.version`), 'utf8').trim())
      })
      s.cleanup(() => backend.close())
      versioned.push(backend)
    }
    const release = {
      servers: Object.fromEntries(versioned.map((v) => [v.name, v.address])),
      leaseTtl: '2s',
      backend: '    health: { type: http, path: /healthz, interval: 200ms, rise: 1, fall: 2 }',
      after: [
        'services:',
        '  app:',
        '    backend: app',
        '    version: v1',
        '    provider:',
        '      type: static',
        `      deploy_command: 'sleep 1.5; echo {{version}} > ${dir}/{{server}}.version'`,
        '    strategy: { type: rolling, batch: 1, healthy_deadline: 10s, drain_timeout: 1s }',
      ].join('\n'),
    }
    const ownerProcess = await startBalancerProcess(clusterYaml({ etcd: [s.etcd.url], prefix: s.prefix, node: 'a', ...release }))
    s.cleanup(() => ownerProcess.stop('SIGKILL'))
    await waitConnected(ownerProcess.admin)
    const b = await balancer(s, 'b', release)
    await waitFor('v1 on both', async () => {
      const versions = await Promise.all([ownerProcess.admin, b.admin].map(async (x) => (await stateOf(x)).services[0]?.version))
      return versions.every((v) => v === 'v1') ? true : undefined
    }, 10_000)

    const started = await api(ownerProcess.admin, 'POST', '/api/v1/deployments', { service: 'app', version: 'v2' })
    assert.equal(started.status, 202, JSON.stringify(started.body))
    const id = started.body.id as string
    await waitFor('the release seen running from b', async () => {
      const seen = await api(b.admin, 'GET', `/api/v1/deployments/${id}`)
      return seen.status === 200 && seen.body.status === 'running' ? true : undefined
    }, 5000)
    // One balancer runs a given release: the other one refuses a second, naming the first.
    const second = await api(b.admin, 'POST', '/api/v1/deployments', { service: 'app', version: 'v3' })
    assert.equal(second.status, 409, JSON.stringify(second.body))
    assert.equal(second.body.error.code, 'SY_ERR_DEPLOYMENT_RUNNING')
    assert.match(second.body.error.message, new RegExp(`${id} on a`))
    const steered = await api(b.admin, 'POST', `/api/v1/deployments/${id}/pause`, {})
    assert.equal(steered.status, 409, JSON.stringify(steered.body))
    assert.match(steered.body.error.message, /running on balancer a/)

    ownerProcess.proc.kill('SIGKILL')
    await ownerProcess.exited
    const killedAt = performance.now()
    await waitFor('the release marked interrupted, seen from b', async () => {
      const seen = await api(b.admin, 'GET', `/api/v1/deployments/${id}`)
      return seen.body.status === 'interrupted' ? true : undefined
    }, 10_000, 20)
    const took = performance.now() - killedAt
    t.diagnostic(`owner killed -> release interrupted on the other balancer: ${took.toFixed(0)} ms (lease_ttl 2 s)`)
    assert.ok(took < 2000 + 3000, `took ${took.toFixed(0)} ms, more than lease_ttl + 3 s`)

    const back = await api(b.admin, 'POST', '/api/v1/services/app/rollback', {})
    assert.equal(back.status, 202, JSON.stringify(back.body))
    const done = await waitFor('the rollback from b done', async () => {
      const record = await api(b.admin, 'GET', `/api/v1/deployments/${back.body.id as string}`)
      return record.body.status === 'running' ? undefined : record.body
    }, 20_000)
    assert.equal(done.status, 'succeeded', JSON.stringify(done))
    const after = await stateOf(b.admin)
    assert.equal(after.services[0]!.version, 'v1')
    assert.deepEqual(after.backends[0]!.servers.map((x) => x.release), ['v1', 'v1'])
  })
})
