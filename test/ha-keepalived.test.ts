/**
 * A keepalived pair for real, in network namespaces this test creates: a client, two balancer hosts and an etcd
 * host on one bridge, and a VIP. Each balancer host runs the sample app, `switchyard run` (with `cluster:` on the
 * etcd) and keepalived with the configuration and scripts written by `switchyard ha keepalived`.
 *
 * 1. Failover: steady traffic to the VIP (no retries), kill -9 of the master's balancer. keepalived's check fails,
 *    the VIP moves, the client's failures all fall inside the measured window, and the new master runs the state
 *    the old one had (a server drained there before the kill stays drained).
 * 2. Planned move: the dead balancer is back; `switchyard ha yield` on the master moves the VIP to it while a
 *    client that retries connection errors sends steady traffic: not one request fails. `switchyard ha reclaim`
 *    makes the yielded host eligible again without taking the VIP back (nopreempt).
 *
 * Skips, saying why, where namespaces cannot be made (not root, no iproute2) or keepalived is missing.
 * The figures are printed (diagnostics) and are the ones quoted in docs/high-availability.md.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import { fileURLToPath } from 'node:url'
import type { StateView } from '../src/admin/balancer-control.js'
import { CLI } from './helpers/balancer.js'
import { cleanups } from './helpers/cleanup.js'
import { labUnavailable, NetLab, type LabProcess } from './helpers/netns.js'
import { NsHttp } from './helpers/ns-http.js'
import { SAMPLE_APP } from './helpers/sample-app.js'
import type { ClientReport, RequestRecord } from './helpers/vip-client.js'
import { waitFor } from './helpers/wait.js'

const VIP_CLIENT = fileURLToPath(new URL('./helpers/vip-client.js', import.meta.url))
const TOKEN = 'ha-test-token'
/** The admin listeners are on every address (see yaml()), where reads need the token too. */
const AUTH = { authorization: `Bearer ${TOKEN}` }
const PORT = 8080
const ADMIN = 'http://127.0.0.1:9900'
const HOSTS = { client: 10, etcd: 5, a: 11, b: 12, vip: 100 } as const
/** Bound on the failover window (first to last failed request) and on the VRRP transition after kill -9. */
const FAILOVER_BOUND_MS = 6000

function missing(command: string, args: readonly string[]): boolean {
  return spawnSync(command, args, { stdio: 'ignore' }).error !== undefined
}

function skipReason(): string | undefined {
  const lab = labUnavailable()
  if (lab !== undefined) return lab
  if (missing('keepalived', ['--version'])) return 'keepalived is not installed (Debian: apt-get install keepalived)'
  return undefined
}

type Balancer = 'a' | 'b'

interface Pair {
  readonly lab: NetLab
  readonly http: Record<Balancer, NsHttp>
  readonly balancers: Record<Balancer, LabProcess | undefined>
  dir(host: Balancer): string
  startBalancer(host: Balancer): Promise<LabProcess>
  role(host: Balancer): { role: string; since: number } | undefined
  state(host: Balancer): Promise<StateView>
  holdsVip(host: Balancer): boolean
}

function yaml(lab: NetLab, host: Balancer): string {
  // On every address: `ha yield --peer` on one balancer asks the other one (with the token) before it yields.
  return `admin:
  listen: 0.0.0.0:9900
  token: ${TOKEN}
cluster:
  etcd: [http://${lab.address(HOSTS.etcd)}:2379]
  prefix: /${lab.prefix}
  node: ${host}
state_dir: state
access_log: false
frontends:
  web:
    listen: 0.0.0.0:${PORT}
    default_backend: app
backends:
  app:
    health: { type: http, path: /healthz, interval: 1s, rise: 1, fall: 2 }
    servers:
      a: { address: ${lab.address(HOSTS.a)}:3000 }
      b: { address: ${lab.address(HOSTS.b)}:3000 }
`
}

