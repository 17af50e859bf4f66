/**
 * HealthMonitor against a real HTTP peer whose /healthz can be switched between 200 and 500. Short intervals keep
 * the file fast; bounds on state changes have generous margins.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import type { Socket } from 'node:net'
import { describe, it } from 'node:test'
import type { CheckResult, CheckTarget } from '../src/health/health-check.js'
import { resolveHealthSettings } from '../src/health/health-defaults.js'
import { HealthMonitor, type HealthObserver, type TargetHealth } from '../src/health/health-monitor.js'
import { startBackend, type TestBackend } from './helpers/backend.js'
import { waitFor, within } from './helpers/wait.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const settings = resolveHealthSettings({
  type: 'http',
  path: '/healthz',
  expect_status: 200,
  interval: 100,
  fast_interval: 50,
  down_interval: 100,
  timeout: 500,
  rise: 2,
  fall: 3,
})

interface Change {
  readonly status: 'up' | 'down'
  readonly at: number
  readonly last: CheckResult
  /** The target's state as the observer saw it. */
  readonly state: TargetHealth
}

/** Records every change with the monitor's view at that moment. */
class Recorder implements HealthObserver {
  readonly changes: Change[] = []
  monitor: HealthMonitor | undefined
  healthChanged(target: CheckTarget, status: 'up' | 'down', last: CheckResult): void {
    this.changes.push({ status, at: Date.now(), last, state: this.monitor!.status(target)! })
  }
  nth(n: number): Promise<Change> {
    return waitFor(`change #${n}`, () => this.changes[n - 1], 5000, 5)
  }
}

interface Peer {
  readonly backend: TestBackend
  status: number
  /** /healthz requests received so far. */
  hits(): number
}

async function switchablePeer(status = 200): Promise<Peer> {
  const peer: { status: number } = { status }
  const backend = await startBackend('peer', (_req, res) => res.writeHead(peer.status).end())
  return Object.assign(peer, { backend, hits: () => backend.received.filter((r) => r.url === '/healthz').length })
}

async function scenario(body: (peer: Peer, monitor: HealthMonitor, recorder: Recorder, target: CheckTarget) => Promise<void>, status = 200): Promise<void> {
  const peer = await switchablePeer(status)
  const recorder = new Recorder()
  const monitor = new HealthMonitor(settings, recorder)
  recorder.monitor = monitor
  const target = { host: '127.0.0.1', port: peer.backend.port, name: 'app/s1' }
  try {
    await body(peer, monitor, recorder, target)
  } finally {
    monitor.stop()
    await peer.backend.close()
  }
}

describe('health monitor', () => {
  it('an unchecked target becomes up only after `rise` passes, never before its first check', async () => {
    await scenario(async (peer, monitor, recorder, target) => {
      monitor.add(target)
      assert.equal(monitor.status(target)!.status, 'unchecked')
      assert.equal(monitor.status(target)!.checks, 0)

      const up = await recorder.nth(1)
      assert.equal(up.status, 'up')
      // More checks than `rise` only if one failed (a check timing out on a loaded machine).
      assert.ok(up.state.checks >= settings.rise)
      assert.equal(up.state.consecutivePasses, settings.rise)
      assert.ok(peer.hits() >= settings.rise)
      assert.equal(up.last.detail, 'HTTP 200')
    })
  })

  it('a target failing from the start is never up; it is down after `fall` failures and up after `rise` passes', async () => {
    await scenario(async (peer, monitor, recorder, target) => {
      monitor.add(target)
      const down = await recorder.nth(1)
      assert.equal(down.status, 'down')
      assert.equal(down.state.checks, settings.fall)
      assert.equal(down.last.detail, 'HTTP 500 (expected 200)')

      peer.status = 200
      const up = await recorder.nth(2)
      assert.equal(up.status, 'up')
      assert.equal(up.state.consecutivePasses, settings.rise)
      assert.equal(recorder.changes.length, 2)
    }, 500)
  })

  it('an up target is down within interval x fall (+ one timeout) after /healthz turns 500, and back after `rise` passes', async () => {
    await scenario(async (peer, monitor, recorder, target) => {
      monitor.add(target)
      await recorder.nth(1)

      peer.status = 500
      const turned = Date.now()
      const down = await recorder.nth(2)
      assert.equal(down.status, 'down')
      const bound = settings.interval * 1.1 * settings.fall + settings.timeout
      assert.ok(down.at - turned <= bound + 1000, `down after ${down.at - turned}ms (bound ${bound}ms + margin)`)
      assert.equal(down.state.consecutiveFailures, settings.fall)
      assert.equal(down.state.downTransitions, 1)

      const hitsWhenDown = peer.hits()
      peer.status = 200
      const up = await recorder.nth(3)
      assert.equal(up.status, 'up')
      assert.equal(up.state.consecutivePasses, settings.rise)
      assert.ok(peer.hits() - hitsWhenDown >= settings.rise)
      assert.equal(monitor.status(target)!.failures, settings.fall)
    })
  })

  it('a paused target is not checked; resumed, it starts unchecked and needs `rise` passes again', async () => {
    await scenario(async (peer, monitor, recorder, target) => {
      monitor.add(target)
      await recorder.nth(1)

      monitor.pause(target)
      await sleep(50) // a request already on the wire may still arrive
      const hits = peer.hits()
      await sleep(settings.interval * 4)
      assert.equal(peer.hits(), hits)
      assert.deepEqual([monitor.status(target)!.status, monitor.status(target)!.paused], ['up', true])

      monitor.resume(target)
      assert.deepEqual([monitor.status(target)!.status, monitor.status(target)!.consecutivePasses], ['unchecked', 0])
      const up = await recorder.nth(2)
      assert.equal(up.status, 'up')
      assert.equal(up.state.consecutivePasses, settings.rise)
      assert.ok(peer.hits() >= hits + settings.rise)
    })
  })

  it('remove aborts a running check and forgets the target', async () => {
    const sockets = new Set<Socket>()
    const silent = await startBackend('silent', () => {})
    silent.server.on('connection', (s: Socket) => {
      sockets.add(s)
      s.on('close', () => sockets.delete(s))
    })
    const monitor = new HealthMonitor({ ...settings, timeout: 60_000 }, { healthChanged: () => {} })
    const target = { host: '127.0.0.1', port: silent.port, name: 'app/silent' }
    try {
      monitor.add(target)
      await waitFor('a check waiting on the silent peer', () => (silent.received.length > 0 ? true : undefined))
      monitor.remove(target)
      assert.equal(monitor.status(target), undefined)
      await waitFor('the check connection to close', () => (sockets.size === 0 ? true : undefined))
    } finally {
      monitor.stop()
      await silent.kill()
    }
  })

  it('stop leaves no timer and no connection behind: the process exits by itself', async () => {
    const fixture = new URL('./helpers/health-monitor-exit.js', import.meta.url).pathname
    const child = spawn(process.execPath, [fixture], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (c: Buffer) => (out += c.toString()))
    const code = await within(
      'the child to exit by itself',
      new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c))),
      10_000,
    ).finally(() => child.kill('SIGKILL'))
    assert.equal(code, 0)
    assert.equal(out.trim(), 'stopped')
  })
})
