/**
 * Resilience, part 1 (issue 7): backend faults under steady GET load. Each case runs a real `switchyard run` child
 * with three servers, one of which misbehaves, and counts what the clients saw.
 *
 * The promise: no idempotent request fails where a retry is possible (connection refused or reset before any
 * response byte, empty response); otherwise the client gets a clear 502/504 whose body names the SY_ERR_* code,
 * and the bad server is ejected, after which nothing fails any more (checked by a second load phase).
 */
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import type { ServerView, StateView } from '../../src/admin/balancer-control.js'
import { startBackend, type TestBackend } from '../helpers/backend.js'
import { adminCall, startBalancerProcess, type BalancerProcess } from '../helpers/balancer.js'
import { cleanups } from '../helpers/cleanup.js'
import { balancerYaml } from '../helpers/config-yaml.js'
import { startFaultServer, type Fault } from '../helpers/fault-servers.js'
import { steadyLoad } from '../helpers/load.js'
import { clientLoad, type ClientLoadResult } from '../helpers/retrying-client.js'
import { startSampleApp } from '../helpers/sample-app.js'
import { waitFor } from '../helpers/wait.js'
import { recordCase, soak } from './summary.js'

const TOKEN = 'faults-token'
const RATE = soak(200, 400)
const PHASE1_MS = soak(2000, 15_000)
const PHASE2_MS = soak(1000, 5000)
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/**
 * The backend as a user expecting flaky servers configures it (docs/configuration.md):
 * - `balance: leastconn`: a server that stops answering keeps its requests in flight and so stops getting new
 *   ones (with round robin it would collect a third of all requests until the first of them times out);
 * - `retries: 2` on `conn-failure` and `empty-response` (the defaults, written out): a request that never reached
 *   a server, or got no response byte, is sent to another one;
 * - `timeouts.server: 1s`: a server may take up to a second to start answering (504 after that);
 * - active checks on /healthz every 500 ms, and passive checks: 3 failed requests in a row eject a server for a
 *   minute - the fault servers answer /healthz correctly, so only the passive checks can catch them.
 */
const BACKEND = [
  '    balance: leastconn',
  '    retries: 2',
  '    retry_on: [conn-failure, empty-response]',
  '    timeouts: { connect: 500ms, server: 1s, queue: 3s }',
  '    health: { type: http, path: /healthz, interval: 500ms, timeout: 300ms, rise: 1, fall: 2 }',
  '    passive: { consecutive_failures: 3, eject_for: 60s }',
].join('\n')

function faultYaml(servers: Record<string, string>): string {
  return balancerYaml({ admin: `token: ${TOKEN}`, backend: BACKEND, servers })
}

function admin(lb: BalancerProcess, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  return adminCall(lb, TOKEN, method, path, body)
}

async function serverView(lb: BalancerProcess, name: string): Promise<ServerView | undefined> {
  const state = (await admin(lb, 'GET', '/api/v1/state')).json as StateView
  return state.backends[0]!.servers.find((s) => s.name === name)
}

async function allUp(lb: BalancerProcess, count: number): Promise<void> {
  await waitFor(
    `${count} servers UP`,
    async () => {
      const state = (await admin(lb, 'GET', '/api/v1/state')).json as StateView
      const servers = state.backends[0]!.servers
      return servers.length === count && servers.every((s) => s.state === 'UP') ? true : undefined
    },
    10_000,
    50,
  )
}

/** A balancer child for this test, killed when it ends; `crashed()` says whether it died on its own before. */
async function balancer(t: TestContext, yaml: string, dir?: string): Promise<BalancerProcess & { crashed(): number }> {
  const lb = await startBalancerProcess(yaml, {}, { dir })
  cleanups(t)(() => lb.stop('SIGKILL'))
  return Object.assign(lb, { crashed: () => (lb.proc.exitCode !== null || lb.proc.signalCode !== null ? 1 : 0) })
}

async function goodBackends(t: TestContext, names: string[]): Promise<TestBackend[]> {
  const out: TestBackend[] = []
  for (const name of names) {
    const b = await startBackend(name)
    cleanups(t)(() => b.close())
    out.push(b)
  }
  return out
}

function describeFailures(r: ClientLoadResult): string {
  return JSON.stringify({ failures: r.failures, answers: r.failedAnswers.slice(0, 3) })
}

/** Failed answers that are a 502/504 whose body names `code` - the "clear error" of the promise. */
function clearErrors(r: ClientLoadResult, status: number, code: string): number {
  return r.failedAnswers.filter((a) => a.status === status && a.body.includes(code) && a.body.includes('request')).length
}

