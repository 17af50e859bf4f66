import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import type { DeploymentRecord } from '../src/deploy/deployment-record.js'
import { DeploymentStore } from '../src/deploy/deployment-store.js'
import { StateFile } from '../src/runtime/state-file.js'
import { T0, sampleRecord } from './helpers/deployment-fixtures.js'

function setup(now = () => T0) {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-deploys-'))
  const problems: string[] = []
  const store = new DeploymentStore(dir, { onProblem: (m) => problems.push(m), now })
  return { dir, problems, store }
}

/** Counts StateFile writes while `body` runs (StateFile is our own seam; the files are real). */
async function countingWrites<T>(body: () => Promise<T>): Promise<{ writes: number; result: T }> {
  const original = StateFile.prototype.save
  let writes = 0
  StateFile.prototype.save = function (this: StateFile<unknown>, data: unknown) {
    writes++
    return original.call(this, data)
  }
  try {
    const result = await body()
    return { writes, result }
  } finally {
    StateFile.prototype.save = original
  }
}

describe('DeploymentStore', () => {
  it('keeps each record as deployments/<id>.json and reads it back', async () => {
    const { dir, store } = setup()
    const record = sampleRecord()
    await store.save(record)
    assert.deepEqual(await store.get(record.id), record)
    const envelope = JSON.parse(readFileSync(join(dir, 'deployments', `${record.id}.json`), 'utf8')) as { version: number; data: { id: string } }
    assert.equal(envelope.version, 1)
    assert.equal(envelope.data.id, record.id)
    assert.equal(await new DeploymentStore(dir).get(record.id).then((r) => r?.status), 'succeeded')
  })

  it('reads a first release back with from undefined', async () => {
    const { store } = setup()
    const record = sampleRecord({ from: undefined, id: 'app-first' })
    await store.save(record)
    const loaded = await store.get('app-first')
    assert.ok(loaded !== undefined && 'from' in loaded)
    assert.equal(loaded.from, undefined)
  })

  it('returns undefined for unknown and invalid ids, and refuses to save under an invalid id', async () => {
    const { store } = setup()
    assert.equal(await store.get('nope'), undefined)
    assert.equal(await store.get('../etc/passwd'), undefined)
    await assert.rejects(store.save(sampleRecord({ id: '../x' })), /invalid deployment id/)
    assert.throws(() => store.saveSync(sampleRecord({ id: '.hidden' })), /invalid deployment id/)
  })

  it('coalesces frequent saves: one write in flight, the latest data next, every caller resolved', async () => {
    const { store } = setup()
    const { writes, result } = await countingWrites(async () => {
      const saves: Promise<void>[] = []
      for (let i = 0; i < 50; i++) saves.push(store.save(sampleRecord({ error: `save ${i}` })))
      await Promise.all(saves)
      return store.get(sampleRecord().id)
    })
    assert.equal(result?.error, 'save 49')
    assert.ok(writes <= 2, `${writes} writes`)
  })

  it('a save resolves only once its data (or newer) is on disk', async () => {
    const { dir, store } = setup()
    const first = store.save(sampleRecord({ error: 'a' }))
    const second = store.save(sampleRecord({ error: 'b' }))
    await second
    assert.equal((await new DeploymentStore(dir).get(sampleRecord().id))?.error, 'b')
    await first
  })

  it('saveSync writes at once and supersedes a waiting save', async () => {
    const { store } = setup()
    const inFlight = store.save(sampleRecord({ error: 'old 1' }))
    const waiting = store.save(sampleRecord({ error: 'old 2' }))
    store.saveSync(sampleRecord({ error: 'final' }))
    await Promise.all([inFlight, waiting])
    assert.equal((await store.get(sampleRecord().id))?.error, 'final')
  })

  it('rejects when the write fails', async () => {
    const { dir } = setup()
    const blocker = join(dir, 'file')
    writeFileSync(blocker, 'not a directory')
    const store = new DeploymentStore(blocker)
    await assert.rejects(store.save(sampleRecord()))
  })

  it('lists newest first, by service, skipping copies and reporting unreadable files', async () => {
    const { dir, problems, store } = setup()
    const a = sampleRecord({ id: 'app-1', started_at: T0 })
    const b = sampleRecord({ id: 'app-2', started_at: T0 + 60_000 })
    const c = sampleRecord({ id: 'api-1', service: 'api', started_at: T0 + 30_000 })
    for (const r of [a, b, c]) await store.save(r)
    await store.save(b) // leaves app-2.json.prev beside it
    writeFileSync(join(dir, 'deployments', 'broken.json'), '{"version": 1, "data": {"id": 3}}')
    writeFileSync(join(dir, 'deployments', 'notes.txt'), 'hello')
    assert.ok(readdirSync(join(dir, 'deployments')).includes('app-2.json.prev'))

    assert.deepEqual((await store.list()).map((r) => r.id), ['app-2', 'api-1', 'app-1'])
    assert.deepEqual((await store.list('app')).map((r) => r.id), ['app-2', 'app-1'])
    assert.ok(problems.length > 0)
    for (const problem of problems) assert.match(problem, /broken\.json/)
  })

  it('lists nothing when no deployment was ever saved', async () => {
    const { store } = setup()
    assert.deepEqual(await store.list(), [])
  })

  it('makes sortable unique ids from the service and the UTC time', () => {
    let now = T0
    const { store } = setup(() => now)
    const ids = new Set<string>()
    for (let i = 0; i < 300; i++) ids.add(store.newId('app'))
    assert.equal(ids.size, 300)
    for (const id of ids) assert.match(id, /^app-20261121-213000-[0-9a-f]{3}$/)
    now = T0 + 61_000
    const later = store.newId('app')
    assert.match(later, /^app-20261121-213101-[0-9a-f]{3}$/)
    assert.ok([...ids].every((id) => id < later))
    assert.match(store.newId('my app/x'), /^my-app-x-20261121-/)
  })

  it('marks running and paused deployments interrupted at start, and saves that', async () => {
    const { dir, store } = setup()
    const records: DeploymentRecord[] = [
      sampleRecord({ id: 'app-1', status: 'running', ended_at: undefined }),
      sampleRecord({ id: 'app-2', status: 'paused', ended_at: undefined, started_at: T0 + 1000 }),
      sampleRecord({ id: 'app-3', status: 'succeeded' }),
    ]
    for (const r of records) await store.save(r)

    const restarted = new DeploymentStore(dir)
    const interrupted = await restarted.markInterrupted()
    assert.deepEqual(interrupted.map((r) => [r.id, r.status]), [['app-2', 'interrupted'], ['app-1', 'interrupted']])
    const again = new DeploymentStore(dir)
    assert.equal((await again.get('app-1'))?.status, 'interrupted')
    assert.equal((await again.get('app-2'))?.status, 'interrupted')
    assert.equal((await again.get('app-3'))?.status, 'succeeded')
    assert.deepEqual(await again.markInterrupted(), [])
  })
})
