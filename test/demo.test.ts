import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { it } from 'node:test'
import { CLI, ROOT } from './helpers/balancer.js'

it('switchyard demo runs three releases under load with no failed request, prints the table, cleans up and exits 0', async () => {
  const child = spawn(process.execPath, [CLI, 'demo'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (c: Buffer) => (out += c.toString()))
  child.stderr.on('data', (c: Buffer) => (out += c.toString()))
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  assert.equal(code, 0, out)
  for (const strategy of ['rolling', 'surge', 'bluegreen']) assert.match(out, new RegExp(`^  ${strategy} +v\\d -> v\\d .* 0 +\\d+ +[\\d.]+$`, 'm'))
  assert.match(out, / 0 failed\./)
  assert.match(out, /stats page on http:\/\/127\.0\.0\.1:\d+\/stats/)
  const folder = /working folder (\S+)\)/.exec(out)?.[1]
  assert.ok(folder !== undefined)
  const { existsSync } = await import('node:fs')
  assert.equal(existsSync(folder), false, 'the temporary folder is removed')
})