interface FaultOutcome {
  readonly phase1: ClientLoadResult
  /** Failures after the ejection, plus 1 when the server was never ejected or came back. */
  readonly phase2Failed: number
  readonly faulted: number
  readonly ejectedAfterMs: number
  readonly crashes: number
}

/**
 * Two good servers and one with `fault`: load until the faulty server is ejected (phase 1, at least PHASE1_MS),
 * then a second load phase that must not fail at all.
 */
async function runFault(t: TestContext, fault: Fault): Promise<FaultOutcome> {
  const [a, b] = await goodBackends(t, ['a', 'b'])
  const bad = await startFaultServer('bad', fault)
  cleanups(t)(() => bad.close())
  const lb = await balancer(t, faultYaml({ a: a!.address, b: b!.address, bad: bad.address }))
  await allUp(lb, 3)
  const started = Date.now()
  let ejectedAt = 0
  const watching = (async () => {
    while (ejectedAt === 0 && Date.now() - started < PHASE1_MS + 10_000) {
      if ((await serverView(lb, 'bad'))?.state === 'DOWN') ejectedAt = Date.now()
      else await sleep(50)
    }
  })()
  // Until the ejection: with leastconn the hung server takes about one request per timeouts.server, so three
  // timeouts in a row may take longer than PHASE1_MS.
  const phase1 = await clientLoad({
    url: lb.url(),
    rate: RATE,
    durationMs: PHASE1_MS,
    retry: false,
    until: () => ejectedAt > 0,
    maxDurationMs: PHASE1_MS + 10_000,
  })
  await watching
  const phase2 = await steadyLoad({ url: lb.url(), rate: RATE, durationMs: PHASE2_MS })
  const stillOut = (await serverView(lb, 'bad'))?.state === 'DOWN'
  return {
    phase1,
    phase2Failed: phase2.failed + (ejectedAt > 0 && stillOut ? 0 : 1),
    faulted: bad.faulted(),
    ejectedAfterMs: ejectedAt === 0 ? -1 : ejectedAt - started,
    crashes: lb.crashed(),
  }
}

function ejection(outcome: FaultOutcome): string {
  return outcome.ejectedAfterMs < 0 ? 'NOT EJECTED' : `ejected after ${outcome.ejectedAfterMs} ms`
}

/** The bad server was ejected, and once it was, nothing failed (checked after the row is recorded). */
function assertEjected(outcome: FaultOutcome): void {
  assert.ok(outcome.ejectedAfterMs >= 0, `the faulty server was never ejected; it met ${outcome.faulted} requests`)
  assert.equal(outcome.phase2Failed, 0, 'after the ejection nothing may fail, and the server stays out')
  assert.equal(outcome.crashes, 0)
}

function loadText(): string {
  return `${RATE} req/s GET, ${(PHASE1_MS + PHASE2_MS) / 1000} s, 3 servers`
}

