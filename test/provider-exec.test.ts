import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { createProvider } from '../src/providers/create-provider.js'
import type { Provider } from '../src/providers/provider.js'

function execProvider(t: TestContext, startCommand: string, stopCommand = 'true'): { provider: Provider; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-exec-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const config = { type: 'exec', start_command: startCommand, stop_command: stopCommand, instances: 1, command_timeout: 2000 } as const
  return { provider: createProvider('api', config, { stateDir: dir }), dir }
}

const request = { service: 'api', version: 'v3', index: 2, id: 'api-v3-2' }
const noAbort = (): AbortSignal => new AbortController().signal

test('start_command gets the service, version, instance and id; its last line is the address', async (t) => {
  const { provider } = execProvider(t, 'echo "booting {{service}} {{version}} {{instance}} {{id}}"; echo; echo " 10.1.2.3:8080 "; echo')
  const record = await provider.start(request, noAbort())
  assert.deepEqual({ ...record, started_at: 0 }, { id: 'api-v3-2', service: 'api', version: 'v3', address: '10.1.2.3:8080', started_at: 0 })
  const env = execProvider(t, 'echo "[::1]:$((9000 + SWITCHYARD_INSTANCE))"').provider
  assert.equal((await env.start(request, noAbort())).address, '[::1]:9002')
})

test('start rejects when the last line of output is not host:port, quoting it', async (t) => {
  const { provider } = execProvider(t, 'echo "instance i-123 is starting"')
  await assert.rejects(provider.start(request, noAbort()), /must print the new instance's host:port .* ended with "instance i-123 is starting"/)
  const silent = execProvider(t, 'true').provider
  await assert.rejects(silent.start(request, noAbort()), /ended with nothing/)
})

test('a failing start_command rejects with its exit code', async (t) => {
  const { provider } = execProvider(t, 'echo "quota exceeded" >&2; exit 4')
  await assert.rejects(provider.start(request, noAbort()), /start_command of api-v3-2 .* failed with exit code 4[\s\S]*quota exceeded/)
})

test('stop_command gets the address, host, port, version and id', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-exec-out-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const { provider } = execProvider(t, 'true', `echo "{{address}} {{host}} {{port}} {{version}} {{id}} $SWITCHYARD_ADDRESS" > '${dir}/stop.txt'`)
  await provider.stop({ id: 'api-v3-2', service: 'api', version: 'v3', address: '10.1.2.3:8080', started_at: 0 })
  assert.equal(readFileSync(join(dir, 'stop.txt'), 'utf8'), '10.1.2.3:8080 10.1.2.3 8080 v3 api-v3-2 10.1.2.3:8080\n')
})

test('adopt keeps the records as they are; deployInPlace is not its business', async (t) => {
  const { provider } = execProvider(t, 'true')
  const record = { id: 'api-v3-2', service: 'api', version: 'v3', address: '10.1.2.3:8080', started_at: 0 }
  assert.deepEqual(await provider.adopt([record]), [record])
  await assert.rejects(provider.deployInPlace({ name: 's1', host: 'h', port: 1 }, 'v3', noAbort()), /does not deploy in place/)
})
