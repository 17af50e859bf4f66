import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { startBackend } from './helpers/backend.js'
import { startBalancer } from './helpers/balancer.js'
import { balancerYaml } from './helpers/config-yaml.js'
import { request, steadyLoad } from './helpers/load.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function yaml(servers: Record<string, string>, backendExtra = ''): string {
  return balancerYaml({ backend: `    timeouts: { connect: 1s, server: 5s, queue: 3s }\n${backendExtra}`, servers })
}

/** A port that refuses connections: a server is started there, then closed. */
async function deadPort(): Promise<{ port: number; address: string }> {
  const b = await startBackend('gone')
  await b.kill()
  return { port: b.port, address: b.address }
}

describe('failure handling', () => {
  it('a server killed under steady GET load costs the clients no failed response', async () => {
    const slowish = (name: string) => (_req: unknown, res: import('node:http').ServerResponse) => {
      setTimeout(() => res.end(name), 5)
    }
    const a = await startBackend('a', slowish('a'))
    const b = await startBackend('b', slowish('b'))
    const lb = await startBalancer(yaml({ a: a.address, b: b.address }))
    try {
      const load = steadyLoad({ url: lb.url(), rate: 250, durationMs: 2000 })
      await sleep(700)
      await a.kill() // listener closed, open connections reset
      const result = await load
      assert.equal(result.failed, 0, `failures: ${JSON.stringify(result.failures)}`)
      assert.ok(result.ok >= 490, `ok ${result.ok}`)
      assert.ok((result.bodies.a ?? 0) > 0 && (result.bodies.b ?? 0) > 0)
      assert.equal(lb.runtime.backends.get('app')!.servers[0]!.state, 'DOWN')
    } finally {
      await lb.stop(100)
      await b.close()
    }
  })

  it('a POST with a small body is replayed on another server when the first refused the connection', async () => {
    const dead = await deadPort()
    const b = await startBackend('b', (_req, res, body) => res.end(`b got ${body}`))
    const lb = await startBalancer(yaml({ a: dead.address, b: b.address }))
    try {
      const r = await request(lb.url('web') + '/orders', { method: 'POST', body: 'item=42', headers: { 'content-type': 'text/plain' } })
      assert.equal(r.status, 200)
      assert.equal(r.body, 'b got item=42')
      assert.equal(b.received.length, 1, 'the POST reached the healthy server exactly once')
      assert.ok(lb.runtime.backends.get('app')!.retriesTotal >= 1, 'the first attempt went to the refusing server')
    } finally {
      await lb.stop(100)
      await b.close()
    }
  })

  it('a chunked POST body within the retry buffer is replayed too', async () => {
    const dead = await deadPort()
    const b = await startBackend('b', (_req, res, body) => res.end(`b got ${body.length}`))
    const lb = await startBalancer(yaml({ a: dead.address, b: b.address }))
    try {
      const { default: http } = await import('node:http')
      const reply = await new Promise<string>((resolve, reject) => {
        const req = http.request(lb.url() + '/upload', { method: 'POST', agent: false }, (res) => {
          let text = ''
          res.on('data', (c: Buffer) => (text += c.toString()))
          res.on('end', () => resolve(`${res.statusCode} ${text}`))
        })
        req.on('error', reject)
        req.write('x'.repeat(1000))
        setTimeout(() => req.end('y'.repeat(1000)), 20)
      })
      assert.equal(reply, '200 b got 2000')
    } finally {
      await lb.stop(100)
      await b.close()
    }
  })

  it('status-based retries (503) apply to idempotent methods only', async () => {
    const sick = await startBackend('sick', (_req, res) => {
      res.writeHead(503)
      res.end('sick')
    })
    const well = await startBackend('well')
    const lb = await startBalancer(yaml({ sick: sick.address, well: well.address }, '    retry_on: [conn-failure, empty-response, 503]'))
    try {
      for (let i = 0; i < 4; i++) assert.equal((await request(lb.url())).body, 'well')
      const posts = await Promise.all([1, 2, 3, 4].map(() => request(lb.url(), { method: 'POST', body: 'x' })))
      assert.ok(posts.some((r) => r.status === 503 && r.body === 'sick'), 'a POST is not replayed after a 503')
    } finally {
      await lb.stop(100)
      await sick.close()
      await well.close()
    }
  })

  it('a server that closes the connection without answering is retried (empty response)', async () => {
    const rude = await startBackend('rude', (req) => req.socket.destroy())
    const well = await startBackend('well')
    const lb = await startBalancer(yaml({ rude: rude.address, well: well.address }))
    try {
      for (let i = 0; i < 6; i++) {
        const r = await request(lb.url())
        assert.equal(r.status, 200)
        assert.equal(r.body, 'well')
      }
    } finally {
      await lb.stop(100)
      await rude.close()
      await well.close()
    }
  })
})
