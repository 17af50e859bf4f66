import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { CommandError } from '../src/providers/command.js'
import { createProvider } from '../src/providers/create-provider.js'
import { processRunning } from '../src/providers/process-group.js'
import type { Provider } from '../src/providers/provider.js'
import { killTree } from './helpers/sample-app.js'
import { waitFor } from './helpers/wait.js'

const s1 = { name: 's1', host: '10.0.0.1', port: 38888 }

function staticProvider(t: TestContext, deployCommand: string, commandTimeout = 5000): { provider: Provider; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-static-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const provider = createProvider('web', { type: 'static', deploy_command: deployCommand, command_timeout: commandTimeout }, { stateDir: dir })
  return { provider, dir }
}

const noAbort = (): AbortSignal => new AbortController().signal

test('deployInPlace runs deploy_command with the server and version, templated and in the environment', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-static-out-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const { provider } = staticProvider(
    t,
    `echo "{{server}} {{host}} {{port}} {{ version }} | $SWITCHYARD_SERVER $SWITCHYARD_HOST $SWITCHYARD_PORT $SWITCHYARD_VERSION" > '${dir}/{{server}}.txt'`,
  )
  assert.equal(provider.startsInstances, false)
  await provider.deployInPlace(s1, 'v2.1', noAbort())
  assert.equal(readFileSync(join(dir, 's1.txt'), 'utf8'), 's1 10.0.0.1 38888 v2.1 | s1 10.0.0.1 38888 v2.1\n')
})

test('a failing deploy_command rejects with its exit code and its last output', async (t) => {
  const { provider } = staticProvider(t, 'echo "copying files"; echo "disk full" >&2; exit 7')
  const err = await provider.deployInPlace(s1, 'v2', noAbort()).then(
    () => assert.fail('should reject'),
    (e: unknown) => e,
  )
  assert.ok(err instanceof CommandError)
  assert.equal(err.exitCode, 7)
  assert.equal(err.failure, 'exit')
  assert.match(err.message, /deploy_command for server s1 .* failed with exit code 7/)
  assert.match(err.message, /copying files\ndisk full/)
})

test('a hanging deploy_command is killed with everything it started at command_timeout', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-static-hang-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const { provider } = staticProvider(t, `sleep 30 & echo $! > '${dir}/child.pid'; wait`, 300)
  const started = Date.now()
  await assert.rejects(provider.deployInPlace(s1, 'v2', noAbort()), (err: unknown) => {
    assert.ok(err instanceof CommandError)
    assert.equal(err.failure, 'timeout')
    assert.match(err.message, /timed out after 300 ms/)
    return true
  })
  assert.ok(Date.now() - started < 3000)
  const child = Number(readFileSync(join(dir, 'child.pid'), 'utf8'))
  t.after(() => killTree(child))
  await waitFor('the background child to be killed', () => (processRunning(child) ? undefined : true))
})

test('an aborted deploy is killed and rejects', async (t) => {
  const { provider } = staticProvider(t, 'sleep 30')
  const abort = new AbortController()
  const deploy = provider.deployInPlace(s1, 'v2', abort.signal)
  setTimeout(() => abort.abort(), 50)
  await assert.rejects(deploy, /aborted/)
})

test('a version with shell syntax is refused before anything runs', async (t) => {
  const { provider, dir } = staticProvider(t, 'deploy {{version}}')
  const marker = join(dir, 'pwned')
  await assert.rejects(provider.deployInPlace(s1, `v2; touch '${marker}'`, noAbort()), /cannot go into a shell command/)
  assert.equal(existsSync(marker), false)
})

test('an unknown placeholder is an error that names the known ones', async (t) => {
  const { provider } = staticProvider(t, 'deploy {{release}}')
  await assert.rejects(provider.deployInPlace(s1, 'v2', noAbort()), /unknown placeholder \{\{release\}\} \(known: \{\{server\}\}/)
})

test('it starts no instances: start rejects clearly, stop and adopt have nothing to do', async (t) => {
  const { provider } = staticProvider(t, 'true')
  await assert.rejects(provider.start({ service: 'web', version: 'v2', index: 1, id: 'web-v2-1' }, noAbort()), /does not start instances/)
  const record = { id: 'x', service: 'web', version: 'v1', address: '127.0.0.1:1', started_at: 0 }
  await provider.stop(record)
  assert.deepEqual(await provider.adopt([record]), [])
  await provider.close()
})
