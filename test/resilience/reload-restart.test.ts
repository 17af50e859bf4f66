/**
 * Resilience, part 6 (issue 7): reloads and restarts of a real `switchyard run` child under load.
 * - 100 reloads (the admin API and SIGHUP, taking turns) while steady GET load runs: weights change, a server is
 *   added and removed; no request may fail, and the unchanged server keeps its health and counters.
 * - SIGTERM and restart cycles on the same port behind a client that retries refused or reset connections
 *   (test/helpers/retrying-client.ts): that client sees no failure; the figure is how many retries it needed.
 * - WebSockets across 10 reloads stay open and keep echoing; when their server is drained they are closed only
 *   after drain_timeout, each with a close frame 1001 (Going Away).
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { writeFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { dirname } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import { WebSocket, WebSocketServer, type RawData } from 'ws'
import type { ServerView, StateView } from '../../src/admin/balancer-control.js'
import { startBackend } from '../helpers/backend.js'
import { adminCall, startBalancerProcess, type BalancerProcess } from '../helpers/balancer.js'
import { cleanups } from '../helpers/cleanup.js'
import { balancerYaml } from '../helpers/config-yaml.js'
import { refusedPort } from '../helpers/raw-http.js'
import { startSampleApp } from '../helpers/sample-app.js'
import { clientLoad, type ClientLoadResult } from '../helpers/retrying-client.js'
import { waitFor, within } from '../helpers/wait.js'
import { recordCase, soak } from './summary.js'

const TOKEN = 'reload-token'
const RATE = soak(200, 400)
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

function api(lb: BalancerProcess, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  return adminCall(lb, TOKEN, method, path, body)
}

async function servers(lb: BalancerProcess): Promise<ServerView[]> {
  return ((await api(lb, 'GET', '/api/v1/state')).json as StateView).backends[0]!.servers
}

async function balancer(t: TestContext, yaml: string, env: NodeJS.ProcessEnv = {}, dir?: string): Promise<BalancerProcess> {
  const lb = await startBalancerProcess(yaml, env, { dir })
  cleanups(t)(() => lb.stop('SIGKILL'))
  return lb
}

function crashed(lb: BalancerProcess): number {
  return lb.proc.exitCode !== null || lb.proc.signalCode !== null ? 1 : 0
}

/** Runs `slice`-long load phases back to back (overlapping a little) until `done` resolves; returns them all. */
async function loadUntil<T>(done: Promise<unknown>, phase: () => Promise<T>, sliceMs: number): Promise<T[]> {
  let finished = false
  void done.finally(() => (finished = true))
  const phases: Promise<T>[] = []
  while (!finished) {
    phases.push(phase())
    await Promise.race([sleep(sliceMs), done.catch(() => undefined)])
  }
  await done
  return Promise.all(phases)
}

function sumLoads(results: ClientLoadResult[]): { sent: number; failed: number; failures: Record<string, number> } {
  const failures: Record<string, number> = {}
  for (const r of results) for (const [k, v] of Object.entries(r.failures)) failures[k] = (failures[k] ?? 0) + v
  return { sent: results.reduce((n, r) => n + r.sent, 0), failed: results.reduce((n, r) => n + r.failed, 0), failures }
}

