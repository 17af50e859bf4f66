import assert from 'node:assert/strict'
import type http from 'node:http'
import { readdirSync } from 'node:fs'
import net from 'node:net'
import { after, before, describe, it } from 'node:test'
import { startBackend, type TestBackend } from '../helpers/backend.js'
import { startBalancerProcess, type BalancerProcess } from '../helpers/balancer.js'
import { balancerYaml } from '../helpers/config-yaml.js'
import { request, steadyLoad, type LoadResult } from '../helpers/load.js'
import { residentBytes, sampleResident } from '../helpers/process-memory.js'
import { hostPortOf } from '../helpers/raw-http.js'
import { waitFor, within } from '../helpers/wait.js'
import { recordCase } from './summary.js'
import {
  bytesOf,
  exchange,
  markerOf,
  PIPELINED_THEN_MALFORMED,
  VECTORS,
  type Exchange,
  type HttpVector,
  type VectorGroup,
} from './http-vectors.js'

/**
 * Hostile clients against a real `switchyard run` child process (a crash shows as an exit), with a server that
 * logs every request it gets: smuggling vectors, bad request lines and Host headers, header injection, oversized
 * requests and pipelining (the named vectors of http-vectors.ts), pipelining floods, refused upgrade and CONNECT
 * requests, slowloris and slow POST. Each vector must be refused with a 4xx and a body (and never reach the
 * server), or, when it is an acceptable request, reach the server exactly as the client meant it; normal clients
 * are served throughout; no internal error is logged; and the balancer stops cleanly at the end. One summary row
 * per group.
 */

const HTTP_REQUEST_MS = 1000
const CLIENT_MS = 1000
/** How late a timeout may fire on a loaded 2-core machine (the check runs every 250 ms, plus scheduling). */
const TIMEOUT_SLACK_MS = 2500
/** The server's delay on /slow/ targets. */
const SLOW_MS = 300
/** The balancer's grace for requests in flight when it stops (nothing is in flight when the suite stops it). */
const STOP_GRACE_MS = 3000

function config(server: string): string {
  return balancerYaml({
    frontend: `    default_backend: app
    max_header_size: 8kb
    max_body_size: 64kb
    timeouts: { http_request: ${HTTP_REQUEST_MS}ms, client: ${CLIENT_MS}ms, keep_alive: 5s }`,
    backend: `    retries: 1
    timeouts: { connect: 1s, server: 5s, queue: 2s }`,
    servers: { s1: server },
  })
}

let backend: TestBackend
let lb: BalancerProcess
/** Requests to /flood/ in progress at the server, and the most seen at once. */
let floodActive = 0
let floodMax = 0
/** The same for /hold/ (answered after HOLD_MS). */
let holdActive = 0
let holdMax = 0
const HOLD_MS = 3000

/**
 * Answers `METHOD TARGET` (so that answers can be matched to requests): /slow/ after SLOW_MS, /flood/ after 10 ms,
 * /hold/ after HOLD_MS, anything else at once.
 */
function handler(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = req.url ?? ''
  const answer = (): void => {
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.end(`${req.method} ${url}`)
  }
  if (url.startsWith('/flood/')) {
    floodActive++
    floodMax = Math.max(floodMax, floodActive)
    setTimeout(() => {
      floodActive--
      answer()
    }, 10)
  } else if (url.startsWith('/hold/')) {
    holdActive++
    holdMax = Math.max(holdMax, holdActive)
    setTimeout(() => {
      holdActive--
      answer()
    }, HOLD_MS)
  } else if (url.startsWith('/slow/')) setTimeout(answer, SLOW_MS)
  else answer()
}

/** Requests the server got that carry `marker` in their target or a header value. */
function reached(marker: string): TestBackend['received'] {
  return backend.received.filter((r) => r.url.includes(marker) || Object.values(r.headers).some((v) => String(v).includes(marker)))
}

async function alive(): Promise<boolean> {
  if (lb.proc.exitCode !== null || lb.proc.signalCode !== null) return false
  try {
    return (await request(`http://${lb.admin}/healthz`, { timeoutMs: 3000 })).status === 200
  } catch {
    return false
  }
}

function errorLines(): Record<string, unknown>[] {
  return lb.lines.filter((l) => l.level === 'error' || l.level === 'fatal')
}

