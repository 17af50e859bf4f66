/**
 * Runs inside a network namespace (`ip netns exec NS node ns-http-agent.js`) and makes HTTP requests for a test
 * process outside it, which cannot reach the namespace's 127.0.0.1 or bridge. One JSON request per line on
 * stdin, one JSON answer per line on stdout; it exits when stdin closes. Started once per namespace, it answers
 * in milliseconds where a fresh `ip netns exec curl` would cost a process start per request.
 */
import http from 'node:http'
import { createInterface } from 'node:readline'
import { pathToFileURL } from 'node:url'

export interface AgentRequest {
  readonly id: number
  readonly url: string
  readonly method?: string
  readonly headers?: Record<string, string>
  readonly body?: string
  readonly timeoutMs?: number
}

export type AgentAnswer = { readonly id: number; readonly status: number; readonly body: string } | { readonly id: number; readonly error: string }

function answer(a: AgentAnswer): void {
  process.stdout.write(`${JSON.stringify(a)}\n`)
}

function handle(ask: AgentRequest): void {
  const req = http.request(ask.url, { method: ask.method ?? 'GET', headers: ask.headers, agent: false }, (res) => {
    const chunks: Buffer[] = []
    res.on('data', (c: Buffer) => chunks.push(c))
    res.on('end', () => answer({ id: ask.id, status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }))
    res.on('error', (err) => answer({ id: ask.id, error: err.message }))
  })
  req.setTimeout(ask.timeoutMs ?? 5000, () => req.destroy(new Error('timeout')))
  req.on('error', (err: NodeJS.ErrnoException) => answer({ id: ask.id, error: err.code ?? err.message }))
  req.end(ask.body)
}

// Only when run as a script: the test imports the types above.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const lines = createInterface({ input: process.stdin })
  lines.on('line', (line) => {
    if (line.trim() !== '') handle(JSON.parse(line) as AgentRequest)
  })
  lines.on('close', () => process.exit(0))
}
