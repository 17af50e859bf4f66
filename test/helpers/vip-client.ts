/**
 * Steady client traffic to a VIP, run inside the client namespace of test/ha-keepalived.test.ts:
 *   node vip-client.js --url http://VIP:PORT/ --rate 50 --out FILE [--retry]
 * It sends `rate` requests a second (every other one on a fresh connection, the rest on kept-alive ones) until
 * SIGTERM, waits for the requests in flight, writes every request as JSON to FILE and exits.
 *
 * With --retry it behaves like a well-made client of a VIP: a request that failed before any response byte
 * (connection refused or reset, no answer in time - it cannot have been processed) is sent again after a short
 * backoff. Without it, every error counts: that measures the raw failover window. A response that started and
 * then broke, or any status but 200, is always a failure.
 */
import http from 'node:http'
import { writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'

export interface RequestRecord {
  /** Epoch ms when the request was first sent, and when it ended. */
  readonly start: number
  readonly end: number
  readonly ok: boolean
  readonly status?: number
  /** The version of the app that answered (x-app-version). */
  readonly who?: string
  readonly error?: string
  /** Errors of attempts that were retried. */
  readonly retried: readonly string[]
}

export interface ClientReport {
  readonly url: string
  readonly rate: number
  readonly retry: boolean
  readonly started: number
  readonly stopped: number
  readonly requests: RequestRecord[]
}

/** Failures before any response byte: the request cannot have reached the application. */
const BEFORE_RESPONSE = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT'])
/** Per attempt, until the first response byte: above the kernel's 1 s SYN retransmission, below the test's patience. */
const ATTEMPT_TIMEOUT_MS = 2500
/** A request gives up after this long in all (retries included). */
const REQUEST_DEADLINE_MS = 20_000

class AttemptError extends Error {
  constructor(
    readonly code: string,
    readonly beforeResponse: boolean,
  ) {
    super(code)
  }
}

function attempt(url: string, agent: http.Agent | false): Promise<{ status: number; who: string | undefined }> {
  return new Promise((resolve, reject) => {
    let responded = false
    const req = http.get(url, { agent }, (res) => {
      responded = true
      clearTimeout(timer)
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode ?? 0, who: res.headers['x-app-version'] as string | undefined }))
      res.on('error', (err: NodeJS.ErrnoException) => reject(new AttemptError(err.code ?? err.message, false)))
      res.on('aborted', () => reject(new AttemptError('response aborted', false)))
    })
    const timer = setTimeout(() => req.destroy(Object.assign(new Error('no response in time'), { code: 'ETIMEDOUT' })), ATTEMPT_TIMEOUT_MS)
    req.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      const code = err.code ?? err.message
      reject(new AttemptError(code, !responded && BEFORE_RESPONSE.has(code)))
    })
  })
}

async function send(url: string, agent: http.Agent | false, retry: boolean): Promise<RequestRecord> {
  const start = Date.now()
  const retried: string[] = []
  let backoff = 25
  for (;;) {
    try {
      const { status, who } = await attempt(url, agent)
      return { start, end: Date.now(), ok: status === 200, status, who, retried }
    } catch (err) {
      const e = err instanceof AttemptError ? err : new AttemptError(String(err), false)
      if (!retry || !e.beforeResponse || Date.now() - start > REQUEST_DEADLINE_MS) return { start, end: Date.now(), ok: false, error: e.code, retried }
      retried.push(e.code)
      await new Promise((r) => setTimeout(r, backoff))
      backoff = Math.min(backoff * 2, 400)
      // A kept-alive connection may be the broken one: the retry opens a fresh connection.
      agent = false
    }
  }
}

function main(): void {
  const { values } = parseArgs({ options: { url: { type: 'string' }, rate: { type: 'string', default: '50' }, out: { type: 'string' }, retry: { type: 'boolean', default: false } } })
  if (values.url === undefined || values.out === undefined) throw new Error('usage: vip-client --url URL --out FILE [--rate N] [--retry]')
  const url = values.url
  const out = values.out
  const rate = Number(values.rate)
  const retry = values.retry === true
  const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 8 })
  const started = Date.now()
  const records: RequestRecord[] = []
  const inFlight = new Set<Promise<void>>()
  let n = 0
  const tick = setInterval(() => {
    const p = send(url, n++ % 2 === 0 ? false : keepAlive, retry).then((r) => {
      records.push(r)
      inFlight.delete(p)
    })
    inFlight.add(p)
  }, 1000 / rate)
  process.once('SIGTERM', () => {
    clearInterval(tick)
    const stopped = Date.now()
    void Promise.all(inFlight).then(() => {
      records.sort((a, b) => a.start - b.start)
      const report: ClientReport = { url, rate, retry, started, stopped, requests: records }
      writeFileSync(out, JSON.stringify(report))
      keepAlive.destroy()
      process.exit(0)
    })
  })
}

main()
