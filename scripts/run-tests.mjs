#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with node's built-in runner.
// Node 20's runner would also execute helper modules under test/ as tests and has no glob support,
// so the file list is collected here. Extra arguments are passed through (e.g. a single file).
// Tests of test/resilience record rows (case, load, failed requests, crashes) in a file; the table is printed
// after the runner's summary.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

function collect(dir) {
  const out = []
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) out.push(...collect(path))
    else if (name.endsWith('.test.js')) out.push(path)
  }
  return out
}

function printSummary(file) {
  if (!existsSync(file)) return
  const rows = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l))
  if (rows.length === 0) return
  const header = ['case', 'load', 'failed', 'crashes', 'note']
  const cells = rows.map((r) => [r.case, r.load, String(r.failed), String(r.crashes), r.note ?? ''])
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)))
  const line = (values) => `| ${values.map((v, i) => v.padEnd(widths[i])).join(' | ')} |`
  console.log('\nResilience summary')
  console.log(line(header))
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`)
  for (const c of cells) console.log(line(c))
  const failed = rows.reduce((n, r) => n + r.failed, 0)
  const crashes = rows.reduce((n, r) => n + r.crashes, 0)
  console.log(`${rows.length} cases, ${failed} failed, ${crashes} crashes`)
}

const args = process.argv.slice(2)
const files = args.length > 0 ? args : collect('dist/test')
const concurrency = process.env.TEST_CONCURRENCY ?? '2'
const dir = mkdtempSync(join(tmpdir(), 'switchyard-summary-'))
const summary = join(dir, 'resilience.jsonl')
const result = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, ...files], {
  stdio: 'inherit',
  env: { ...process.env, SWITCHYARD_RESILIENCE_SUMMARY: summary },
})
printSummary(summary)
rmSync(dir, { recursive: true, force: true })
process.exit(result.status ?? 1)
