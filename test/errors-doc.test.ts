import assert from 'node:assert/strict'
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { it } from 'node:test'
import { ERRORS } from '../src/errors.js'
import { ROOT } from './helpers/balancer.js'

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : []
  })
}

it('docs/errors.md documents exactly the codes of the registry, each with its status', () => {
  const doc = readFileSync(join(ROOT, 'docs/errors.md'), 'utf8')
  const documented = new Set(doc.match(/SY_ERR_[A-Z0-9_]+/g) ?? [])
  for (const [code, spec] of Object.entries(ERRORS)) {
    assert.ok(documented.has(code), `${code} is missing from docs/errors.md`)
    const row = doc.split('\n').find((line) => line.startsWith(`| \`${code}\``))
    assert.ok(row !== undefined, `${code} has no table row`)
    if (spec.status >= 400 && spec.status < 600 && !code.startsWith('SY_ERR_CONFIG') && code !== 'SY_ERR_LISTEN') {
      assert.ok(row.includes(`| ${spec.status} |`), `${code} row shows status ${spec.status}`)
    }
  }
  for (const code of documented) assert.ok(code in ERRORS, `${code} is documented but not in the registry`)
})

it('every registered code is used somewhere in src/ besides the registry', () => {
  const text = sources(join(ROOT, 'src'))
    .filter((f) => !f.endsWith('errors.ts'))
    .map((f) => readFileSync(f, 'utf8'))
    .join('\n')
  for (const code of Object.keys(ERRORS)) assert.ok(text.includes(`'${code}'`), `${code} is registered but never used`)
})