async function startPair(t: TestContext): Promise<Pair> {
  const after = cleanups(t)
  const lab = await NetLab.create()
  after(() => lab.cleanup())
  for (const [host, n] of Object.entries(HOSTS)) if (host !== 'vip') lab.addHost(host, n)

  const etcdUrl = `http://${lab.address(HOSTS.etcd)}:2379`
  lab.spawn('etcd', 'etcd', [
    'etcd',
    '--name=ha',
    `--data-dir=${join(lab.dir, 'etcd')}`,
    `--listen-client-urls=${etcdUrl}`,
    `--advertise-client-urls=${etcdUrl}`,
    '--listen-peer-urls=http://127.0.0.1:2380',
    '--initial-advertise-peer-urls=http://127.0.0.1:2380',
    '--initial-cluster=ha=http://127.0.0.1:2380',
  ])
  const http = { a: new NsHttp(lab, 'a'), b: new NsHttp(lab, 'b') }
  after(() => Object.values(http).forEach((h) => h.close()))
  const dir = (host: Balancer): string => join(lab.dir, host)
  const balancers: Record<Balancer, LabProcess | undefined> = { a: undefined, b: undefined }
  const starts: Record<Balancer, number> = { a: 0, b: 0 }
  for (const host of ['a', 'b'] as const) {
    mkdirSync(dir(host))
    writeFileSync(join(dir(host), 'switchyard.yaml'), yaml(lab, host))
    lab.spawn(host, `app-${host}`, [process.execPath, SAMPLE_APP], { env: { PORT: '3000', HOST: '0.0.0.0', APP_VERSION: host } })
  }
  // etcd answers across the bridge before a balancer needs it.
  await waitFor('etcd', async () => ((await http.a.request(`${etcdUrl}/health`).catch(() => undefined))?.status === 200 ? true : undefined), 15_000, 100)

  const startBalancer = async (host: Balancer): Promise<LabProcess> => {
    const proc = lab.spawn(host, `balancer-${host}-${++starts[host]}`, [process.execPath, CLI, 'run', '-c', join(dir(host), 'switchyard.yaml')])
    balancers[host] = proc
    await waitFor(
      `balancer ${host} ready`,
      async () => {
        if (!proc.running()) throw new Error(`balancer ${host} exited: ${proc.output().slice(-2000)}`)
        return (await http[host].request(`${ADMIN}/healthz`).catch(() => undefined))?.status === 200 ? true : undefined
      },
      15_000,
      100,
    )
    return proc
  }
  await Promise.all([startBalancer('a'), startBalancer('b')])

  // The role file as `ha notify` wrote it; its mtime is the time of the transition (it is replaced atomically).
  const role = (host: Balancer): { role: string; since: number } | undefined => {
    const file = join(dir(host), 'state', 'vrrp-role')
    try {
      return { role: readFileSync(file, 'utf8').trim(), since: Math.round(statSync(file).mtimeMs) }
    } catch {
      return undefined
    }
  }
  return {
    lab,
    http,
    balancers,
    dir,
    startBalancer,
    role,
    state: (host) => http[host].json<StateView>(`${ADMIN}/api/v1/state`, { headers: AUTH }),
    holdsVip: (host) => lab.addresses(host).includes(lab.address(HOSTS.vip)),
  }
}

