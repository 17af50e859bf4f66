import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { startBackend } from './helpers/backend.js'
import { startBalancer } from './helpers/balancer.js'
import { balancerYaml } from './helpers/config-yaml.js'
import { request } from './helpers/load.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function yaml(address: string, queue: string, serverExtra = ''): string {
  return balancerYaml({ backend: `    timeouts: { connect: 1s, server: 5s, queue: ${queue} }`, servers: { only: address + serverExtra } })
}

describe('the queue when no server is available', () => {
  it('a request waits while no server is up, and is served by a server that comes up within timeouts.queue', async () => {
    const first = await startBackend('first')
    const port = first.port
    await first.kill()
    const lb = await startBalancer(yaml(first.address, '5s'))
    let revived: Awaited<ReturnType<typeof startBackend>> | undefined
    try {
      const started = Date.now()
      const pending = request(lb.url())
      await sleep(600)
      revived = await startBackend('revived', undefined, port)
      const r = await pending
      assert.equal(r.status, 200)
      assert.equal(r.body, 'revived')
      assert.ok(Date.now() - started >= 600, 'the request waited for the server')
    } finally {
      await lb.stop(100)
      await revived?.close()
    }
  })

  it('after timeouts.queue the client gets 503 with a body naming the error and the request id', async () => {
    const gone = await startBackend('gone')
    await gone.kill()
    const lb = await startBalancer(yaml(gone.address, '400ms'))
    try {
      const started = Date.now()
      const r = await request(lb.url())
      const waited = Date.now() - started
      assert.equal(r.status, 503)
      assert.match(r.body, /SY_ERR_NO_SERVER/)
      assert.ok(r.body.includes(String(r.headers['x-request-id'])), 'the body names the request id')
      assert.ok(waited >= 350, `waited ${waited} ms`)
    } finally {
      await lb.stop(100)
    }
  })

  it('max_connections holds extra requests in the queue and serves them in turn', async () => {
    let current = 0
    let peak = 0
    const b = await startBackend('b', (_req, res) => {
      current++
      peak = Math.max(peak, current)
      setTimeout(() => {
        current--
        res.end('done')
      }, 150)
    })
    const lb = await startBalancer(yaml(b.address, '5s', ', max_connections: 1'))
    try {
      const replies = await Promise.all([1, 2, 3, 4].map(() => request(lb.url())))
      assert.deepEqual(replies.map((r) => r.status), [200, 200, 200, 200])
      assert.equal(peak, 1, 'never more than one request at a time on the server')
      const queue = lb.runtime.backends.get('app')!.queue
      assert.equal(queue.length, 0)
      assert.ok(queue.max >= 2)
    } finally {
      await lb.stop(100)
      await b.close()
    }
  })
})