/** Lets requests still on their way reach the server: one normal request through, then a short pause. */
async function settle(): Promise<void> {
  await request(`${lb.url()}/settle`, { timeoutMs: 3000 }).catch(() => undefined)
  await new Promise((r) => setTimeout(r, 200))
}

function normalLoad(durationMs: number, rate = 20): Promise<LoadResult> {
  return steadyLoad({ url: `${lb.url()}/normal`, rate, durationMs })
}

function loadNote(load: LoadResult): string {
  return `normal clients ${load.ok}/${load.sent} ok${load.failed > 0 ? ` (${JSON.stringify(load.failures)})` : ''}`
}

interface Outcome {
  readonly vector: HttpVector
  readonly exchange: Exchange
  /** Requests with the vector's marker that reached the server although they should not have. */
  readonly leaked: number
  readonly problems: string[]
}

async function run(vector: HttpVector): Promise<Exchange> {
  const responses = 'forwarded' in vector.expect ? vector.expect.forwarded.length : 1
  return exchange(lb.url(), bytesOf(vector), { responses, timeoutMs: 5000 })
}

/** Checks one vector's answer, and what the server got of it (after settle()). */
function judge(vector: HttpVector, ex: Exchange): Outcome {
  const marker = markerOf(vector)
  const problems: string[] = []
  const got = reached(marker)
  let leaked = 0
  const fill = (s: string): string => s.replaceAll('{m}', marker)
  if (ex.malformed !== undefined) problems.push(`answer is not HTTP: ${ex.malformed}`)
  if ('refused' in vector.expect) {
    const first = ex.responses[0]
    if (first === undefined) problems.push(`no answer (${ex.closed ? 'connection closed' : 'timed out'}; got ${JSON.stringify(ex.raw.slice(0, 120))})`)
    else {
      if (first.status !== vector.expect.refused) problems.push(`status ${first.status}, expected ${vector.expect.refused}: ${JSON.stringify(first.body.slice(0, 160))}`)
      if (!first.body.includes('SY_ERR_')) problems.push(`the answer has no error body: ${JSON.stringify(first.body.slice(0, 120))}`)
      if (!first.headers.some(([n, v]) => n === 'x-request-id' && v !== '')) problems.push('the answer has no X-Request-Id')
    }
    if (ex.responses.length > 1) problems.push(`${ex.responses.length} answers to one refused request`)
    if (!ex.closed) problems.push('the connection stayed open after the refusal')
    leaked = got.length
  } else {
    const wanted = vector.expect.forwarded
    if (ex.responses.length !== wanted.length) problems.push(`${ex.responses.length} answers, expected ${wanted.length}: ${JSON.stringify(ex.raw.slice(0, 200))}`)
    wanted.forEach((w, i) => {
      const answer = ex.responses[i]
      if (answer !== undefined && (answer.status !== 200 || answer.body !== `${w.method} ${fill(w.url)}`)) {
        problems.push(`answer ${i + 1} is ${answer.status} ${JSON.stringify(answer.body.slice(0, 100))}, expected the one to ${w.method} ${fill(w.url)}`)
      }
      const seen = got.filter((r) => r.method === w.method && r.url === fill(w.url))
      if (seen.length !== 1) problems.push(`${w.method} ${fill(w.url)} reached the server ${seen.length} times`)
      const one = seen[0]
      if (one === undefined) return
      if (w.body !== undefined && one.body !== fill(w.body)) problems.push(`the server got body ${JSON.stringify(one.body.slice(0, 80))}, expected ${JSON.stringify(fill(w.body).slice(0, 80))}`)
      for (const [name, value] of Object.entries(w.headers ?? {})) {
        if (one.headers[name] !== value) problems.push(`the server got ${name}: ${JSON.stringify(one.headers[name])}, expected ${JSON.stringify(value)}`)
      }
    })
    leaked = got.filter((r) => !wanted.some((w) => r.method === w.method && r.url === fill(w.url))).length
    if (got.length - leaked > wanted.length) leaked += got.length - leaked - wanted.length
  }
  if (leaked > 0) problems.push(`${leaked} request(s) reached the server that must not have: ${got.map((r) => `${r.method} ${r.url}`).join(', ')}`)
  return { vector, exchange: ex, leaked, problems }
}

