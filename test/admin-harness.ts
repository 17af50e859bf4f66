/** An AdminServer over a BalancerControl (usually FakeControl) on a free port, and a small client for its tests. */
import { AdminServer } from '../src/admin/admin-server.js'
import type { BalancerControl } from '../src/admin/balancer-control.js'

export const TOKEN = 's3cret-token'

export interface Answer {
  readonly status: number
  readonly headers: Headers
  readonly body: Record<string, unknown>
}

export interface Admin {
  readonly url: string
  readonly server: AdminServer
  call(method: string, path: string, options?: { body?: unknown; raw?: string; token?: string | null; headers?: Record<string, string> }): Promise<Answer>
}

export async function startAdmin(control: BalancerControl, options: { token?: string } = { token: TOKEN }): Promise<Admin> {
  const { token } = options
  const server = new AdminServer({ control, token })
  const { port } = await server.listen({ host: '127.0.0.1', port: 0 })
  server.ready = true
  const url = `http://127.0.0.1:${port}`
  return {
    url,
    server,
    call: async (method, path, options = {}) => {
      const headers: Record<string, string> = { ...options.headers }
      const sent = options.token === undefined ? TOKEN : options.token
      if (sent !== null) headers.authorization = `Bearer ${sent}`
      const body = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body))
      if (body !== undefined) headers['content-type'] = 'application/json'
      const res = await fetch(url + path, { method, headers, body })
      const text = await res.text()
      return { status: res.status, headers: res.headers, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) }
    },
  }
}

export function errorCode(answer: Answer): unknown {
  return (answer.body.error as { code?: unknown } | undefined)?.code
}
