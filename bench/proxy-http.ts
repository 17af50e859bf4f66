/**
 * A minimal HTTP client for the bench's own requests (admin calls, the release-time request stream): node:http
 * with an explicit agent, so that the cost and the timing of each call are plain to see.
 */
import { Agent, request, type IncomingHttpHeaders } from 'node:http'

export interface Answer {
  readonly status: number
  readonly headers: IncomingHttpHeaders
  readonly body: string
}

export interface RequestOptions {
  readonly agent?: Agent
  readonly headers?: Record<string, string>
  readonly body?: unknown
  readonly timeoutMs?: number
}

export function httpRequest(port: number, method: string, path: string, opts: RequestOptions = {}): Promise<Answer> {
  const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body))
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent: opts.agent ?? false,
        headers: { ...opts.headers, ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(payload.length) }) },
        timeout: opts.timeoutMs ?? 10_000,
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }))
        res.on('error', reject)
      },
    )
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)))
    req.on('error', reject)
    req.end(payload)
  })
}