/** Generates host's keepalived files with the real command, then starts keepalived in host's namespace. */
async function startKeepalived(pair: Pair, host: Balancer, priority: number, routerId: number): Promise<LabProcess> {
  const { lab } = pair
  const me = lab.address(HOSTS[host])
  const peer = lab.address(HOSTS[host === 'a' ? 'b' : 'a'])
  const out = join(pair.dir(host), 'keepalived')
  // The real command, run on the "host" (its namespace), as an operator would.
  const generated = await lab.run(host, [
    process.execPath,
    CLI,
    'ha',
    'keepalived',
    ...['--vip', `${lab.address(HOSTS.vip)}/24`, '--interface', 'eth0', '--priority', String(priority)],
    ...['--peer', peer, '--source', me, '--router-id', String(routerId), '--advert-int', '1', '--auth-pass', 'sy-ha'],
    ...['-c', join(pair.dir(host), 'switchyard.yaml'), '--out', out],
  ])
  assert.equal(generated.code, 0, `switchyard ha keepalived: ${generated.stderr}`)
  const check = await lab.run('', ['keepalived', '-t', '-f', join(out, 'keepalived.conf')])
  assert.equal(check.code, 0, `keepalived -t: ${check.stderr}${check.stdout}`)
  // -P: only the VRRP part (no LVS checker); its own PID files, so that two instances on one machine do not clash.
  return lab.spawn(host, `keepalived-${host}`, [
    'keepalived',
    ...['-n', '-l', '-D', '-P', '-f', join(out, 'keepalived.conf')],
    ...['-p', join(pair.dir(host), 'keepalived.pid'), '-r', join(pair.dir(host), 'vrrp.pid')],
  ])
}

async function waitRole(pair: Pair, host: Balancer, role: string, timeoutMs = 10_000): Promise<number> {
  const r = await waitFor(`${host} to be ${role}`, () => (pair.role(host)?.role === role ? pair.role(host) : undefined), timeoutMs, 20)
  return r.since
}

