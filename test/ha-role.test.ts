/**
 * The VRRP role as the balancer sees it: the role file that keepalived's notify script writes, followed with
 * fs.watch (and a poll that re-attaches), shown in /api/v1/state, /stats.json, the events stream and /metrics;
 * and the commands around it: `ha role`, `ha yield`, `ha reclaim` (keepalived is played by the test here; the
 * real one is in test/ha-keepalived.test.ts).
 */
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readFileSync, rmSync, watch, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import { writeTextAtomic } from '../src/ha/atomic-text.js'
import { readRole, type HaView } from '../src/ha/role-file.js'
import { readYield } from '../src/ha/track-file.js'
import { VrrpRoleWatcher } from '../src/ha/vrrp-role.js'
import type { Logger } from '../src/log.js'
import { PrometheusMetrics } from '../src/metrics/prometheus.js'
import type { BalancerEvent } from '../src/runtime/event-bus.js'
import { cli, startCli } from './admin-cli-runner.js'
import { startBalancer, tempDir } from './helpers/balancer.js'
import { balancerYaml } from './helpers/config-yaml.js'
import { request } from './helpers/load.js'
import { parsePromText, sampleValue } from './helpers/prom-text.js'
import { waitFor } from './helpers/wait.js'

/** A fresh folder, removed when the test ends. */
function scratch(t: TestContext): string {
  const dir = tempDir('switchyard-ha-')
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** What keepalived's notify script does: the state, one word, renamed into place. */
function notify(stateDir: string, state: string): Promise<void> {
  return writeTextAtomic(join(stateDir, 'vrrp-role'), `${state}\n`)
}

/** A logger that keeps warnings (the watcher's only other output is info lines). */
function recordingLog(): { log: Logger; warnings: string[] } {
  const warnings: string[] = []
  const log = { warn: (_obj: unknown, msg: string) => warnings.push(msg), info: () => undefined } as unknown as Logger
  return { log, warnings }
}

function startWatcher(t: TestContext, stateDir: string, pollMs: number, log?: Logger): { watcher: VrrpRoleWatcher; changes: HaView[] } {
  const changes: HaView[] = []
  const watcher = new VrrpRoleWatcher(stateDir, { pollMs, log, onChange: (v) => changes.push(v) })
  t.after(() => watcher.close())
  return { watcher, changes }
}

describe('VrrpRoleWatcher', () => {
  it('creates a missing state folder, reads unknown, then follows each notify through fs.watch', async (t) => {
    const stateDir = join(scratch(t), 'state')
    // A poll far beyond the test's patience: only fs.watch can bring the changes in time.
    const { watcher, changes } = startWatcher(t, stateDir, 600_000)
    await watcher.start()
    assert.ok(existsSync(stateDir), 'keepalived can create its track file in it')
    assert.deepEqual(watcher.view(), { role: 'unknown', since: null })
    for (const state of ['BACKUP', 'MASTER', 'FAULT'] as const) {
      const before = Date.now()
      await notify(stateDir, state)
      const view = await waitFor(`${state} seen`, () => (watcher.view().role === state ? watcher.view() : undefined), 3000, 10)
      assert.ok(view.since !== null && view.since >= before - 1000 && view.since <= Date.now() + 1000, `since ${view.since}`)
    }
    assert.deepEqual(changes.map((c) => c.role), ['BACKUP', 'MASTER', 'FAULT'])
  })

  it('reads a bad file as unknown and says why once; a missing file is unknown without a word', async (t) => {
    const stateDir = scratch(t)
    const { log, warnings } = recordingLog()
    const { watcher } = startWatcher(t, stateDir, 600_000, log)
    await watcher.start()
    await notify(stateDir, 'MASTER')
    await waitFor('MASTER', () => (watcher.view().role === 'MASTER' ? true : undefined), 3000, 10)
    writeFileSync(join(stateDir, 'vrrp-role'), 'PRIMARY\n')
    await waitFor('unknown', () => (watcher.view().role === 'unknown' ? true : undefined), 3000, 10)
    await watcher.refresh()
    assert.equal(warnings.length, 1, warnings.join('\n'))
    assert.match(warnings[0]!, /holds 'PRIMARY', not one of MASTER, BACKUP, FAULT, STOP/)
    rmSync(join(stateDir, 'vrrp-role'))
    await watcher.refresh()
    assert.deepEqual(watcher.view(), { role: 'unknown', since: null })
    assert.equal(warnings.length, 1)
  })

  it('catches up by its poll when the folder is replaced under its watch', async (t) => {
    const stateDir = scratch(t)
    const { watcher } = startWatcher(t, stateDir, 100)
    await watcher.start()
    rmSync(stateDir, { recursive: true })
    mkdirSync(stateDir)
    await notify(stateDir, 'BACKUP')
    await waitFor('BACKUP through the poll', () => (watcher.view().role === 'BACKUP' ? true : undefined), 3000, 10)
  })
})

describe('the balancer shows its VRRP role', () => {
  it('in /api/v1/state, /stats.json, the events stream and /metrics', async (t) => {
    const lb = await startBalancer(balancerYaml({ top: 'state_dir: state', servers: { s1: '127.0.0.1:9' } }))
    t.after(() => lb.stop(0))
    const admin = `http://127.0.0.1:${lb.adminListen!.port}`
    const stateDir = join(lb.configFile!, '..', 'state')
    const state = async (): Promise<{ ha?: HaView }> => JSON.parse((await request(`${admin}/api/v1/state`)).body) as { ha?: HaView }
    assert.deepEqual((await state()).ha, { role: 'unknown', since: null })
    const role = async (r: string): Promise<number | undefined> => sampleValue(parsePromText(await new PrometheusMetrics(lb).render()), 'switchyard_vrrp_role', { role: r })
    assert.equal(await role('unknown'), 1)
    assert.equal(await role('MASTER'), 0)

    const events: BalancerEvent[] = []
    t.after(lb.events.subscribe((e) => events.push(e)))
    await notify(stateDir, 'MASTER')
    const ha = await waitFor('MASTER in the state', async () => ((await state()).ha?.role === 'MASTER' ? (await state()).ha : undefined), 3000, 20)
    assert.ok(typeof ha.since === 'number')
    assert.deepEqual(JSON.parse((await request(`${admin}/stats.json`)).body).ha, ha)
    assert.deepEqual(events.filter((e) => e.type === 'ha').map((e) => e.data), [ha])
    for (const r of ['MASTER', 'BACKUP', 'FAULT', 'STOP', 'unknown']) assert.equal(await role(r), r === 'MASTER' ? 1 : 0, r)
  })

  it('on the stats page as a badge, hidden while unknown', async (t) => {
    const lb = await startBalancer(balancerYaml({ servers: { s1: '127.0.0.1:9' } }))
    t.after(() => lb.stop(0))
    const page = (await request(`http://127.0.0.1:${lb.adminListen!.port}/stats`)).body
    assert.match(page, /<span id="vrrp" class="vrrp" hidden><\/span>/)
    assert.match(page, /function renderVrrp\(ha\)/)
    assert.match(page, /renderVrrp\(doc\.ha\)/)
  })
})

describe('switchyard ha role', () => {
  it('reads the role from the balancer or the file, and --wait-for waits for it', async (t) => {
    const lb = await startBalancer(balancerYaml({ top: 'state_dir: state', servers: { s1: '127.0.0.1:9' } }))
    t.after(() => lb.stop(0))
    const admin = `http://127.0.0.1:${lb.adminListen!.port}`
    const stateDir = join(lb.configFile!, '..', 'state')
    assert.deepEqual(await cli(['ha', 'role', '--admin', admin]), { code: 0, stdout: 'unknown\n', stderr: '' })

    const waiting = startCli(['ha', 'role', '--admin', admin, '--wait-for', 'master', '--timeout', '10s', '--json'])
    await new Promise((r) => setTimeout(r, 300))
    await notify(stateDir, 'MASTER')
    const waited = await waiting.done
    assert.equal(waited.code, 0, waited.stderr)
    assert.equal(JSON.parse(waited.stdout).role, 'MASTER')

    const fromFile = await cli(['ha', 'role', '--state-dir', stateDir])
    assert.match(fromFile.stdout, /^MASTER since \d{4}-\d\d-\d\dT/)
    const timedOut = await cli(['ha', 'role', '--admin', admin, '--wait-for', 'BACKUP', '--timeout', '300ms'])
    assert.equal(timedOut.code, 1)
    assert.match(timedOut.stderr, /still MASTER after 300ms, not BACKUP/)
  })
})

/** Plays keepalived for the track file: a non-zero number puts the instance into FAULT, 0 back into BACKUP. */
function fakeKeepalived(t: TestContext, stateDir: string): void {
  const track = join(stateDir, 'vrrp-yield')
  const watcher = watch(stateDir, () => {
    void readYield(track).then((yielded) => {
      const state = yielded ? 'FAULT' : 'BACKUP'
      return readRole(join(stateDir, 'vrrp-role')).then(({ view }) => (view.role === state ? undefined : notify(stateDir, state)))
    })
  })
  t.after(() => watcher.close())
}

describe('switchyard ha yield / reclaim', () => {
  it('write the track file and wait until keepalived reports FAULT, then BACKUP', async (t) => {
    const dir = scratch(t)
    writeFileSync(join(dir, 'switchyard.yaml'), 'state_dir: st\nfrontends: {}\nbackends: {}\n')
    const stateDir = join(dir, 'st')
    mkdirSync(stateDir)
    await notify(stateDir, 'MASTER')
    fakeKeepalived(t, stateDir)
    const yielded = await cli(['ha', 'yield', '-c', join(dir, 'switchyard.yaml')])
    assert.equal(yielded.code, 0, yielded.stderr)
    assert.equal(readFileSync(join(stateDir, 'vrrp-yield'), 'utf8'), '1\n')
    assert.match(yielded.stdout, /keepalived here: FAULT since .* the VIP has left this balancer/)
    const reclaimed = await cli(['ha', 'reclaim', '--state-dir', stateDir])
    assert.equal(reclaimed.code, 0, reclaimed.stderr)
    assert.equal(readFileSync(join(stateDir, 'vrrp-yield'), 'utf8'), '0\n')
    assert.match(reclaimed.stdout, /keepalived here: BACKUP .* eligible again/)
  })

  it('yield --peer refuses while the peer is not BACKUP, else waits until the peer is MASTER', async (t) => {
    const peer = await startBalancer(balancerYaml({ top: 'state_dir: state', servers: { s1: '127.0.0.1:9' } }))
    t.after(() => peer.stop(0))
    const peerUrl = `http://127.0.0.1:${peer.adminListen!.port}`
    const peerState = join(peer.configFile!, '..', 'state')
    const stateDir = scratch(t)
    await notify(stateDir, 'MASTER')
    await notify(peerState, 'FAULT')
    await waitFor('the peer FAULT', () => (peer.vrrp.view().role === 'FAULT' ? true : undefined), 3000, 10)
    const refused = await cli(['ha', 'yield', '--state-dir', stateDir, '--peer', peerUrl])
    assert.equal(refused.code, 1)
    assert.match(refused.stderr, /the peer \(http:\/\/127\.0\.0\.1:\d+\) is FAULT, not BACKUP: yielding now would leave the VIP with no balancer; nothing was changed/)
    assert.equal(existsSync(join(stateDir, 'vrrp-yield')), false)

    await notify(peerState, 'BACKUP')
    await waitFor('the peer BACKUP', () => (peer.vrrp.view().role === 'BACKUP' ? true : undefined), 3000, 10)
    fakeKeepalived(t, stateDir)
    // The other half of VRRP: once this host is FAULT, the peer becomes MASTER.
    const following = watch(stateDir, () => {
      void readRole(join(stateDir, 'vrrp-role')).then(({ view }) => (view.role === 'FAULT' && peer.vrrp.view().role !== 'MASTER' ? notify(peerState, 'MASTER') : undefined))
    })
    t.after(() => following.close())
    const yielded = await cli(['ha', 'yield', '--state-dir', stateDir, '--peer', peerUrl])
    assert.equal(yielded.code, 0, yielded.stderr)
    assert.match(yielded.stdout, /keepalived here: FAULT since .*\nthe peer \(http:\/\/127\.0\.0\.1:\d+\): MASTER since /)
  })

  it('exit 1 with a hint when keepalived does not follow the track file', async (t) => {
    const stateDir = scratch(t)
    await notify(stateDir, 'MASTER')
    const r = await cli(['ha', 'yield', '--state-dir', stateDir, '--wait', '400ms'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /keepalived still reports MASTER after 400ms: is .*vrrp-yield the file of keepalived's track_file/)
    assert.equal(await readYield(join(stateDir, 'vrrp-yield')), true, 'the file stays written')
  })

  it('--no-wait only writes; without a role to confirm with, they say so', async (t) => {
    const stateDir = scratch(t)
    const quick = await cli(['ha', 'yield', '--state-dir', stateDir, '--no-wait'])
    assert.deepEqual([quick.code, quick.stdout], [0, `${join(stateDir, 'vrrp-yield')}: 1\n`])
    const unconfirmed = await cli(['ha', 'reclaim', '--state-dir', stateDir])
    assert.equal(unconfirmed.code, 0)
    assert.match(unconfirmed.stdout, /role of this balancer is unknown .* not confirmed/)
    assert.equal(await readYield(join(stateDir, 'vrrp-yield')), false)
    const nowhere = await cli(['ha', 'yield'])
    assert.equal(nowhere.code, 1)
    assert.match(nowhere.stderr, /--state-dir DIR or .* -c FILE/)
  })
})