describe('backend faults under steady load', () => {
  it('kill -9 of a server process: no request fails, the server is marked DOWN', async (t) => {
    // Three real processes (the sample app), each answering after 5 ms so that requests are in flight at the kill.
    const apps = []
    for (const name of ['a', 'b', 'c']) apps.push(await startSampleApp(t, { APP_VERSION: name, EXTRA_LATENCY_MS: '5' }))
    const lb = await balancer(t, faultYaml({ a: apps[0]!.address, b: apps[1]!.address, c: apps[2]!.address }))
    await allUp(lb, 3)
    const load = steadyLoad({ url: lb.url(), rate: RATE, durationMs: PHASE1_MS })
    await sleep(PHASE1_MS * 0.4)
    process.kill(apps[0]!.pid, 'SIGKILL')
    const result = await load
    const exit = await apps[0]!.exited
    assert.equal(exit.signal, 'SIGKILL')
    recordCase({
      case: 'server kill -9 (child process) under load',
      load: `${RATE} req/s GET, ${PHASE1_MS / 1000} s, 3 servers`,
      failed: result.failed,
      crashes: lb.crashed(),
      note: `${result.ok} ok; killed server ${(await serverView(lb, 'a'))?.state}`,
    })
    assert.equal(result.failed, 0, JSON.stringify(result.failures))
    assert.ok(result.ok >= result.sent, `${result.ok} of ${result.sent}`)
    assert.ok(Object.keys(result.bodies).some((body) => body.includes('"version":"a"')), 'the killed server took traffic before')
    assert.equal((await serverView(lb, 'a'))?.state, 'DOWN')
    assert.equal(lb.crashed(), 0)
  })

  it('a server that resets the connection before answering: every request is retried, none fails', async (t) => {
    const outcome = await runFault(t, { kind: 'reset-before-response' })
    const { phase1 } = outcome
    recordCase({
      case: 'server resets before any response byte',
      load: loadText(),
      failed: phase1.failed + outcome.phase2Failed,
      crashes: outcome.crashes,
      note: `${outcome.faulted} resets, ${phase1.failed === 0 ? 'all' : `${outcome.faulted - phase1.failed}`} retried; ${ejection(outcome)}`,
    })
    assert.equal(phase1.failed, 0, describeFailures(phase1))
    assert.ok(outcome.faulted >= 3, `the faulty server met ${outcome.faulted} requests`)
    assertEjected(outcome)
  })

  it('a server that accepts and never answers: 504 SY_ERR_UPSTREAM_TIMEOUT, ejected after 3', async (t) => {
    const outcome = await runFault(t, { kind: 'hang' })
    const { phase1 } = outcome
    const clear = clearErrors(phase1, 504, 'SY_ERR_UPSTREAM_TIMEOUT')
    recordCase({
      case: 'server accepts, never answers',
      load: loadText(),
      failed: phase1.failed - clear + outcome.phase2Failed,
      crashes: outcome.crashes,
      note: `${clear} x 504 SY_ERR_UPSTREAM_TIMEOUT (not retriable), then ${ejection(outcome)}`,
    })
    assert.equal(clear, phase1.failed, `only clear 504s: ${describeFailures(phase1)}`)
    // leastconn: the hung server holds its requests and gets few new ones; the 3rd timeout ejects it. (Round robin
    // would send it a third of all requests until the first timeout: RATE / 3 per second of timeouts.server.)
    assert.ok(phase1.failed >= 3 && phase1.failed <= RATE / 4, `504s: ${phase1.failed}`)
    assertEjected(outcome)
  })

  it('a server that resets mid-response: the cut response is the only signal, the server is ejected after 3', async (t) => {
    const outcome = await runFault(t, { kind: 'reset-mid-response' })
    const { phase1 } = outcome
    // Once the headers are with the client, no clean error can follow: the client must see the response cut
    // (a transport error against Content-Length), never a short body taken for a complete one.
    const cut = Object.entries(phase1.failures).filter(([key]) => !/^\d+$/.test(key)).reduce((n, [, count]) => n + count, 0)
    const truncatedAsOk = Object.keys(phase1.bodies).filter((body) => body.startsWith('x')).length
    recordCase({
      case: 'server resets mid-response',
      load: loadText(),
      failed: phase1.failed - cut + truncatedAsOk + outcome.phase2Failed,
      crashes: outcome.crashes,
      note: `${cut} responses cut after their headers (not retriable), then ${ejection(outcome)}`,
    })
    assert.equal(truncatedAsOk, 0, 'no truncated body was delivered as a complete response')
    assert.equal(cut, phase1.failed, describeFailures(phase1))
    assert.ok(cut >= 1 && cut <= 20, `cut: ${cut}`)
    assertEjected(outcome)
  })

  it('a server returning garbage instead of HTTP: 502 SY_ERR_UPSTREAM_PROTOCOL, ejected after 3', async (t) => {
    const outcome = await runFault(t, { kind: 'garbage' })
    const { phase1 } = outcome
    const clear = clearErrors(phase1, 502, 'SY_ERR_UPSTREAM_PROTOCOL')
    recordCase({
      case: 'server returns garbage, not HTTP',
      load: loadText(),
      failed: phase1.failed - clear + outcome.phase2Failed,
      crashes: outcome.crashes,
      note: `${clear} x 502 SY_ERR_UPSTREAM_PROTOCOL, then ${ejection(outcome)}`,
    })
    assert.equal(clear, phase1.failed, `only clear 502s: ${describeFailures(phase1)}`)
    assert.ok(phase1.failed >= 3 && phase1.failed <= 20, `502s: ${phase1.failed}`)
    assertEjected(outcome)
  })

  it('a very slow server (500 ms per answer, within timeouts.server): nothing fails, it gets a small share', async (t) => {
    const [a, b] = await goodBackends(t, ['a', 'b'])
    const slow = await startFaultServer('slow', { kind: 'slow', delayMs: 500 })
    cleanups(t)(() => slow.close())
    const lb = await balancer(t, faultYaml({ a: a!.address, b: b!.address, slow: slow.address }))
    await allUp(lb, 3)
    const result = await clientLoad({ url: lb.url(), rate: RATE, durationMs: PHASE1_MS, retry: false })
    const share = (result.bodies.slow ?? 0) / result.ok
    recordCase({
      case: 'very slow server (500 ms/answer)',
      load: `${RATE} req/s GET, ${PHASE1_MS / 1000} s, 3 servers`,
      failed: result.failed,
      crashes: lb.crashed(),
      note: `slow server took ${(share * 100).toFixed(1)}% (leastconn), slowest answer ${result.maxMs} ms; stays UP`,
    })
    assert.equal(result.failed, 0, describeFailures(result))
    assert.ok((result.bodies.slow ?? 0) > 0, 'the slow server still serves')
    assert.ok(share < 0.1, `share of the slow server: ${share}`)
    assert.equal((await serverView(lb, 'slow'))?.state, 'UP', 'slow is not failed')
    assert.equal(lb.crashed(), 0)
  })

  it('address changes under load, through the API (DELETE + POST) and a reload: no request fails; a reload keeps the API address', async (t) => {
    const [a, b, c, a2, b2, a3] = await goodBackends(t, ['a', 'b', 'c', 'a2', 'b2', 'a3'])
    const lb = await balancer(t, faultYaml({ a: a!.address, b: b!.address, c: c!.address }))
    await allUp(lb, 3)
    const load = steadyLoad({ url: lb.url(), rate: RATE, durationMs: soak(5000, 15_000) })
    await sleep(300)
    // "DNS-style": server a moves to a new address. The new instance runs first, the old one stops after.
    const removed = await admin(lb, 'DELETE', '/api/v1/backends/app/servers/a?timeout=5s')
    assert.equal(removed.status, 200, JSON.stringify(removed.json))
    const added = await admin(lb, 'POST', '/api/v1/backends/app/servers', { name: 'a', address: a2!.address })
    assert.equal(added.status, 201, JSON.stringify(added.json))
    await allUp(lb, 3)
    // The same through the file: b moves, and the configuration is reloaded. The file still names a's old
    // address: the file did not change for a, so the address set through the API stays (like a weight set
    // through the API, it gives way only to an edit of that server in the file).
    writeFileSync(lb.configFile, faultYaml({ a: a!.address, b: b2!.address, c: c!.address }))
    const reloaded = await admin(lb, 'POST', '/api/v1/reload')
    assert.equal(reloaded.status, 200, JSON.stringify(reloaded.json))
    await allUp(lb, 3)
    const state = (await admin(lb, 'GET', '/api/v1/state')).json as StateView
    const addresses = Object.fromEntries(state.backends[0]!.servers.map((s) => [s.name, s.address]))
    // The old instances stop once nothing points at them any more.
    await a!.kill()
    await b!.kill()
    const result = await load
    recordCase({
      case: 'server address change (API, reload) under load',
      load: `${RATE} req/s GET, ${soak(5, 15)} s, 3 servers`,
      failed: result.failed,
      crashes: lb.crashed(),
      note: `a -> ${a2!.name}, b -> ${b2!.name}; ${(result.bodies.a2 ?? 0) + (result.bodies.b2 ?? 0)} answers from the new addresses`,
    })
    assert.equal(result.failed, 0, JSON.stringify(result.failures))
    assert.deepEqual(addresses, { a: a2!.address, b: b2!.address, c: c!.address })
    assert.ok((result.bodies.a2 ?? 0) > 0 && (result.bodies.b2 ?? 0) > 0, JSON.stringify(result.bodies))
    assert.equal(lb.crashed(), 0)

    // After a restart (kill -9) the address set through the API is still the one used.
    lb.proc.kill('SIGKILL')
    await lb.exited
    const again = await balancer(t, readFileSync(lb.configFile, 'utf8'), dirname(lb.configFile))
    const addressesOf = async (): Promise<Record<string, string>> => {
      const view = (await admin(again, 'GET', '/api/v1/state')).json as StateView
      return Object.fromEntries(view.backends[0]!.servers.map((s) => [s.name, s.address]))
    }
    assert.deepEqual(await addressesOf(), { a: a2!.address, b: b2!.address, c: c!.address }, 'after a restart')
    // Editing a's entry in the file and reloading: the file wins.
    writeFileSync(again.configFile, faultYaml({ a: a3!.address, b: b2!.address, c: c!.address }))
    assert.equal((await admin(again, 'POST', '/api/v1/reload')).status, 200)
    assert.deepEqual(await addressesOf(), { a: a3!.address, b: b2!.address, c: c!.address }, 'after editing a in the file')
  })
})
