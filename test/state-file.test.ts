import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { describe, it } from 'node:test'
import { StateFile } from '../src/runtime/state-file.js'
import { type CounterState, validCounterState } from './helpers/state-writer.js'

interface Sample {
  readonly n: number
}

const validSample = (data: unknown): Sample | undefined =>
  typeof data === 'object' && data !== null && typeof (data as Record<string, unknown>).n === 'number' ? (data as Sample) : undefined

function setup(): { dir: string; file: string; problems: string[]; state: StateFile<Sample> } {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-state-'))
  const file = join(dir, 'state.json')
  const problems: string[] = []
  const state = new StateFile<Sample>(file, { validate: validSample, onProblem: (m) => problems.push(m) })
  return { dir, file, problems, state }
}

const leftoverTemps = (dir: string) => readdirSync(dir).filter((name) => name.includes('.tmp-'))

describe('StateFile', () => {
  it('round-trips data in a version 1 envelope, creating the directory', async () => {
    const { dir, problems } = setup()
    const file = join(dir, 'nested', 'deeper', 'state.json')
    const state = new StateFile<Sample>(file, { validate: validSample })
    await state.save({ n: 1 })
    assert.deepEqual(await state.load(), { n: 1 })
    const envelope = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>
    assert.equal(envelope.version, 1)
    assert.equal(new Date(String(envelope.saved_at)).toISOString(), envelope.saved_at)
    assert.deepEqual(envelope.data, { n: 1 })
    assert.deepEqual(problems, [])
    assert.deepEqual(leftoverTemps(join(dir, 'nested', 'deeper')), [])
  })

  it('returns undefined for a missing file, without a problem', async () => {
    const { state, problems } = setup()
    assert.equal(await state.load(), undefined)
    assert.deepEqual(problems, [])
  })

  it('falls back to the previous copy when the file is truncated, and keeps that copy on the next save', async () => {
    const { file, state, problems } = setup()
    await state.save({ n: 1 })
    await state.save({ n: 2 })
    truncateSync(file, Math.floor(statSync(file).size / 2))
    assert.deepEqual(await state.load(), { n: 1 })
    assert.equal(problems.length, 1)
    assert.match(problems[0]!, /state\.json is truncated or not valid JSON/)
    assert.ok(problems[0]!.includes(file), problems[0])
    // The bad file must not become the previous copy.
    await state.save({ n: 3 })
    truncateSync(file, 10)
    assert.deepEqual(await new StateFile<Sample>(file, { validate: validSample, onProblem: () => {} }).load(), { n: 1 })
  })

  it('returns undefined without throwing when both copies are garbage', async () => {
    const { file, state, problems } = setup()
    writeFileSync(file, '\u0000\u0001garbage')
    writeFileSync(`${file}.prev`, '{"version": 1, "saved_at"')
    assert.equal(await state.load(), undefined)
    assert.equal(problems.length, 1)
    assert.ok(problems[0]!.includes(file) && problems[0]!.includes(`${file}.prev`), problems[0])
  })

  it('falls back when the data fails validation or the version is unknown', async () => {
    const { file, state, problems } = setup()
    await state.save({ n: 1 })
    await state.save({ n: 2 })
    writeFileSync(file, JSON.stringify({ version: 1, saved_at: new Date().toISOString(), data: { n: 'two' } }))
    assert.deepEqual(await state.load(), { n: 1 })
    assert.match(problems[0]!, /holds invalid data/)
    writeFileSync(file, JSON.stringify({ version: 2, saved_at: new Date().toISOString(), data: { n: 2 } }))
    assert.deepEqual(await state.load(), { n: 1 })
    assert.match(problems[1]!, /format version 2/)
  })

  it('includes the message of a throwing validator in the problem', async () => {
    const { file, problems } = setup()
    const strict = new StateFile<Sample>(file, {
      validate: (data) => {
        const sample = validSample(data)
        if (sample === undefined) throw new Error('field n: expected a number')
        return sample
      },
      onProblem: (m) => problems.push(m),
    })
    writeFileSync(file, JSON.stringify({ version: 1, saved_at: '', data: {} }))
    assert.equal(await strict.load(), undefined)
    assert.match(problems[0]!, /field n: expected a number/)
  })

  it('removes leftover temp files on load and nothing else', async () => {
    const { dir, file, state } = setup()
    await state.save({ n: 1 })
    await state.save({ n: 2 })
    writeFileSync(`${file}.tmp-999-1`, '{"version": 1, "sav')
    writeFileSync(`${file}.tmp-999-2`, '')
    writeFileSync(join(dir, 'other.json'), '{}')
    assert.deepEqual(await state.load(), { n: 2 })
    assert.deepEqual(readdirSync(dir).sort(), ['other.json', 'state.json', 'state.json.prev'])
  })

  it('serialises concurrent saves in call order, the last one winning', async () => {
    const { dir, file, state } = setup()
    await Promise.all(Array.from({ length: 20 }, (_, i) => state.save({ n: i })))
    assert.deepEqual(await state.load(), { n: 19 })
    const previous = JSON.parse(readFileSync(`${file}.prev`, 'utf8')) as { data: Sample }
    assert.deepEqual(previous.data, { n: 18 })
    assert.deepEqual(leftoverTemps(dir), [])
  })

  it('saveSync writes durably and supersedes save() calls made before it', async () => {
    const { dir, file, state } = setup()
    state.saveSync({ n: 1 })
    assert.deepEqual(await state.load(), { n: 1 })
    const pending = state.save({ n: 2 })
    state.saveSync({ n: 3 })
    await pending
    assert.deepEqual(await state.load(), { n: 3 })
    await state.save({ n: 4 })
    assert.deepEqual(await new StateFile<Sample>(file, { validate: validSample }).load(), { n: 4 })
    assert.deepEqual(leftoverTemps(dir), [])
  })

  it('survives kill -9 during saves: every load is complete and holds at least the last reported counter', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-state-kill-'))
    const file = join(dir, 'state.json')
    const writer = new URL('./helpers/state-writer.js', import.meta.url).pathname
    let lastReported = 0
    for (let round = 0; round < 30; round++) {
      lastReported = Math.max(lastReported, await runAndKill(writer, file, 20 + Math.random() * 130))
      const problems: string[] = []
      const loaded = await new StateFile<CounterState>(file, { validate: validCounterState, onProblem: (m) => problems.push(m) }).load()
      assert.deepEqual(problems, [], `round ${round}`)
      if (lastReported > 0) {
        assert.ok(loaded !== undefined, `round ${round}: nothing loaded after counter ${lastReported} was saved`)
        assert.ok(loaded.counter >= lastReported, `round ${round}: loaded ${loaded.counter} < reported ${lastReported}`)
      }
      assert.deepEqual(leftoverTemps(dir), [], `round ${round}`)
    }
    assert.ok(lastReported > 30, `the writer saved only ${lastReported} counters`)
  })
})

/** Runs the writer, kills it with SIGKILL `afterMs` after it is ready, and returns the last counter it printed. */
function runAndKill(writer: string, file: string, afterMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [writer, file], { stdio: ['ignore', 'pipe', 'inherit'] })
    let last = 0
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line === 'ready') setTimeout(() => child.kill('SIGKILL'), afterMs)
      else last = Number(line)
    })
    child.once('error', reject)
    // 'close' comes after stdout is fully read, so `last` is final.
    child.once('close', (code, signal) =>
      signal === 'SIGKILL' ? resolve(last) : reject(new Error(`writer exited with code ${code} instead of being killed`)),
    )
  })
}
