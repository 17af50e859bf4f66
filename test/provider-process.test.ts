/** What only the process provider does: logs, crash restarts, adoption after a balancer crash, forced stops. */
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import type { ProviderConfig } from '../src/config/schema.js'
import { ProcessProvider } from '../src/providers/process-provider.js'
import type { InstanceRecord } from '../src/providers/provider.js'
import { cleanups } from './helpers/cleanup.js'
import { get, killTree, SAMPLE_APP, waitAnswering } from './helpers/sample-app.js'
import { waitFor } from './helpers/wait.js'

type ProcessConfig = Extract<ProviderConfig, { type: 'process' }>

const appConfig: ProcessConfig = {
  type: 'process',
  command: `'${process.execPath}' '${SAMPLE_APP}'`,
  env: { APP_VERSION: '{{version}}' },
  instances: 1,
  host: '127.0.0.1',
  stop_timeout: 3000,
}

interface Event {
  readonly kind: 'exited' | 'restarted'
  readonly record: InstanceRecord
  readonly detail?: string
}

interface Harness {
  readonly dir: string
  readonly events: Event[]
  /** A provider (another one per call: a restarted balancer); every pid it reports is killed when the test ends. */
  provider(config?: ProcessConfig): ProcessProvider
  track(record: InstanceRecord): void
}

function harness(t: TestContext): Harness {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-process-'))
  const after = cleanups(t)
  after(() => rmSync(dir, { recursive: true, force: true }))
  const pids = new Set<number>()
  after(() => pids.forEach(killTree))
  const events: Event[] = []
  const track = (record: InstanceRecord): void => {
    if (record.pid !== undefined) pids.add(record.pid)
  }
  const observer = {
    instanceExited: (record: InstanceRecord, detail: string) => events.push({ kind: 'exited', record, detail }),
    instanceRestarted: (record: InstanceRecord) => {
      track(record)
      events.push({ kind: 'restarted', record })
    },
  }
  return {
    dir,
    events,
    track,
    provider: (config = appConfig) => {
      const provider = new ProcessProvider('app', config, { stateDir: dir, observer })
      after(() => provider.stopAll())
      after(() => provider.close())
      return provider
    },
  }
}

async function startOne(h: Harness, provider: ProcessProvider, version = 'v1', index = 1): Promise<InstanceRecord> {
  const record = await provider.start({ service: 'app', version, index, id: `app-${version}-${index}` }, new AbortController().signal)
  h.track(record)
  return record
}

/** kill(pid, 0) throws ESRCH. */
function gone(pid: number): true | undefined {
  try {
    process.kill(pid, 0)
    return undefined
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH' ? true : undefined
  }
}

test('an instance writes its output to state_dir/logs/SERVICE/ID.log', async (t) => {
  const h = harness(t)
  const record = await startOne(h, h.provider())
  await waitAnswering(record.address)
  const log = join(h.dir, 'logs', 'app', 'app-v1-1.log')
  const text = await waitFor('the listening line in the log', () => {
    const content = readFileSync(log, 'utf8')
    return content.includes('listening on') ? content : undefined
  })
  assert.match(text, new RegExp(`started app-v1-1 .* as pid ${record.pid}`))
  assert.match(text, new RegExp(`sample app v1 \\(instance 1\\) listening on http://${record.address}`))
})

test('a command that exits at once fails the start with its output', async (t) => {
  const h = harness(t)
  const provider = h.provider({ ...appConfig, command: 'echo "no such thing" >&2; exit 3' })
  await assert.rejects(startOne(h, provider), /exited right after it started, with exit code 3[\s\S]*no such thing/)
})