function statusCounts(outcomes: readonly Outcome[]): string {
  const counts = new Map<string, number>()
  for (const o of outcomes) {
    const key = o.exchange.responses.length === 0 ? 'none' : o.exchange.responses.map((r) => r.status).join('+')
    counts.set(key, (counts.get(key) ?? 0) + 1)
  }
  return [...counts].map(([k, n]) => `${k}×${n}`).join(' ')
}

const GROUPS: readonly VectorGroup[] = ['smuggling', 'request line', 'header injection', 'oversized', 'pipelining']

describe('hostile clients', { concurrency: false }, () => {
  before(async () => {
    backend = await startBackend('s1', handler)
    lb = await startBalancerProcess(config(backend.address), { SWITCHYARD_STOP_GRACE_MS: String(STOP_GRACE_MS) })
  })

  after(async () => {
    // A connection the balancer forgot to close made a graceful stop wait forever: the stop must end, and soon.
    let code: number | null | undefined
    try {
      code = await within('the balancer to stop', lb.stop(), STOP_GRACE_MS + 5000)
    } finally {
      if (lb.proc.exitCode === null && lb.proc.signalCode === null) lb.proc.kill('SIGKILL')
      await backend.close()
    }
    assert.equal(code, 0, 'the balancer stopped cleanly after every attack')
  })

  for (const group of GROUPS) {
    it(`${group}: every vector is refused with a 4xx and a body, or passed on exactly as meant; none smuggled`, { timeout: 60_000 }, async () => {
      const vectors = VECTORS.filter((v) => v.group === group)
      const errorsBefore = errorLines().length
      const loadDone = normalLoad(2000)
      const exchanges: [HttpVector, Exchange][] = []
      for (const vector of vectors) exchanges.push([vector, await run(vector)])
      const load = await loadDone
      await settle()
      const outcomes = exchanges.map(([v, ex]) => judge(v, ex))
      const up = await alive()
      const leaked = outcomes.filter((o) => o.leaked > 0).length
      recordCase({
        case: `${group}: ${vectors.length} vectors`,
        load: `${vectors.length} raw connections + ${load.sent} normal requests`,
        failed: leaked + load.failed,
        crashes: up ? 0 : 1,
        note: `${leaked} forwarded; answers ${statusCounts(outcomes)}; ${loadNote(load)}`,
      })
      const problems = outcomes.filter((o) => o.problems.length > 0).map((o) => `${o.vector.name}: ${o.problems.join('; ')}`)
      assert.ok(up, 'the balancer is still up and ready')
      assert.deepEqual(problems, [], `vectors handled wrongly:\n  ${problems.join('\n  ')}`)
      assert.equal(load.failed, 0, `normal clients failed during the attack: ${JSON.stringify(load.failures)}`)
      assert.deepEqual(errorLines().slice(errorsBefore), [], 'no internal error was logged')
    })
  }

  it('pipelining: a malformed request behind a good one is answered after it, in order', { timeout: 30_000 }, async () => {
    const vector = PIPELINED_THEN_MALFORMED
    const ex = await exchange(lb.url(), bytesOf(vector), { responses: 2, timeoutMs: 5000 })
    await settle()
    const marker = markerOf(vector)
    const statuses = ex.responses.map((r) => r.status)
    const up = await alive()
    const got = reached(marker)
    recordCase({
      case: 'pipelining: good request, then a malformed one',
      load: '1 raw connection',
      failed: got.filter((r) => r.url !== `/slow/${marker}/1`).length,
      crashes: up ? 0 : 1,
      note: `answers ${statuses.join(', ') || 'none'}`,
    })
    assert.ok(up)
    assert.equal(ex.malformed, undefined, ex.raw)
    assert.deepEqual(statuses, [200, 400], `the good request is answered first, then the error: ${JSON.stringify(ex.raw.slice(0, 300))}`)
    assert.equal(ex.responses[0]!.body, `GET /slow/${marker}/1`)
    assert.ok(ex.closed, 'the connection is closed after the error')
    assert.deepEqual(got.map((r) => r.url), [`/slow/${marker}/1`])
  })

  it('pipelining flood: 100 requests on one connection are answered in order, one at a time at the server', { timeout: 30_000 }, async () => {
    const count = 100
    floodActive = 0
    floodMax = 0
    const receivedBefore = backend.received.length
    let text = ''
    for (let i = 0; i < count; i++) text += `GET /flood/${i} HTTP/1.1\r\nHost: h\r\n\r\n`
    const ex = await exchange(lb.url(), [text], { responses: count, timeoutMs: 20_000 })
    const bodies = ex.responses.map((r) => r.body)
    const expected = Array.from({ length: count }, (_, i) => `GET /flood/${i}`)
    const flood = backend.received.slice(receivedBefore).filter((r) => r.url.startsWith('/flood/'))
    const wrong = expected.filter((b, i) => bodies[i] !== b).length
    const up = await alive()
    recordCase({
      case: `pipelining flood: ${count} requests on 1 connection`,
      load: `${count} pipelined GETs, server 10 ms each`,
      failed: wrong + Math.max(0, flood.length - count),
      crashes: up ? 0 : 1,
      note: `${ex.responses.length} answers in order; at most ${floodMax} at the server at once`,
    })
    assert.ok(up)
    assert.equal(ex.malformed, undefined)
    assert.deepEqual(bodies, expected, 'every request answered once, in order')
    assert.equal(flood.length, count, 'each request forwarded exactly once')
    // HTTP/1.1 answers in order anyway: working on request 50 while 1 is not answered only multiplies one client's
    // connection into many server connections (here it was 100 at once).
    assert.equal(floodMax, 1, 'pipelined requests of one connection reach the server one at a time')
  })

  it('pipelining flood without end: the balancer reads ahead only a little, so memory stays bounded', { timeout: 30_000 }, async () => {
    // Each connection writes 20 000 requests (700 KB) at once to a server that holds every answer: the balancer must
    // stop reading instead of parsing and holding them all (it held 60 000 on one connection: 150 MB).
    const connections = 5
    const perConnection = 20_000
    const limit = 60 * 1024 * 1024
    holdActive = 0
    holdMax = 0
    const pid = lb.proc.pid!
    const { host, port } = hostPortOf(lb.url())
    const baseline = residentBytes(pid)
    const rss = sampleResident(pid, 50)
    const text = 'GET /hold/m-hold-m HTTP/1.1\r\nHost: h\r\n\r\n'.repeat(perConnection)
    const sockets = Array.from({ length: connections }, () => {
      const socket = net.connect({ host, port })
      socket.on('error', () => undefined)
      socket.write(text)
      return socket
    })
    await new Promise((r) => setTimeout(r, HOLD_MS - 500))
    const growth = rss.stop() - baseline
    const atOnce = holdMax
    for (const socket of sockets) socket.destroy()
    const up = await alive()
    const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MB`
    recordCase({
      case: `pipelining flood without end: ${connections} connections`,
      load: `${connections} x ${perConnection} pipelined GETs, answers held ${HOLD_MS} ms`,
      failed: Math.max(0, atOnce - connections),
      crashes: up ? 0 : 1,
      note: `RSS +${mb(growth)} (limit ${mb(limit)}); ${atOnce} at the server at once`,
    })
    assert.ok(up)
    assert.ok(atOnce <= connections, `${atOnce} requests reached the server at once from ${connections} connections`)
    assert.ok(growth < limit, `RSS grew by ${mb(growth)}`)
  })

  it('refused upgrade and CONNECT requests followed by more bytes leave no connection open', { timeout: 30_000 }, async () => {
    // These sockets are detached from Node's HTTP server (no timeout applies any more); the bytes after the head
    // kept the client's close from being seen, and each stayed open for good.
    const each = 30
    const pid = lb.proc.pid!
    const fds = (): number => readdirSync(`/proc/${pid}/fd`).length
    const baseline = fds()
    const heads = {
      upgrade: 'GET /v/m-late-upgrade-m HTTP/1.1\r\nHost: h\r\nHost: other.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
      connect: 'CONNECT other.example:443 HTTP/1.1\r\nHost: other.example:443\r\n\r\n',
    }
    const statuses: number[] = []
    for (const head of Object.values(heads)) {
      const answers = await Promise.all(
        Array.from({ length: each }, () => exchange(lb.url(), [head, 'GET /smuggled/m-late-m HTTP/1.1\r\nHost: h\r\n\r\n'], { responses: 1, settleMs: 50, gapMs: 5 })),
      )
      for (const a of answers) statuses.push(a.responses[0]?.status ?? 0)
    }
    let left = fds() - baseline
    try {
      left = await waitFor('the refused connections to close', () => (fds() - baseline <= 0 ? 0 : undefined), 2000 + TIMEOUT_SLACK_MS + 2000, 100)
    } catch {
      left = fds() - baseline
    }
    const up = await alive()
    const forwarded = reached('m-late-').length
    recordCase({
      case: 'refused upgrade/CONNECT, then more bytes',
      load: `${2 * each} raw connections`,
      failed: forwarded + Math.max(0, left),
      crashes: up ? 0 : 1,
      note: `${Math.max(0, left)} connections left open; answers ${[...new Set(statuses)].join(', ')}`,
    })
    assert.ok(up)
    assert.ok(statuses.every((s) => s === 400), `every one refused with 400: ${statuses.join(',')}`)
    assert.equal(forwarded, 0)
    assert.ok(left <= 0, `${left} connections of refused requests were still open`)
  })

  it('slowloris: connections that send their head byte by byte, or nothing, are closed after timeouts.http_request', { timeout: 60_000 }, async () => {
    const trickling = 150
    const silent = 50
    const { host, port } = hostPortOf(lb.url())
    const errorsBefore = errorLines().length
    interface Slow {
      socket: net.Socket
      opened: number
      closedAfter: number | undefined
      answer: string
      next: number
    }
    const slow: Slow[] = []
    const head = (i: number): string => `GET /slowloris/m-loris-${i}-m HTTP/1.1\r\nHost: h\r\nX-Slow: ${'a'.repeat(200)}`
    for (let i = 0; i < trickling + silent; i++) {
      const socket = net.connect({ host, port })
      const s: Slow = { socket, opened: Date.now(), closedAfter: undefined, answer: '', next: 0 }
      socket.setEncoding('latin1')
      socket.on('data', (d: string) => (s.answer += d))
      socket.on('error', () => undefined)
      socket.on('close', () => (s.closedAfter = Date.now() - s.opened))
      slow.push(s)
    }
    // One byte every 100 ms on each trickling connection: each stays busy, none ever completes its head.
    const ticker = setInterval(() => {
      for (let i = 0; i < trickling; i++) {
        const s = slow[i]!
        const text = head(i)
        if (s.closedAfter !== undefined || s.socket.destroyed || s.next >= text.length) continue
        s.socket.write(text[s.next++]!)
      }
    }, 100)
    const load = await normalLoad(HTTP_REQUEST_MS + 2000, 40)
    try {
      await waitFor('every slow connection closed', () => (slow.every((s) => s.closedAfter !== undefined) ? true : undefined), HTTP_REQUEST_MS + TIMEOUT_SLACK_MS + 2000)
    } catch {
      // reported below
    } finally {
      clearInterval(ticker)
    }
    const open = slow.filter((s) => s.closedAfter === undefined).length
    for (const s of slow) s.socket.destroy()
    await settle()
    const up = await alive()
    const latest = Math.max(...slow.map((s) => s.closedAfter ?? Infinity))
    const timedOut = slow.filter((s) => s.answer.startsWith('HTTP/1.1 408 ')).length
    const forwarded = backend.received.filter((r) => r.url.startsWith('/slowloris/')).length
    recordCase({
      case: `slowloris: ${trickling} byte-by-byte + ${silent} silent connections`,
      load: `${trickling + silent} slow connections + ${load.sent} normal requests`,
      failed: forwarded + load.failed,
      crashes: up ? 0 : 1,
      note: `${open} left open; all closed within ${Number.isFinite(latest) ? latest : '-'} ms (http_request ${HTTP_REQUEST_MS} ms), ${timedOut} got 408; ${loadNote(load)}`,
    })
    assert.ok(up)
    assert.equal(open, 0, `${open} slow connections were still open`)
    assert.ok(latest <= HTTP_REQUEST_MS + TIMEOUT_SLACK_MS, `the last slow connection closed after ${latest} ms`)
    assert.ok(slow.every((s) => s.closedAfter! >= HTTP_REQUEST_MS - 50), 'none was closed before timeouts.http_request')
    assert.equal(forwarded, 0)
    assert.equal(load.failed, 0, `normal clients failed during the attack: ${JSON.stringify(load.failures)}`)
    assert.deepEqual(errorLines().slice(errorsBefore), [])
  })

  it('slow POST: a body that stalls or trickles slower than timeouts.client is cut; a slow but steady one is not', { timeout: 60_000 }, async () => {
    const stalled = 10
    const trickling = 10
    const { host, port } = hostPortOf(lb.url())
    interface Slow {
      socket: net.Socket
      opened: number
      closedAfter: number | undefined
      answer: string
    }
    const slow: Slow[] = []
    for (let i = 0; i < stalled + trickling; i++) {
      const socket = net.connect({ host, port })
      const s: Slow = { socket, opened: Date.now(), closedAfter: undefined, answer: '' }
      socket.setEncoding('latin1')
      socket.on('data', (d: string) => (s.answer += d))
      socket.on('error', () => undefined)
      socket.on('close', () => (s.closedAfter = Date.now() - s.opened))
      socket.write(`POST /slowpost/m-post-${i}-m HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n\r\n${'b'.repeat(10)}`)
      slow.push(s)
    }
    // The trickling ones send one byte every 1.5 timeouts.client: never idle for long by their own measure, too
    // slow by the balancer's.
    const ticker = setInterval(() => {
      for (const s of slow.slice(stalled)) if (s.closedAfter === undefined && !s.socket.destroyed) s.socket.write('b')
    }, CLIENT_MS * 1.5)
    // A legitimate slow upload: 8 bytes, one every CLIENT_MS * 0.3; it must get through.
    const steady = exchange(lb.url(), ['POST /slowpost/steady HTTP/1.1\r\nHost: h\r\nContent-Length: 8\r\n\r\n', ...'12345678'], {
      responses: 1,
      gapMs: CLIENT_MS * 0.3,
      timeoutMs: 15_000,
    })
    const load = await normalLoad(CLIENT_MS + 2000, 40)
    try {
      await waitFor('every slow POST closed', () => (slow.every((s) => s.closedAfter !== undefined) ? true : undefined), CLIENT_MS + TIMEOUT_SLACK_MS + 2000)
    } catch {
      // reported below
    } finally {
      clearInterval(ticker)
    }
    const open = slow.filter((s) => s.closedAfter === undefined).length
    for (const s of slow) s.socket.destroy()
    const steadyAnswer = await steady
    await settle()
    const up = await alive()
    const latest = Math.max(...slow.map((s) => s.closedAfter ?? Infinity))
    const forwarded = backend.received.filter((r) => r.url.startsWith('/slowpost/m-post-')).length
    recordCase({
      case: `slow POST: ${stalled} stalled + ${trickling} trickling bodies`,
      load: `${stalled + trickling} slow uploads + 1 steady slow upload + ${load.sent} normal requests`,
      failed: forwarded + load.failed + (steadyAnswer.responses[0]?.status === 200 ? 0 : 1),
      crashes: up ? 0 : 1,
      note: `${open} left open; all closed within ${Number.isFinite(latest) ? latest : '-'} ms (client ${CLIENT_MS} ms); steady upload ${steadyAnswer.responses[0]?.status ?? 'unanswered'}; ${loadNote(load)}`,
    })
    assert.ok(up)
    assert.equal(open, 0, `${open} slow uploads were still open`)
    assert.ok(latest <= 1.5 * CLIENT_MS + CLIENT_MS + TIMEOUT_SLACK_MS, `the last slow upload closed after ${latest} ms`)
    assert.equal(forwarded, 0, 'an unfinished body is never forwarded as a request')
    assert.equal(steadyAnswer.responses[0]?.status, 200, `the steady slow upload got through: ${steadyAnswer.raw.slice(0, 200)}`)
    assert.equal(steadyAnswer.responses[0]?.body, 'POST /slowpost/steady')
    assert.equal(load.failed, 0, `normal clients failed during the attack: ${JSON.stringify(load.failures)}`)
  })
})
