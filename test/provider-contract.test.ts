/**
 * The one contract suite of the providers that start instances (process, exec), over real sample-app processes.
 * exec's commands start the sample app in the background on a port picked by a node one-liner and keep its pid
 * in a file, which stop_command reads.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { createProvider } from '../src/providers/create-provider.js'
import { processRunning } from '../src/providers/process-group.js'
import type { InstanceRecord, Provider } from '../src/providers/provider.js'
import type { ProviderConfig } from '../src/config/schema.js'
import { cleanups } from './helpers/cleanup.js'
import { get, killTree, refuses, SAMPLE_APP, waitAnswering } from './helpers/sample-app.js'

interface Subject {
  readonly name: 'process' | 'exec'
  config(dir: string): ProviderConfig
  /** The pid of the sample app behind a record. */
  pidOf(record: InstanceRecord, dir: string): number | undefined
}

const quote = (text: string): string => `'${text.replace(/'/g, `'\\''`)}'`
const PICK_PORT = `const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})`

const subjects: Subject[] = [
  {
    name: 'process',
    config: () => ({
      type: 'process',
      command: `${quote(process.execPath)} ${quote(SAMPLE_APP)}`,
      env: { APP_VERSION: 'app-{{version}}' },
      instances: 2,
      host: '127.0.0.1',
      stop_timeout: 3000,
    }),
    pidOf: (record) => record.pid,
  },
  {
    name: 'exec',
    config: (dir) => ({
      type: 'exec',
      start_command: [
        `port=$(${quote(process.execPath)} -e ${quote(PICK_PORT)})`,
        `APP_VERSION=app-{{version}} SWITCHYARD_INSTANCE={{instance}} PORT=$port ${quote(process.execPath)} ${quote(SAMPLE_APP)} >/dev/null 2>&1 &`,
        `echo $! > ${quote(dir)}/{{id}}.pid`,
        'echo "started {{id}}"',
        'echo 127.0.0.1:$port',
      ].join('\n'),
      // An orphan may stay a zombie where nothing reaps it: that counts as gone.
      stop_command: [
        `pid=$(cat ${quote(dir)}/{{id}}.pid) || exit 0`,
        'kill $pid 2>/dev/null',
        "while kill -0 $pid 2>/dev/null && ! grep -qs ') Z' /proc/$pid/stat; do sleep 0.05; done",
      ].join('\n'),
      instances: 2,
      command_timeout: 5000,
    }),
    pidOf: (record, dir) => Number(readFileSync(join(dir, `${record.id}.pid`), 'utf8')),
  },
]

interface Setup {
  readonly dir: string
  readonly provider: Provider
  /** A second provider of the same config (a restarted balancer). */
  another(): Provider
  /** Starts instance `index` of version `version`; stopped and killed when the test ends. */
  start(version: string, index: number): Promise<InstanceRecord>
}

function setUp(t: TestContext, subject: Subject): Setup {
  const dir = mkdtempSync(join(tmpdir(), `switchyard-${subject.name}-`))
  const config = subject.config(dir)
  const after = cleanups(t)
  after(() => rmSync(dir, { recursive: true, force: true }))
  const make = (): Provider => {
    const provider = createProvider('app', config, { stateDir: dir })
    after(() => provider.close())
    return provider
  }
  const provider = make()
  return {
    dir,
    provider,
    another: make,
    start: async (version, index) => {
      const record = await provider.start({ service: 'app', version, index, id: `app-${version}-${index}` }, new AbortController().signal)
      const pid = subject.pidOf(record, dir)
      after(() => {
        if (pid !== undefined) killTree(pid)
      })
      after(() => provider.stop(record))
      return record
    },
  }
}

for (const subject of subjects) {
  test(`${subject.name}: start gives an address where the app answers with its version`, async (t) => {
    const { start } = setUp(t, subject)
    const record = await start('v2', 1)
    assert.equal(record.id, 'app-v2-1')
    assert.equal(record.service, 'app')
    assert.equal(record.version, 'v2')
    assert.match(record.address, /^127\.0\.0\.1:\d+$/)
    assert.ok(record.started_at <= Date.now())
    await waitAnswering(record.address)
    const reply = await get(record.address, '/hello')
    assert.equal(reply.headers['x-app-version'], 'app-v2')
    assert.deepEqual(JSON.parse(reply.body), { version: 'app-v2', instance: '1', path: '/hello' })
  })

  test(`${subject.name}: stop makes the address refuse and ends the process`, async (t) => {
    const { start, provider, dir } = setUp(t, subject)
    const record = await start('v1', 1)
    await waitAnswering(record.address)
    const pid = subject.pidOf(record, dir)
    assert.ok(pid !== undefined && processRunning(pid))
    await provider.stop(record)
    assert.equal(await refuses(record.address), true)
    assert.equal(processRunning(pid), false)
    await provider.stop(record) // already gone: no rejection
  })

  test(`${subject.name}: two instances get distinct ids and addresses`, async (t) => {
    const { start } = setUp(t, subject)
    const [a, b] = await Promise.all([start('v1', 1), start('v1', 2)])
    assert.notEqual(a.id, b.id)
    assert.notEqual(a.address, b.address)
    await Promise.all([waitAnswering(a.address), waitAnswering(b.address)])
    assert.equal(JSON.parse((await get(a.address)).body).instance, '1')
    assert.equal(JSON.parse((await get(b.address)).body).instance, '2')
  })

  test(`${subject.name}: a new provider adopts the live instances`, async (t) => {
    const { start, provider, another } = setUp(t, subject)
    const record = await start('v1', 1)
    await waitAnswering(record.address)
    await provider.close()
    const adopted = await another().adopt([record])
    assert.deepEqual(
      adopted.map((r) => [r.id, r.address, r.version]),
      [[record.id, record.address, 'v1']],
    )
    assert.equal((await get(record.address)).headers['x-app-version'], 'app-v1')
  })
}
