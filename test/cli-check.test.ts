import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'

/** The project root: this file runs as dist/test/cli-check.test.js. */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

function check(file: string): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['dist/src/cli/main.js', 'check', '-c', file], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1' },
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    child.on('error', fail)
    child.on('close', (code) => done({ code, stdout, stderr }))
  })
}

describe('switchyard check', () => {
  let dir = ''
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sy-check-'))
  })
  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('lists every problem of an invalid file as FILE:LINE:COL and exits 1', async () => {
    const file = join(dir, 'bad.yaml')
    await writeFile(
      file,
      [
        'frontends:',
        '  web:',
        '    listen: 127.0.0.1:0',
        '    routes:',
        '      - match: { path_prefix: /api }',
        '        backend: apii',
        '    default_backend: app',
        'backends:',
        '  app:',
        '    servers:',
        '      s1: { address: 127.0.0.1:38888, weigth: 2 }',
        '  api:',
        '    timeouts:',
        '      connect: 3 seconds',
        '    servers:',
        '      a1: { address: 127.0.0.1:38889 }',
        '',
      ].join('\n'),
    )
    const run = await check(file)
    assert.equal(run.code, 1, run.stderr)
    assert.equal(run.stdout, '')
    assert.deepEqual(run.stderr.trimEnd().split('\n'), [
      `${file}:6:18: route 1 of frontend 'web' names backend 'apii', which does not exist (did you mean 'api'?)`,
      `${file}:11:39: backends.app.servers.s1: unknown key 'weigth' (did you mean 'weight'?)`,
      `${file}:14:16: backends.api.timeouts.connect: '3 seconds' is not a duration (write it like 500ms, 2s, 1m or 1h)`,
    ])
  })

  it('reports a valid file with a summary and exits 0', async () => {
    const file = join(dir, 'good.yaml')
    await writeFile(
      file,
      [
        'frontends:',
        '  web:',
        '    listen: 127.0.0.1:0',
        '    default_backend: app',
        'backends:',
        '  app:',
        '    servers:',
        '      s1: { address: 127.0.0.1:38888 }',
        '      s2: { address: 127.0.0.1:38889 }',
        '  spare: {}',
        '',
      ].join('\n'),
    )
    const run = await check(file)
    assert.equal(run.code, 0, run.stderr)
    assert.equal(run.stdout, `${file}: ok (1 frontend, 2 backends, 2 servers)\n`)
    assert.equal(run.stderr, '')
  })

  it('says so clearly when the file does not exist, and exits 1', async () => {
    const file = join(dir, 'missing.yaml')
    const run = await check(file)
    assert.equal(run.code, 1)
    assert.equal(run.stdout, '')
    assert.equal(run.stderr, `${file}: cannot read the configuration file: no such file\n`)
  })
})