/** Starts the client in the client namespace; `stop()` ends it and returns what it saw. */
function startClient(pair: Pair, name: string, retry: boolean): { stop: () => Promise<ClientReport> } {
  const out = join(pair.lab.dir, `${name}.json`)
  const url = `http://${pair.lab.address(HOSTS.vip)}:${PORT}/`
  const proc = pair.lab.spawn('client', name, [process.execPath, VIP_CLIENT, '--url', url, '--rate', '50', '--out', out, ...(retry ? ['--retry'] : [])])
  return {
    stop: async () => {
      process.kill(proc.pid, 'SIGTERM')
      const { code } = await proc.exited
      assert.equal(code, 0, `client ${name}: ${proc.output()}`)
      return JSON.parse(readFileSync(out, 'utf8')) as ClientReport
    },
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

function describeFailures(failures: readonly RequestRecord[], t0: number): string {
  const counts = new Map<string, number>()
  for (const f of failures) counts.set(f.error ?? `HTTP ${f.status}`, (counts.get(f.error ?? `HTTP ${f.status}`) ?? 0) + 1)
  const kinds = [...counts].map(([k, n]) => `${k} x${n}`).join(', ')
  return `${failures.length} failed (${kinds}); starts at +${failures.map((f) => f.start - t0).join(', +')} ms`
}

describe('a keepalived pair of balancers in network namespaces', () => {
  it('fails over on kill -9 within the window with the shared state, and moves the VIP on yield without a failed request', { timeout: 120_000 }, async (t) => {
    const reason = skipReason()
    if (reason !== undefined) {
      t.skip(reason)
      return
    }
    assert.ok(!missing('etcd', ['--version']), 'etcd is not installed (Debian: apt-get install etcd-server); the pair shares its state through it')
    const began = Date.now()
    const pair = await startPair(t)
    const { lab } = pair
    try {
      await exercise(t, pair, began)
    } catch (err) {
      // Kept for a look: every process's output (balancers, keepalived, etcd, clients) and the generated files.
      lab.keepFiles = true
      t.diagnostic(`the lab's files and logs: ${lab.dir}`)
      throw err
    }
  })
})

async function exercise(t: TestContext, pair: Pair, began: number): Promise<void> {
  const { lab } = pair
  const routerId = 1 + (lab.prefix.charCodeAt(lab.prefix.length - 1) % 254)

  // a starts first and wins (priority 150, both BACKUP with nopreempt); b joins as BACKUP.
  await startKeepalived(pair, 'a', 150, routerId)
  await waitRole(pair, 'a', 'MASTER')
  await startKeepalived(pair, 'b', 100, routerId)
  await waitRole(pair, 'b', 'BACKUP')
  assert.ok(pair.holdsVip('a') && !pair.holdsVip('b'), 'the VIP is on a only')
  await waitFor('a shows MASTER in /api/v1/state', async () => ((await pair.state('a')).ha?.role === 'MASTER' ? true : undefined), 5000, 50)

  // The state that the standby must know: app server `a` drained on the master.
  const drained = await pair.http.a.json<{ admin: string }>(`${ADMIN}/api/v1/backends/app/servers/a`, {
    method: 'POST',
    headers: { ...AUTH, 'content-type': 'application/json' },
    body: JSON.stringify({ admin: 'drain' }),
  })
  assert.equal(drained.admin, 'drain')

  // ---- 1. kill -9 of the master's balancer, under steady traffic without retries ----
  const raw = startClient(pair, 'client-failover', false)
  await sleep(1500)
  const killedAt = Date.now()
  process.kill(pair.balancers.a!.pid, 'SIGKILL')
  const masterAt = await waitRole(pair, 'b', 'MASTER', 15_000)
  await waitFor('the VIP on b', () => (pair.holdsVip('b') ? true : undefined), 5000, 20)
  assert.ok(!pair.holdsVip('a'), 'a gave the VIP up')
  assert.equal(pair.role('a')?.role, 'FAULT', "a's keepalived is FAULT: its balancer's check fails")
  await sleep(2000)
  const failover = await raw.stop()

  const after = failover.requests.filter((r) => r.start >= killedAt)
  const failures = failover.requests.filter((r) => !r.ok)
  const ok = failover.requests.filter((r) => r.ok)
  const transitionMs = masterAt - killedAt
  assert.ok(failures.length > 0, 'the kill was felt (otherwise this test measures nothing)')
  assert.ok(failures.every((f) => f.end >= killedAt), `no failure before the kill: ${describeFailures(failures, killedAt)}`)
  const firstFailure = Math.min(...failures.map((f) => f.start))
  const lastFailure = Math.max(...failures.map((f) => f.end))
  const windowMs = lastFailure - firstFailure
  assert.ok(lastFailure <= masterAt + 1000, `no failure later than 1 s after b became MASTER: ${describeFailures(failures, killedAt)}`)
  assert.ok(transitionMs < FAILOVER_BOUND_MS, `VRRP transition ${transitionMs} ms < ${FAILOVER_BOUND_MS} ms`)
  assert.ok(windowMs < FAILOVER_BOUND_MS, `failover window ${windowMs} ms < ${FAILOVER_BOUND_MS} ms`)
  assert.ok(ok.some((r) => r.start > masterAt), 'requests succeed again through b')
  const slowest = Math.max(...after.filter((r) => r.ok).map((r) => r.end - r.start))

  // The new master runs the state the old one had: `a` stays drained there, so every answer came from app b.
  const bState = await pair.state('b')
  assert.equal(bState.ha?.role, 'MASTER', "b's /api/v1/state shows MASTER")
  const serverA = bState.backends.find((x) => x.name === 'app')?.servers.find((s) => s.name === 'a')
  assert.equal(serverA?.admin, 'drain', "the drain done on a is in effect on b (shared state through etcd)")
  const fromA = ok.filter((r) => r.start > killedAt && r.who === 'a')
  assert.equal(fromA.length, 0, 'no request after the failover reached the drained server a')
  const stats = await pair.http.b.json<{ ha?: { role: string } }>(`${ADMIN}/stats.json`, { headers: AUTH })
  assert.equal(stats.ha?.role, 'MASTER', "the stats page's data carries the role for its badge")
  const metrics = await pair.http.b.request(`${ADMIN}/metrics`, { headers: AUTH })
  assert.match(metrics.body, /switchyard_vrrp_role\{role="MASTER"\} 1/)
  assert.match(metrics.body, /switchyard_vrrp_role\{role="BACKUP"\} 0/)

  // ---- 2. a is back; a planned move with `switchyard ha yield` under traffic that retries connection errors ----
  // Yielding to a peer that cannot take the VIP is refused: a's balancer is dead (its keepalived is FAULT).
  const peerA = `http://${lab.address(HOSTS.a)}:9900`
  const refused = await lab.run('b', [process.execPath, CLI, 'ha', 'yield', '-c', join(pair.dir('b'), 'switchyard.yaml'), '--peer', peerA])
  assert.equal(refused.code, 1, refused.stdout)
  assert.match(refused.stderr, /SY_ERR_ADMIN_UNREACHABLE/)
  assert.equal(readFileSync(join(pair.dir('b'), 'state', 'vrrp-yield'), 'utf8').trim(), '0', 'nothing was changed')
  assert.ok(pair.holdsVip('b'))

  await pair.startBalancer('a')
  await waitRole(pair, 'a', 'BACKUP', 15_000)
  const client = startClient(pair, 'client-yield', true)
  await sleep(1500)
  const yielded = await lab.run('b', [process.execPath, CLI, 'ha', 'yield', '-c', join(pair.dir('b'), 'switchyard.yaml'), '--peer', peerA])
  assert.equal(yielded.code, 0, `switchyard ha yield: ${yielded.stderr}`)
  assert.match(yielded.stdout, /keepalived here: FAULT/)
  assert.match(yielded.stdout, /the peer \(http:\/\/[\d.]+:9900\): MASTER since/)
  // The move starts when the track file is written (the command itself first takes a node start).
  const yieldAt = Math.round(statSync(join(pair.dir('b'), 'state', 'vrrp-yield')).mtimeMs)
  const movedAt = await waitRole(pair, 'a', 'MASTER')
  await waitFor('the VIP on a', () => (pair.holdsVip('a') ? true : undefined), 5000, 20)
  assert.ok(!pair.holdsVip('b'), 'b gave the VIP up')
  await sleep(1500)
  const reclaimed = await lab.run('b', [process.execPath, CLI, 'ha', 'reclaim', '-c', join(pair.dir('b'), 'switchyard.yaml')])
  assert.equal(reclaimed.code, 0, `switchyard ha reclaim: ${reclaimed.stderr}`)
  assert.match(reclaimed.stdout, /keepalived here: BACKUP/)
  // nopreempt: b is eligible again but does not take the VIP back.
  await sleep(1500)
  assert.ok(pair.holdsVip('a') && !pair.holdsVip('b'), 'the VIP stays on a after reclaim')
  assert.equal(pair.role('a')?.role, 'MASTER')
  const planned = await client.stop()

  const plannedFailures = planned.requests.filter((r) => !r.ok)
  assert.equal(plannedFailures.length, 0, `the planned move cost no request: ${describeFailures(plannedFailures, yieldAt)}`)
  assert.ok(planned.requests.some((r) => r.start > movedAt + 200 && r.ok), 'requests went on through a')
  const retried = planned.requests.filter((r) => r.retried.length > 0)
  const retriedErrors = [...new Set(retried.flatMap((r) => r.retried))]
  const plannedSlowest = Math.max(...planned.requests.map((r) => r.end - r.start))

  const figures = {
    failover: {
      requests: failover.requests.length,
      failed: failures.length,
      first_failure_after_kill_ms: firstFailure - killedAt,
      last_failure_after_kill_ms: lastFailure - killedAt,
      window_ms: windowMs,
      vrrp_transition_ms: transitionMs,
      slowest_success_ms: slowest,
    },
    yield: {
      requests: planned.requests.length,
      failed: plannedFailures.length,
      retried: retried.length,
      retried_errors: retriedErrors,
      move_ms: movedAt - yieldAt,
      slowest_ms: plannedSlowest,
    },
    total_s: Math.round((Date.now() - began) / 100) / 10,
  }
  t.diagnostic(`ha figures: ${JSON.stringify(figures)}`)
}
