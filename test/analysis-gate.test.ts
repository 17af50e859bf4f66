import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, it } from 'node:test'
import { checkGate } from '../src/deploy/analysis-gate.js'
import { startBackend, type Handler } from './helpers/backend.js'
import { cleanups } from './helpers/cleanup.js'
import { within } from './helpers/wait.js'

async function gate(t: Parameters<typeof cleanups>[0], handler: Handler) {
  const backend = await startBackend('gate', handler)
  cleanups(t)(() => backend.kill())
  return { url: `http://${backend.address}/gates/canary`, address: backend.address, received: backend.received }
}

const answer =
  (status: number, body = ''): Handler =>
  (_req, res) => {
    res.writeHead(status, { 'content-type': 'text/plain' })
    res.end(body)
  }

/** A port nothing listens on: one a server had a moment ago. */
async function closedPort(): Promise<number> {
  const server = http.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

describe('checkGate', () => {
  it('passes on 2xx and posts the payload as JSON', async (t) => {
    const g = await gate(t, answer(202, 'approved'))
    const verdict = await checkGate(g.url, { name: 'app', phase: 'analysis', canary: 'v2' }, 2000)
    assert.deepEqual(verdict, { kind: 'pass', summary: `gate ${g.url} answered HTTP 202` })
    assert.equal(g.received.length, 1)
    const { method, url, headers, body } = g.received[0]!
    assert.equal(method, 'POST')
    assert.equal(url, '/gates/canary')
    assert.equal(headers['content-type'], 'application/json')
    assert.deepEqual(JSON.parse(body), { name: 'app', phase: 'analysis', canary: 'v2' })
  })

  it('fails on 500 and quotes the start of the answer, without the query string', async (t) => {
    const g = await gate(t, answer(500, `load test\n  not finished ${'x'.repeat(5000)}`))
    const verdict = await checkGate(`${g.url}?token=secret`, {}, 2000)
    assert.equal(verdict.kind, 'fail')
    const reason = verdict.kind === 'fail' ? verdict.reasons.join() : ''
    assert.match(reason, new RegExp(`^gate ${g.url} answered HTTP 500: load test not finished x+\\.\\.\\.$`))
    assert.ok(reason.length < 300, reason)
    assert.doesNotMatch(reason, /secret/)
  })

  it('fails on a 4xx too', async (t) => {
    const g = await gate(t, answer(404))
    assert.deepEqual(await checkGate(g.url, {}, 2000), { kind: 'fail', reasons: [`gate ${g.url} answered HTTP 404`] })
  })

  it('fails after the timeout when the gate never answers', async (t) => {
    const g = await gate(t, () => undefined)
    const started = Date.now()
    const verdict = await within('the gate check', checkGate(g.url, {}, 300))
    const elapsed = Date.now() - started
    assert.deepEqual(verdict, { kind: 'fail', reasons: [`gate ${g.url} gave no answer within 300 ms`] })
    assert.ok(elapsed >= 250 && elapsed < 3000, `took ${elapsed} ms`)
  })

  it('fails with the cause when the connection is refused', async () => {
    const port = await closedPort()
    const verdict = await within('the gate check', checkGate(`http://127.0.0.1:${port}/gate`, {}, 2000))
    assert.equal(verdict.kind, 'fail')
    assert.match(verdict.kind === 'fail' ? verdict.reasons[0]! : '', new RegExp(`^gate http://127\\.0\\.0\\.1:${port}/gate: fetch failed: .*ECONNREFUSED`))
  })

  it('fails rather than throws on an invalid URL or a payload that is not JSON', async (t) => {
    assert.equal((await checkGate('not a url', {}, 1000)).kind, 'fail')
    const g = await gate(t, answer(200))
    const circular: { self?: unknown } = {}
    circular.self = circular
    assert.equal((await checkGate(g.url, circular, 1000)).kind, 'fail')
    assert.equal((await checkGate(g.url, {}, Number.NaN)).kind, 'fail')
    assert.equal(g.received.length, 0)
  })
})
