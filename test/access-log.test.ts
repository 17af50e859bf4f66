import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { startBackend } from './helpers/backend.js'
import { cleanups } from './helpers/cleanup.js'
import { startBalancerProcess } from './helpers/balancer.js'
import { balancerYaml } from './helpers/config-yaml.js'
import { request } from './helpers/load.js'
import { waitFor } from './helpers/wait.js'

/** Only /app is routed (to backend app): other paths get the balancer's own 404. */
function config(backendAddress: string, accessLog: boolean): string {
  const routes = '    routes:\n      - match: { path_prefix: /app }\n        backend: app'
  return balancerYaml({ accessLog, frontend: routes, servers: { s1: backendAddress } })
}

const FIELDS = ['time', 'client', 'method', 'path', 'status', 'bytes', 'server', 'duration_ms', 'retries', 'request_id'] as const

function accessLines(lines: readonly Record<string, unknown>[]): Record<string, unknown>[] {
  return lines.filter((line) => line.type === 'access')
}

describe('access log', () => {
  it('writes one JSON access line per forwarded request with the documented fields', async (t) => {
    const defer = cleanups(t)
    const backend = await startBackend('app')
    defer(() => backend.close())
    const lb = await startBalancerProcess(config(backend.address, true))
    defer(() => lb.stop())
    const reply = await request(`${lb.url()}/app/items?page=2`, { method: 'POST', body: 'hello' })
    assert.equal(reply.status, 200)
    const requestId = backend.received.at(-1)?.headers['x-request-id']
    assert.equal(typeof requestId, 'string')
    const line = await waitFor('the access line', () => accessLines(lb.lines).find((l) => l.request_id === requestId))
    for (const field of FIELDS) assert.ok(field in line, `the access line has "${field}": ${JSON.stringify(line)}`)
    assert.equal(line.type, 'access')
    assert.ok(!Number.isNaN(Date.parse(String(line.time))), `time is a timestamp: ${String(line.time)}`)
    assert.equal(line.client, '127.0.0.1')
    assert.equal(line.method, 'POST')
    assert.equal(line.path, '/app/items?page=2')
    assert.equal(line.status, 200)
    assert.equal(line.bytes, Buffer.byteLength('app'))
    assert.equal(line.server, 's1')
    assert.equal(typeof line.duration_ms, 'number')
    assert.ok((line.duration_ms as number) >= 0)
    assert.equal(line.retries, 0)
    // Exactly one line for this request, even after a little while.
    await new Promise((r) => setTimeout(r, 100))
    assert.equal(accessLines(lb.lines).filter((l) => l.request_id === requestId).length, 1)
  })

  it('writes an access line for a request the balancer answers itself (404), with its request id', async (t) => {
    const defer = cleanups(t)
    const backend = await startBackend('app')
    defer(() => backend.close())
    const lb = await startBalancerProcess(config(backend.address, true))
    defer(() => lb.stop())
    const reply = await request(`${lb.url()}/nowhere`)
    assert.equal(reply.status, 404)
    const requestId = reply.headers['x-request-id']
    const line = await waitFor('the access line', () => accessLines(lb.lines).find((l) => l.request_id === requestId))
    assert.equal(line.status, 404)
    assert.equal(line.path, '/nowhere')
    assert.equal(line.error, 'SY_ERR_NO_ROUTE')
  })

  it('writes an httplog-style text line per request with access_log: { format: httplog }', async (t) => {
    const defer = cleanups(t)
    const backend = await startBackend('app')
    defer(() => backend.close())
    const lb = await startBalancerProcess(config(backend.address, true).replace('access_log: true', 'access_log: { format: httplog }'))
    defer(() => lb.stop())
    assert.equal((await request(`${lb.url()}/app/x?y=1`)).status, 200)
    assert.equal((await request(`${lb.url()}/other`)).status, 404)
    const text = await waitFor('two access lines', () => {
      const found = lb.rawLines.filter((line) => !line.startsWith('{'))
      return found.length >= 2 ? found : undefined
    })
    assert.match(text[0]!, /^127\.0\.0\.1 \[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d\.\d{3}\] web app\/s1 \d+\/\d+\/\d+ 200 3 0 \S+ "GET \/app\/x\?y=1"$/)
    assert.match(text[1]!, / web -\/- 0\/-1\/\d+ 404 0 0 \S+ "GET \/other"$/)
    assert.equal(accessLines(lb.lines).length, 0, 'no JSON access line')
  })

  it('writes no access line when access_log is false', async (t) => {
    const defer = cleanups(t)
    const backend = await startBackend('app')
    defer(() => backend.close())
    const lb = await startBalancerProcess(config(backend.address, false))
    defer(() => lb.stop())
    assert.equal((await request(`${lb.url()}/app/one`)).status, 200)
    assert.equal((await request(`${lb.url()}/nowhere`)).status, 404)
    // A clean stop flushes the log; its last line ("stopped") comes after any access line would have.
    assert.equal(await lb.stop(), 0)
    await waitFor('the "stopped" log line', () => (lb.lines.some((l) => l.event === 'stopped') ? true : undefined))
    assert.deepEqual(accessLines(lb.lines), [])
  })
})
