import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import type { z } from 'zod'
import { DEFAULTS } from '../src/config/defaults.js'
import { configSchema } from '../src/config/schema.js'

/**
 * docs/configuration.md documents each key in a table row `| `key` | type | `default` | what it does |`.
 * These tests keep that table in step with defaults.ts and schema.ts.
 */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const DOC = readFileSync(resolve(ROOT, 'docs', 'configuration.md'), 'utf8')

/** Row cells by key, from every table row whose first cell is a `key`. */
function documentedKeys(): Map<string, string[]> {
  const rows = new Map<string, string[]>()
  for (const line of DOC.split('\n')) {
    const cells = line.split(/(?<!\\)\|/).slice(1, -1).map((cell) => cell.trim())
    const key = /^`([^`]+)`$/.exec(cells[0] ?? '')?.[1]
    if (key !== undefined) rows.set(key, cells)
  }
  return rows
}

/** Where each section of DEFAULTS lives in the file. A new section without an entry maps to its own name. */
const SECTION_PATHS: Readonly<Record<string, string>> = {
  frontend: 'frontends.*',
  backend: 'backends.*',
  server: 'backends.*.servers.*',
  service: 'services.*',
  access_log_format: 'access_log.format',
}

function defaultLeaves(value: unknown, path: string, out: [string, unknown][] = []): [string, unknown][] {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    for (const [key, child] of Object.entries(value)) {
      const childPath = path === '' ? (SECTION_PATHS[key] ?? key) : `${path}.${key}`
      defaultLeaves(child, childPath, out)
    }
  } else {
    out.push([path, value])
  }
  return out
}

/** How a default is written in the table's default column. */
function render(value: unknown): string {
  return Array.isArray(value) ? `\`[${value.map(String).join(', ')}]\`` : `\`${String(value)}\``
}

interface SchemaDef {
  readonly type: string
  readonly shape?: Record<string, z.core.$ZodType>
  readonly innerType?: z.core.$ZodType
  readonly valueType?: z.core.$ZodType
  readonly element?: z.core.$ZodType
  readonly options?: readonly z.core.$ZodType[]
  readonly in?: z.core.$ZodType
}

/** Every key path the schema accepts: `*` for a name, `[]` for a list entry. */
function schemaKeys(schema: z.core.$ZodType, path: string, out: Set<string> = new Set()): Set<string> {
  const def = schema._zod.def as unknown as SchemaDef
  if (def.shape !== undefined) {
    for (const [key, child] of Object.entries(def.shape)) {
      const childPath = path === '' ? key : `${path}.${key}`
      out.add(childPath)
      schemaKeys(child, childPath, out)
    }
  }
  if (def.innerType !== undefined) schemaKeys(def.innerType, path, out)
  if (def.in !== undefined) schemaKeys(def.in, path, out)
  if (def.valueType !== undefined && def.type === 'record') schemaKeys(def.valueType, `${path}.*`, out)
  if (def.element !== undefined) schemaKeys(def.element, `${path}[]`, out)
  for (const option of def.options ?? []) schemaKeys(option, path, out)
  return out
}

describe('docs/configuration.md', () => {
  const rows = documentedKeys()

  it('shows every default of src/config/defaults.ts next to its key', () => {
    const leaves = defaultLeaves(DEFAULTS, '')
    assert.ok(leaves.length > 20, 'DEFAULTS was read')
    for (const [key, value] of leaves) {
      const row = rows.get(key)
      assert.ok(row !== undefined, `docs/configuration.md has no table row for \`${key}\``)
      assert.equal(row[2], render(value), `default of \`${key}\` in docs/configuration.md`)
    }
  })

  it('documents every key of the schema, and no key the schema lacks', () => {
    const keys = schemaKeys(configSchema, '')
    assert.ok(keys.has('backends.*.servers.*.address'), 'the schema was walked')
    const missing = [...keys].filter((key) => !rows.has(key))
    assert.deepEqual(missing, [], 'keys without a row in docs/configuration.md')
    const extra = [...rows.keys()].filter((key) => !keys.has(key))
    assert.deepEqual(extra, [], 'rows in docs/configuration.md for keys the schema does not have')
  })
})
