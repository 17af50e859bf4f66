/**
 * A client that does what a well-behaved HTTP client (or a service mesh sidecar) does while its load balancer
 * restarts: it retries a request whose connection was refused or reset before any response byte arrived (the
 * server cannot have answered, and for idempotent requests it is safe to send again), with a small backoff.
 * Anything that happens once a response started is a failure, never retried.
 *
 * `clientLoad` drives such requests at a steady rate like test/helpers/load.ts's steadyLoad, and also keeps the
 * status and body of failed answers (the fault cases check the SY_ERR_* code in them); with `retry: false` it is
 * a plain client.
 */
import http from 'node:http'

const RETRIABLE = new Set(['ECONNREFUSED', 'ECONNRESET'])

export interface ClientReply {
  readonly status: number
  readonly body: string
  /** Connection attempts that were refused or reset before any response byte, then sent again. */
  readonly retries: number
}

export interface RetryOptions {
  readonly method?: string
  readonly agent?: http.Agent | false
  /** Retries allowed per request (default 100). */
  readonly maxRetries?: number
  /** First backoff; it doubles up to `maxBackoffMs` (defaults 20 ms and 500 ms), each wait jittered by up to half. */
  readonly backoffMs?: number
  readonly maxBackoffMs?: number
  /** Per attempt, until the whole response arrived (default 30 s). */
  readonly timeoutMs?: number
}

/** An error that happened before the response started: safe to retry when its code says the request never got through. */
class BeforeResponse extends Error {
  constructor(readonly original: NodeJS.ErrnoException) {
    super(original.message)
  }
}

function attempt(url: string, options: RetryOptions): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    let responded = false
    const req = http.request(url, { method: options.method ?? 'GET', agent: options.agent ?? false }, (res) => {
      responded = true
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }))
      res.on('error', reject)
      res.on('aborted', () => reject(new Error('response aborted')))
    })
    req.on('error', (err: NodeJS.ErrnoException) => reject(responded ? err : new BeforeResponse(err)))
    req.setTimeout(options.timeoutMs ?? 30_000, () => req.destroy(new Error('client timeout')))
    req.end()
  })
}

/** One request, retried while its connection is refused or reset before any response byte. */
export async function retryingRequest(url: string, options: RetryOptions = {}): Promise<ClientReply> {
  const maxRetries = options.maxRetries ?? 100
  let backoff = options.backoffMs ?? 20
  for (let retries = 0; ; retries++) {
    try {
      return { ...(await attempt(url, options)), retries }
    } catch (err) {
      const retriable = err instanceof BeforeResponse && RETRIABLE.has(err.original.code ?? '')
      if (!retriable || retries >= maxRetries) throw err instanceof BeforeResponse ? err.original : err
      // Jitter spreads the clients that were refused together, so that they do not all come back at once.
      await new Promise((r) => setTimeout(r, backoff * (0.5 + Math.random() / 2)))
      backoff = Math.min(backoff * 2, options.maxBackoffMs ?? 500)
    }
  }
}

export interface ClientLoadOptions {
  readonly url: string
  readonly rate: number
  readonly durationMs: number
  /** Retry refused/reset connections (default true); false: every transport error is a failure. */
  readonly retry?: boolean
  /** Share of requests on a fresh connection, the rest on kept-alive ones (default 0.5, like steadyLoad). */
  readonly freshConnectionShare?: number
  readonly timeoutMs?: number
  /** After `durationMs`, the load goes on at the same rate until this returns true, for `maxDurationMs` at most. */
  readonly until?: () => boolean
  readonly maxDurationMs?: number
}

export interface ClientLoadResult {
  sent: number
  ok: number
  /** Status >= 500, transport errors, and errors after the response started. */
  failed: number
  /** Status (or error code) -> count, for the failures. */
  failures: Record<string, number>
  /** Status and body of every failed answer that had one (the load is bounded, so is this list). */
  failedAnswers: { status: number; body: string }[]
  /** Response bodies -> count, for the successes. */
  bodies: Record<string, number>
  /** Retries in all, and requests that needed at least one. */
  retries: number
  retriedRequests: number
  /** Slowest successful request, in ms. */
  maxMs: number
}

/**
 * `rate` requests per second for `durationMs` (or longer, see `until`), through retryingRequest (or plain requests
 * with `retry: false`).
 */
export async function clientLoad(options: ClientLoadOptions): Promise<ClientLoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 })
  const result: ClientLoadResult = { sent: 0, ok: 0, failed: 0, failures: {}, failedAnswers: [], bodies: {}, retries: 0, retriedRequests: 0, maxMs: 0 }
  const total = Math.round((options.rate * options.durationMs) / 1000)
  const interval = 1000 / options.rate
  const fresh = options.freshConnectionShare ?? 0.5
  const pending: Promise<void>[] = []
  const start = Date.now()
  const fail = (key: string): void => {
    result.failed++
    result.failures[key] = (result.failures[key] ?? 0) + 1
  }
  const goOn = (): boolean => options.until !== undefined && !options.until() && Date.now() - start < (options.maxDurationMs ?? options.durationMs)
  for (let i = 0; i < total || goOn(); i++) {
    const due = start + i * interval
    const wait = due - Date.now()
    if (wait > 0) await new Promise((r) => setTimeout(r, wait))
    result.sent++
    const sentAt = Date.now()
    const retryOptions: RetryOptions = {
      agent: (i % 100) / 100 < fresh ? false : agent,
      maxRetries: options.retry === false ? 0 : undefined,
      timeoutMs: options.timeoutMs,
    }
    pending.push(
      retryingRequest(options.url, retryOptions).then(
        (r) => {
          result.retries += r.retries
          if (r.retries > 0) result.retriedRequests++
          if (r.status >= 500) {
            fail(String(r.status))
            result.failedAnswers.push({ status: r.status, body: r.body })
          } else {
            result.ok++
            result.bodies[r.body] = (result.bodies[r.body] ?? 0) + 1
            result.maxMs = Math.max(result.maxMs, Date.now() - sentAt)
          }
        },
        // "ECONNRESET socket hang up" (no response) and "ECONNRESET aborted" (a response cut short) differ.
        (err: NodeJS.ErrnoException) => fail(err.code === undefined ? err.message : `${err.code} ${err.message}`),
      ),
    )
  }
  await Promise.all(pending)
  agent.destroy()
  return result
}
