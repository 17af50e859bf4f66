import http from 'node:http'

export interface LoadResult {
  sent: number
  ok: number
  failed: number
  /** Status (or error code) -> count, for the failures. */
  failures: Record<string, number>
  /** Response bodies -> count, for the successes. */
  bodies: Record<string, number>
}

export interface LoadOptions {
  readonly url: string
  /** Requests per second, spread evenly. */
  readonly rate: number
  readonly durationMs: number
  readonly method?: string
  readonly body?: string
  /** Share of requests (0..1) sent on a fresh connection instead of a kept-alive one. */
  readonly freshConnectionShare?: number
}

/**
 * Steady load with a bounded count and time: `rate` requests per second for `durationMs`, half on kept-alive
 * connections and half on fresh ones by default. A failure is any status >= 500 or a transport error.
 */
export async function steadyLoad(options: LoadOptions): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 })
  const result: LoadResult = { sent: 0, ok: 0, failed: 0, failures: {}, bodies: {} }
  const total = Math.round((options.rate * options.durationMs) / 1000)
  const interval = 1000 / options.rate
  const fresh = options.freshConnectionShare ?? 0.5
  const pending: Promise<void>[] = []
  const start = Date.now()
  for (let i = 0; i < total; i++) {
    const due = start + i * interval
    const wait = due - Date.now()
    if (wait > 0) await new Promise((r) => setTimeout(r, wait))
    result.sent++
    pending.push(
      request(options.url, { method: options.method ?? 'GET', body: options.body, agent: (i % 100) / 100 < fresh ? false : agent }).then(
        (r) => {
          if (r.status >= 500) {
            result.failed++
            result.failures[String(r.status)] = (result.failures[String(r.status)] ?? 0) + 1
          } else {
            result.ok++
            result.bodies[r.body] = (result.bodies[r.body] ?? 0) + 1
          }
        },
        (err: NodeJS.ErrnoException) => {
          result.failed++
          const key = err.code ?? err.message
          result.failures[key] = (result.failures[key] ?? 0) + 1
        },
      ),
    )
  }
  await Promise.all(pending)
  agent.destroy()
  return result
}

export interface Reply {
  status: number
  headers: http.IncomingHttpHeaders
  body: string
}

/** One HTTP request with node:http (no pooling unless an agent is given). */
export function request(
  url: string,
  options: { method?: string; headers?: http.OutgoingHttpHeaders; body?: string | Buffer; agent?: http.Agent | false; timeoutMs?: number } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'GET', headers: options.headers, agent: options.agent ?? false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }))
      res.on('error', reject)
    })
    req.on('error', reject)
    if (options.timeoutMs !== undefined) req.setTimeout(options.timeoutMs, () => req.destroy(new Error('client timeout')))
    req.end(options.body)
  })
}