test('a crashed instance is reported, then restarted on the same address', async (t) => {
  const h = harness(t)
  const record = await startOne(h, h.provider())
  await waitAnswering(record.address)
  process.kill(record.pid ?? 0, 'SIGKILL')
  const exited = await waitFor('instanceExited', () => h.events.find((e) => e.kind === 'exited'))
  assert.equal(exited.record.id, record.id)
  assert.match(exited.detail ?? '', /SIGKILL/)
  const restarted = await waitFor('instanceRestarted', () => h.events.find((e) => e.kind === 'restarted'), 5000)
  assert.deepEqual(h.events.map((e) => e.kind), ['exited', 'restarted'])
  assert.equal(restarted.record.id, record.id)
  assert.equal(restarted.record.address, record.address)
  assert.notEqual(restarted.record.pid, record.pid)
  await waitAnswering(record.address)
  assert.equal((await get(record.address)).headers['x-app-version'], 'v1')
})

test('after a balancer crash a new provider adopts the live instances, and stopAll leaves none', async (t) => {
  const h = harness(t)
  const first = h.provider()
  const live = await startOne(h, first, 'v1', 1)
  const dead = await startOne(h, first, 'v1', 2)
  await first.stop(dead)
  // The balancer "dies": its provider stops watching, the instances run on.
  await first.close()
  const second = h.provider()
  const adopted = await second.adopt([live, dead])
  assert.deepEqual(adopted.map((r) => r.id), [live.id])
  await waitAnswering(live.address)
  await second.stopAll()
  await waitFor('the adopted process to be gone', () => gone(live.pid ?? 0))
  assert.deepEqual(h.events, [], 'stops are not crashes')
})

test('an adopted instance that dies is restarted like a crashed one', async (t) => {
  const h = harness(t)
  const first = h.provider()
  const record = await startOne(h, first)
  await first.close()
  const second = h.provider()
  await second.adopt([record])
  process.kill(record.pid ?? 0, 'SIGKILL')
  const restarted = await waitFor('instanceRestarted', () => h.events.find((e) => e.kind === 'restarted'), 6000)
  assert.equal(restarted.record.address, record.address)
  await waitAnswering(record.address)
  await second.stopAll()
  await waitFor('the restarted process to be gone', () => gone(restarted.record.pid ?? 0))
})

test('stop escalates to SIGKILL when the instance ignores SIGTERM', async (t) => {
  const h = harness(t)
  const stubborn: ProcessConfig = { ...appConfig, command: "trap '' TERM; while :; do sleep 0.1; done", stop_timeout: 500 }
  const provider = h.provider(stubborn)
  const record = await startOne(h, provider)
  const started = Date.now()
  await provider.stop(record)
  const took = Date.now() - started
  assert.ok(took >= 450 && took < 3000, `stop took ${took} ms with a stop_timeout of 500 ms`)
  await waitFor('the process to be gone', () => gone(record.pid ?? 0))
  assert.match(readFileSync(join(h.dir, 'logs', 'app', 'app-v1-1.log'), 'utf8'), /stopped app-v1-1 \(killed\)/)
  assert.deepEqual(h.events, [])
})

test('an instance does not inherit the admin token (SWITCHYARD_TOKEN) from the balancer', async (t) => {
  const h = harness(t)
  const previous = process.env.SWITCHYARD_TOKEN
  process.env.SWITCHYARD_TOKEN = 'secret-admin-token'
  process.env.SWITCHYARD_TEST_MARKER = 'inherited'
  t.after(() => {
    if (previous === undefined) delete process.env.SWITCHYARD_TOKEN
    else process.env.SWITCHYARD_TOKEN = previous
    delete process.env.SWITCHYARD_TEST_MARKER
  })
  const out = join(h.dir, 'env.txt')
  const provider = h.provider({ ...appConfig, command: `env > ${out}; exec sleep 30` })
  await startOne(h, provider)
  const env = await waitFor('the environment written', () => {
    try {
      const text = readFileSync(out, 'utf8')
      return text.includes('SWITCHYARD_INSTANCE_ID=') ? text : undefined
    } catch {
      return undefined
    }
  })
  assert.match(env, /^SWITCHYARD_TEST_MARKER=inherited$/m, 'the rest of the environment is inherited')
  assert.doesNotMatch(env, /SWITCHYARD_TOKEN/)
})
