import assert from 'node:assert/strict'
import type http from 'node:http'
import { describe, it } from 'node:test'
import { startBackend } from '../helpers/backend.js'
import { startBalancerProcess } from '../helpers/balancer.js'
import { cleanups } from '../helpers/cleanup.js'
import { balancerYaml } from '../helpers/config-yaml.js'
import { describeCase, fuzzSeed, HttpFuzzer, type FuzzCase } from '../helpers/http-fuzzer.js'
import { request } from '../helpers/load.js'
import { residentBytes, sampleResident } from '../helpers/process-memory.js'
import { exchange } from './http-vectors.js'
import { within } from '../helpers/wait.js'
import { recordCase, soak } from './summary.js'

/**
 * A fuzz run: random and mutated HTTP/1.1 requests from a seeded generator (test/helpers/http-fuzzer.ts), sent by a
 * few concurrent senders over raw sockets to a `switchyard run` child process for a bounded time (10 s in
 * `npm test`, 10 min under `npm run soak`). The process must stay up and ready, its memory bounded, nothing logged
 * as an internal error, and every byte it answers must parse as HTTP/1.1 responses.
 *
 * The seed is printed in the summary and in any failure; SWITCHYARD_FUZZ_SEED=N replays the same cases (their
 * interleaving across senders depends on timing, so a failing case is also printed whole).
 */

const DURATION_MS = soak(10_000, 600_000)
const SENDERS = 6
/** RSS growth allowed over the run, measured on the child process (peak minus the level after a warm-up). */
const RSS_LIMIT = 100 * 1024 * 1024
/** The balancer's grace for requests in flight when it stops; the stop after the run must end well within it. */
const STOP_GRACE_MS = 3000

function handler(req: http.IncomingMessage, res: http.ServerResponse, body: string): void {
  res.writeHead(200, { 'content-type': 'text/plain' })
  res.end(`${req.method} ${req.url} ${body.length}`)
}

interface Finding {
  readonly fuzzCase: FuzzCase
  readonly problem: string
}

describe('fuzz', () => {
  it(`stays up, bounded and well-formed under ${DURATION_MS / 1000} s of random and mutated requests`, { timeout: DURATION_MS + 60_000 }, async (t) => {
    const seed = fuzzSeed()
    const cleanup = cleanups(t)
    const backend = await startBackend('s1', handler)
    cleanup(() => backend.close())
    const lb = await startBalancerProcess(
      balancerYaml({
        frontend: `    default_backend: app
    max_header_size: 8kb
    max_body_size: 64kb
    timeouts: { http_request: 1s, client: 1s, keep_alive: 2s }`,
        backend: `    retries: 1
    timeouts: { connect: 1s, server: 2s, queue: 1s }`,
        servers: { s1: backend.address },
      }),
      { SWITCHYARD_STOP_GRACE_MS: String(STOP_GRACE_MS) },
    )
    cleanup(() => {
      if (lb.proc.exitCode === null && lb.proc.signalCode === null) lb.proc.kill('SIGKILL')
    })
    const pid = lb.proc.pid!
    const url = lb.url()

    // Warm-up: a few normal requests, so that the baseline includes the code paths' first allocations.
    for (let i = 0; i < 20; i++) assert.equal((await request(`${url}/warm/${i}`)).status, 200)
    const baseline = residentBytes(pid)
    const rss = sampleResident(pid, 50)

    const fuzzer = new HttpFuzzer(seed)
    const findings: Finding[] = []
    const statuses = new Map<string, number>()
    let sent = 0
    let unanswered = 0
    const deadline = Date.now() + DURATION_MS
    const sender = async (): Promise<void> => {
      while (Date.now() < deadline && lb.proc.exitCode === null) {
        const fuzzCase = fuzzer.next()
        sent++
        const ex = await exchange(url, fuzzCase.parts, { responses: 1, settleMs: 30, timeoutMs: 500, gapMs: 5 })
        if (ex.malformed !== undefined) findings.push({ fuzzCase, problem: `${ex.malformed}; got ${JSON.stringify(ex.raw.slice(0, 300))}` })
        if (ex.responses.length === 0) unanswered++
        for (const r of ex.responses) {
          const key = String(r.status)
          statuses.set(key, (statuses.get(key) ?? 0) + 1)
          if (r.status >= 500) findings.push({ fuzzCase, problem: `answered ${r.status}: ${JSON.stringify(r.body.slice(0, 200))}` })
        }
      }
    }
    await Promise.all(Array.from({ length: SENDERS }, sender))
    const peak = rss.stop()
    const growth = peak - baseline

    const up = lb.proc.exitCode === null && lb.proc.signalCode === null
    const health = up ? await request(`http://${lb.admin}/healthz`, { timeoutMs: 3000 }).catch(() => undefined) : undefined
    const normal = up ? await request(`${url}/after-fuzz`, { timeoutMs: 3000 }).catch(() => undefined) : undefined
    // A graceful stop ends once every connection is closed: one the balancer forgot (and no timeout covers) made it
    // wait forever.
    const stopped = up ? await within('the balancer to stop', lb.stop(), STOP_GRACE_MS + 5000).catch((err: Error) => err) : undefined
    const internalErrors = lb.lines.filter((l) => l.level === 'error' || l.level === 'fatal')
    const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MB`
    const answers = [...statuses].sort(([a], [b]) => a.localeCompare(b)).map(([s, n]) => `${s}×${n}`).join(' ')
    recordCase({
      case: 'fuzz: random and mutated requests',
      load: `${sent} requests, ${SENDERS} senders, ${DURATION_MS / 1000} s`,
      failed: findings.length + internalErrors.length,
      crashes: up && health?.status === 200 && stopped === 0 ? 0 : 1,
      note: `seed ${seed}; RSS +${mb(growth)} (peak ${mb(peak)}); answers ${answers}; ${unanswered} without answer`,
    })

    const replay = `(seed ${seed}: SWITCHYARD_FUZZ_SEED=${seed} replays the cases)`
    assert.ok(up, `the balancer process exited with ${lb.proc.exitCode ?? lb.proc.signalCode} ${replay}\n${lb.rawLines.slice(-20).join('\n')}`)
    assert.equal(health?.status, 200, `/healthz answers after the run ${replay}`)
    assert.equal(normal?.status, 200, `a normal request is served after the run ${replay}`)
    assert.equal(stopped, 0, `the balancer stops cleanly after the run ${replay}`)
    assert.deepEqual(
      findings.slice(0, 10).map((f) => `${f.problem}\n    case ${describeCase(f.fuzzCase)}`),
      [],
      `${findings.length} answers were not well-formed HTTP or were server errors ${replay}`,
    )
    assert.deepEqual(internalErrors.slice(0, 5), [], `internal errors were logged ${replay}`)
    assert.ok(growth < RSS_LIMIT, `RSS grew by ${mb(growth)} (limit ${mb(RSS_LIMIT)}) ${replay}`)
    assert.ok(sent > 100, `only ${sent} requests were sent`)
  })
})