describe('reloads and restarts under load', () => {
  it(`${soak(100, 500)} reloads (API and SIGHUP) under steady load: no failed request, the unchanged server keeps its state`, async (t) => {
    // Servers in processes of their own: the load generated here must not delay their answers to health checks.
    const [stable, b, c] = [await startSampleApp(t, { APP_VERSION: 'stable' }), await startSampleApp(t, { APP_VERSION: 'b' }), await startSampleApp(t, { APP_VERSION: 'c' })] as const
    const health = '    health: { type: http, path: /healthz, interval: 200ms, fast_interval: 100ms, rise: 1, fall: 2 }'
    // Four contents in turn: weights change, server c comes and goes.
    const serverSets: Record<string, string>[] = [
      { stable: `${stable.address}, weight: 1`, b: `${b.address}, weight: 1` },
      { stable: `${stable.address}, weight: 1`, b: `${b.address}, weight: 3`, c: c.address },
      { stable: `${stable.address}, weight: 1`, b: `${b.address}, weight: 2` },
      { stable: `${stable.address}, weight: 1`, b: `${b.address}, weight: 1`, c: `${c.address}, weight: 2` },
    ]
    const contents = serverSets.map((servers) => balancerYaml({ admin: `token: ${TOKEN}`, backend: health, servers }))
    const lb = await balancer(t, contents[0]!)
    await waitFor('servers UP', async () => ((await servers(lb)).every((s) => s.state === 'UP') ? true : undefined), 10_000, 50)
    const reloads = soak(100, 500)
    let viaSignal = 0
    let lastRequests = 0
    let countersKept = true
    const reloading = (async () => {
      for (let i = 1; i <= reloads; i++) {
        writeFileSync(lb.configFile, contents[i % contents.length]!)
        if (i % 2 === 0) {
          const r = await api(lb, 'POST', '/api/v1/reload')
          assert.equal(r.status, 200, JSON.stringify(r.json))
        } else {
          const before = lb.lines.filter((l) => l.event === 'reloaded').length
          lb.proc.kill('SIGHUP')
          await waitFor('the SIGHUP reload', () => (lb.lines.filter((l) => l.event === 'reloaded' || l.event === 'reload.failed').length > before ? true : undefined), 5000, 5)
          viaSignal++
        }
        const view = (await servers(lb)).find((s) => s.name === 'stable')!
        // The same server object: its request counter only grows (a new one would start at 0).
        if (view.requests < lastRequests) countersKept = false
        lastRequests = view.requests
        await sleep(20)
      }
    })()
    const results = await loadUntil(reloading, () => clientLoad({ url: lb.url(), rate: RATE, durationMs: 500, retry: false }), 500)
    const total = sumLoads(results)
    const stableView = (await servers(lb)).find((s) => s.name === 'stable')!
    const failedReloads = lb.lines.filter((l) => l.event === 'reload.failed').length
    recordCase({
      case: `${reloads} reloads (API + SIGHUP) under load`,
      load: `${RATE} req/s GET, ${total.sent} requests`,
      failed: total.failed,
      crashes: crashed(lb),
      note: `${viaSignal} by SIGHUP; unchanged server ${stableView.state}, ${stableView.down_transitions} down transitions`,
    })
    assert.equal(total.failed, 0, JSON.stringify({ failures: total.failures, answers: results.flatMap((r) => r.failedAnswers).slice(0, 3) }))
    assert.equal(failedReloads, 0)
    assert.equal(lb.lines.filter((l) => l.event === 'reloaded').length, reloads)
    assert.equal(stableView.state, 'UP')
    assert.equal(stableView.down_transitions, 0, 'the unchanged server never went down')
    assert.ok(countersKept, 'the unchanged server kept its counters (the same server across reloads)')
    assert.equal(crashed(lb), 0)
  })

  it(`${soak(5, 25)} SIGTERM/restart cycles behind a retrying client: the client sees no failure`, async (t) => {
    // The servers are processes of their own (the sample app): the retrying client's load in this process must
    // not slow down their answers to the health checks of each new balancer.
    const backends = [await startSampleApp(t, { APP_VERSION: 'a' }), await startSampleApp(t, { APP_VERSION: 'b' })]
    // A fixed port: the restarted balancer must listen where the clients go. Health checks are on, so each new
    // process waits for its servers' first check; requests meanwhile wait in the queue (timeouts.queue).
    const port = await refusedPort()
    const yaml = balancerYaml({
      admin: `token: ${TOKEN}`,
      top: 'state_dir: state',
      frontend: '    default_backend: app',
      backend: '    health: { type: http, path: /healthz, interval: 200ms, timeout: 1s, rise: 1, fall: 2 }\n    timeouts: { queue: 5s }',
      servers: { a: backends[0]!.address, b: backends[1]!.address },
    }).replace('    listen: 127.0.0.1:0', `    listen: 127.0.0.1:${port}`)
    const env = { SWITCHYARD_STOP_GRACE_MS: '5000' }
    let lb = await balancer(t, yaml, env)
    const dir = dirname(lb.configFile)
    const url = `http://127.0.0.1:${port}`
    const cycles = soak(5, 25)
    const exitCodes: (number | null)[] = []
    /** From SIGTERM to the next process being ready, per cycle. */
    const gaps: number[] = []
    const restarting = (async () => {
      for (let i = 0; i < cycles; i++) {
        await sleep(400)
        const stopping = Date.now()
        exitCodes.push(await lb.stop('SIGTERM'))
        lb = await balancer(t, yaml, env, dir)
        gaps.push(Date.now() - stopping)
      }
      await sleep(400)
    })()
    const results = await loadUntil(restarting, () => clientLoad({ url, rate: RATE, durationMs: 500, retry: true }), 500)
    const sum = (pick: (r: ClientLoadResult) => number) => results.reduce((n, r) => n + pick(r), 0)
    const failures: Record<string, number> = {}
    for (const r of results) for (const [k, v] of Object.entries(r.failures)) failures[k] = (failures[k] ?? 0) + v
    const crashes = exitCodes.filter((code) => code !== 0).length + crashed(lb)
    recordCase({
      case: `${cycles} SIGTERM/restart cycles, retrying client`,
      load: `${RATE} req/s GET, ${sum((r) => r.sent)} requests`,
      failed: sum((r) => r.failed),
      crashes,
      note: `${sum((r) => r.retries)} retries for ${sum((r) => r.retriedRequests)} requests; down ${Math.min(...gaps)}-${Math.max(...gaps)} ms per restart; slowest request ${Math.max(...results.map((r) => r.maxMs))} ms`,
    })
    assert.equal(sum((r) => r.failed), 0, JSON.stringify({ failures, answers: results.flatMap((r) => r.failedAnswers).slice(0, 3) }))
    assert.deepEqual(exitCodes, Array(cycles).fill(0), 'each stop was clean (exit 0)')
    assert.ok(sum((r) => r.retries) > 0, 'the restarts were felt (connections refused), and retried')
    assert.equal(crashed(lb), 0)
  })

  it(`WebSockets: open across ${soak(10, 50)} reloads; a drain closes them with 1001 only after drain_timeout`, async (t) => {
    // An echo server ("a:" + message) and a plain HTTP server for the server that comes and goes.
    const httpServer = http.createServer((_req, res) => res.end('a'))
    const wss = new WebSocketServer({ server: httpServer })
    const serverCodes: number[] = []
    wss.on('connection', (ws) => {
      ws.on('message', (data) => ws.send(`a:${String(data)}`))
      ws.on('close', (code) => serverCodes.push(code))
      ws.on('error', () => undefined)
    })
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve))
    cleanups(t)(async () => {
      for (const ws of wss.clients) ws.terminate()
      wss.close()
      httpServer.closeAllConnections()
      await new Promise<void>((resolve) => httpServer.close(() => resolve()))
    })
    const other = await startBackend('other')
    cleanups(t)(() => other.close())
    const a = `127.0.0.1:${(httpServer.address() as AddressInfo).port}`
    const drainTimeout = 1000
    const yaml = (extra: boolean, weight: number) =>
      balancerYaml({
        admin: `token: ${TOKEN}`,
        backend: `    drain_timeout: ${drainTimeout}ms`,
        servers: { a: `${a}, weight: ${weight}`, ...(extra ? { other: `${other.address}, weight: 0` } : {}) },
      })
    const lb = await balancer(t, yaml(false, 1))
    const count = soak(20, 100)
    const clients: { ws: WebSocket; closed: Promise<{ code: number; at: number }> }[] = []
    for (let i = 0; i < count; i++) {
      const ws = new WebSocket(lb.url().replace('http://', 'ws://'))
      ws.on('error', () => undefined)
      const closed = new Promise<{ code: number; at: number }>((resolve) => ws.once('close', (code) => resolve({ code, at: Date.now() })))
      await within('a WebSocket to open', once(ws, 'open'))
      clients.push({ ws, closed })
    }
    cleanups(t)(() => clients.forEach((c) => c.ws.terminate()))
    const echoAll = async (text: string): Promise<number> => {
      const replies = await Promise.all(
        clients.map((c) => {
          if (c.ws.readyState !== WebSocket.OPEN) return Promise.resolve(false)
          const reply = new Promise<boolean>((resolve) => c.ws.once('message', (data: RawData) => resolve(String(data) === `a:${text}`)))
          c.ws.send(text)
          return within(`the echo of ${text}`, reply, 5000).catch(() => false)
        }),
      )
      return replies.filter((ok) => ok).length
    }
    const reloads = soak(10, 50)
    let lostAcrossReloads = 0
    for (let i = 1; i <= reloads; i++) {
      // A server comes and goes, and a's weight changes: a keeps its identity (address), so its tunnels stay.
      writeFileSync(lb.configFile, yaml(i % 2 === 1, 1 + (i % 3)))
      const r = await api(lb, 'POST', '/api/v1/reload')
      assert.equal(r.status, 200, JSON.stringify(r.json))
      lostAcrossReloads += count - (await echoAll(`r${i}`))
    }
    // Drain a: the WebSockets stay usable until drain_timeout, then each gets 1001, the server side too.
    const drainedAt = Date.now()
    assert.equal((await api(lb, 'POST', '/api/v1/backends/app/servers/a', { admin: 'drain' })).status, 200)
    await sleep(drainTimeout / 2)
    const openMidDrain = await echoAll('mid-drain')
    const closes = await within('the closes after drain_timeout', Promise.all(clients.map((c) => c.closed)), drainTimeout + 5000)
    const early = closes.filter((c) => c.at - drainedAt < drainTimeout - 50).length
    const not1001 = closes.filter((c) => c.code !== 1001).length
    await waitFor('the server sides to close', () => (serverCodes.length === count ? true : undefined))
    const serverNot1001 = serverCodes.filter((code) => code !== 1001).length
    const firstClose = Math.min(...closes.map((c) => c.at - drainedAt))
    recordCase({
      case: `${count} WebSockets across ${reloads} reloads, then a drain`,
      load: `${count} connections, echo after each reload`,
      failed: lostAcrossReloads + (count - openMidDrain) + early + not1001 + serverNot1001,
      crashes: crashed(lb),
      note: `closed ${firstClose} ms after the drain (drain_timeout ${drainTimeout} ms), ${count - not1001}/${count} with 1001 both ways`,
    })
    assert.equal(lostAcrossReloads, 0, 'every WebSocket echoed after every reload')
    assert.equal(openMidDrain, count, 'usable during the drain')
    assert.equal(early, 0, `closed before drain_timeout: first after ${firstClose} ms`)
    assert.equal(not1001, 0, JSON.stringify(closes.map((c) => c.code)))
    assert.equal(serverNot1001, 0, JSON.stringify(serverCodes))
    assert.equal(crashed(lb), 0)
  })
})
