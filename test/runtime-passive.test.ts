import assert from 'node:assert/strict'
import { it } from 'node:test'
import { startBackend } from './helpers/backend.js'
import { startBalancer } from './helpers/balancer.js'
import { balancerYaml } from './helpers/config-yaml.js'
import { request } from './helpers/load.js'

it('passive checks eject a server after consecutive 5xx answers for eject_for, then take it back', async () => {
  let failing = true
  const bad = await startBackend('bad', (_req, res) => {
    res.writeHead(failing ? 500 : 200)
    res.end('bad')
  })
  const good = await startBackend('good')
  const lb = await startBalancer(
    balancerYaml({ backend: '    passive: { consecutive_failures: 2, eject_for: 600ms }', servers: { bad: bad.address, good: good.address } }),
  )
  try {
    for (let i = 0; i < 4; i++) await request(lb.url())
    assert.equal(lb.server('app', 'bad').state, 'DOWN', 'ejected after 2 failures in a row')
    const before = bad.received.length
    for (let i = 0; i < 6; i++) assert.equal((await request(lb.url())).body, 'good')
    assert.equal(bad.received.length, before, 'an ejected server gets no request')
    failing = false
    await new Promise((r) => setTimeout(r, 700))
    assert.equal(lb.server('app', 'bad').state, 'UP', 'back after eject_for')
    const bodies = new Set<string>()
    for (let i = 0; i < 4; i++) bodies.add((await request(lb.url())).body)
    assert.ok(bodies.has('bad'))
  } finally {
    await lb.stop(100)
    await bad.close()
    await good.close()
  }
})
