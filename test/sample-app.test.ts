import assert from 'node:assert/strict'
import { test } from 'node:test'
import { get, refuses, startSampleApp } from './helpers/sample-app.js'
import { waitFor, within } from './helpers/wait.js'

test('answers with its version in a header and in the body', async (t) => {
  const app = await startSampleApp(t, { APP_VERSION: 'v7', SWITCHYARD_INSTANCE: '3' })
  const reply = await get(app.address, '/hello?x=1')
  assert.equal(reply.status, 200)
  assert.equal(reply.headers['x-app-version'], 'v7')
  assert.deepEqual(JSON.parse(reply.body), { version: 'v7', instance: '3', path: '/hello' })
})

test('takes its version from SWITCHYARD_VERSION, else "dev"; its instance defaults to the pid', async (t) => {
  const fromSwitchyard = await startSampleApp(t, { APP_VERSION: '', SWITCHYARD_VERSION: 'v9' })
  assert.equal((await get(fromSwitchyard.address)).headers['x-app-version'], 'v9')
  const plain = await startSampleApp(t, { APP_VERSION: '', SWITCHYARD_VERSION: '', SWITCHYARD_INSTANCE: '' })
  assert.deepEqual(JSON.parse((await get(plain.address, '/')).body), { version: 'dev', instance: String(plain.pid), path: '/' })
})

test('GET /healthz answers 200 ok, with the version header', async (t) => {
  const app = await startSampleApp(t, { APP_VERSION: 'v1' })
  const reply = await get(app.address, '/healthz')
  assert.equal(reply.status, 200)
  assert.equal(reply.body, 'ok')
  assert.equal(reply.headers['x-app-version'], 'v1')
})

test('START_DELAY_MS delays listening', async (t) => {
  const started = Date.now()
  await startSampleApp(t, { START_DELAY_MS: '400' })
  assert.ok(Date.now() - started >= 400, `listened after ${Date.now() - started} ms`)
})

test('ERROR_RATE fails that share of non-health requests, in a fixed pattern', async (t) => {
  const app = await startSampleApp(t, { ERROR_RATE: '0.5' })
  const statuses: number[] = []
  for (let i = 0; i < 6; i++) {
    statuses.push((await get(app.address, '/work')).status)
    assert.equal((await get(app.address, '/healthz')).status, 200, 'health requests never fail and do not count')
  }
  assert.deepEqual(statuses, [200, 500, 200, 500, 200, 500])
  assert.equal((await get(app.address, '/work')).status, 200, 'the 7th of 7 at rate 0.5 passes')
  const all = await startSampleApp(t, { ERROR_RATE: '1', APP_VERSION: 'bad' })
  const reply = await get(all.address, '/x')
  assert.equal(reply.status, 500)
  assert.equal(JSON.parse(reply.body).version, 'bad', 'an error answer still says which version gave it')
})

test('EXTRA_LATENCY_MS slows every non-health answer', async (t) => {
  const app = await startSampleApp(t, { EXTRA_LATENCY_MS: '200' })
  const started = Date.now()
  assert.equal((await get(app.address, '/slow')).status, 200)
  assert.ok(Date.now() - started >= 200, `answered after ${Date.now() - started} ms`)
})

test('FAIL_HEALTH=1 makes /healthz fail while other paths still answer', async (t) => {
  const app = await startSampleApp(t, { FAIL_HEALTH: '1' })
  assert.equal((await get(app.address, '/healthz')).status, 500)
  assert.equal((await get(app.address, '/')).status, 200)
})

test('on SIGTERM it stops accepting, finishes the request in flight and exits 0', async (t) => {
  const app = await startSampleApp(t, { EXTRA_LATENCY_MS: '500', APP_VERSION: 'v1' })
  const inFlight = get(app.address, '/slow')
  await new Promise((r) => setTimeout(r, 150))
  app.child.kill('SIGTERM')
  await waitFor('the listener to close', () => (app.output().includes('got SIGTERM') ? true : undefined))
  assert.equal(await refuses(app.address), true, 'new connections are refused')
  const reply = await within('the request in flight', inFlight)
  assert.equal(reply.status, 200)
  assert.equal(reply.headers['x-app-version'], 'v1')
  assert.equal(reply.headers.connection, 'close')
  assert.deepEqual(await within('the exit', app.exited), { code: 0, signal: null })
})
