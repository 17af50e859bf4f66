/**
 * The generated JSON Schema against the zod schema it comes from. No JSON Schema library is a dependency, so a
 * small validator for exactly the keywords the generator emits is below; it refuses any other keyword, so that
 * a keyword it does not understand cannot make it pass silently.
 */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { parse } from 'yaml'
import { configJsonSchema } from '../src/config/json-schema.js'
import { configSchema } from '../src/config/schema.js'
import { importHaproxy } from '../src/import/import-haproxy.js'
import { ROOT } from './helpers/balancer.js'

type Schema = { readonly [key: string]: unknown }

const IGNORED = new Set(['$schema', '$id', 'title', 'description', 'default', 'format'])
const CHECKED = new Set([
  'type', 'enum', 'const', 'properties', 'required', 'additionalProperties', 'propertyNames', 'items', 'anyOf', 'oneOf',
  'pattern', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'minLength', 'minItems',
])

function typeOf(value: unknown): string[] {
  if (value === null) return ['null']
  if (Array.isArray(value)) return ['array']
  if (typeof value === 'number') return Number.isInteger(value) ? ['integer', 'number'] : ['number']
  return [typeof value]
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Problems of `value` against `schema`, each as "path: what". */
function validate(schema: Schema, value: unknown, path = '$'): string[] {
  const problems: string[] = []
  const fail = (what: string) => problems.push(`${path}: ${what}`)
  for (const key of Object.keys(schema)) if (!IGNORED.has(key) && !CHECKED.has(key)) throw new Error(`validator does not know '${key}'`)
  const s = schema as Record<string, unknown>
  if (s.type !== undefined) {
    const allowed = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string]
    if (!typeOf(value).some((t) => allowed.includes(t))) return [`${path}: not of type ${allowed.join('|')}`]
  }
  if (s.enum !== undefined && !(s.enum as unknown[]).includes(value)) fail(`not one of ${JSON.stringify(s.enum)}`)
  if (s.const !== undefined && s.const !== value) fail(`not ${JSON.stringify(s.const)}`)
  if (s.anyOf !== undefined && !(s.anyOf as Schema[]).some((sub) => validate(sub, value, path).length === 0)) fail('matches no alternative')
  if (s.oneOf !== undefined && (s.oneOf as Schema[]).filter((sub) => validate(sub, value, path).length === 0).length !== 1) fail('does not match exactly one alternative')
  if (typeof value === 'string') {
    if (s.pattern !== undefined && !new RegExp(s.pattern as string, 'u').test(value)) fail(`does not match ${String(s.pattern)}`)
    if (s.minLength !== undefined && value.length < (s.minLength as number)) fail('too short')
  }
  if (typeof value === 'number') {
    if (s.minimum !== undefined && value < (s.minimum as number)) fail('too small')
    if (s.maximum !== undefined && value > (s.maximum as number)) fail('too large')
    if (s.exclusiveMinimum !== undefined && value <= (s.exclusiveMinimum as number)) fail('too small')
    if (s.exclusiveMaximum !== undefined && value >= (s.exclusiveMaximum as number)) fail('too large')
  }
  if (Array.isArray(value)) {
    if (s.minItems !== undefined && value.length < (s.minItems as number)) fail('too few items')
    if (s.items !== undefined) value.forEach((item, i) => problems.push(...validate(s.items as Schema, item, `${path}[${i}]`)))
  }
  if (isRecord(value)) {
    const properties = (s.properties ?? {}) as Record<string, Schema>
    for (const key of (s.required ?? []) as string[]) if (!(key in value)) fail(`missing '${key}'`)
    for (const [key, item] of Object.entries(value)) {
      if (s.propertyNames !== undefined) problems.push(...validate(s.propertyNames as Schema, key, `${path}.${key} (name)`))
      if (key in properties) problems.push(...validate(properties[key]!, item, `${path}.${key}`))
      else if (s.additionalProperties === false) fail(`unknown key '${key}'`)
      else if (isRecord(s.additionalProperties)) problems.push(...validate(s.additionalProperties, item, `${path}.${key}`))
    }
  }
  return problems
}

/** Every configuration in the repository: examples/*.yaml, the YAML blocks of docs/ that zod accepts, imports. */
function repositoryConfigs(): { name: string; value: unknown }[] {
  const found: { name: string; value: unknown }[] = []
  for (const file of readdirSync(join(ROOT, 'examples')).filter((f) => f.endsWith('.yaml'))) {
    found.push({ name: `examples/${file}`, value: parse(readFileSync(join(ROOT, 'examples', file), 'utf8')) })
  }
  for (const file of readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md'))) {
    const text = readFileSync(join(ROOT, 'docs', file), 'utf8')
    for (const [i, block] of [...text.matchAll(/```yaml\n([\s\S]*?)```/g)].entries()) {
      try {
        const value: unknown = parse(block[1]!)
        if (configSchema.safeParse(value).success) found.push({ name: `docs/${file} block ${i + 1}`, value })
      } catch {
        // not a whole configuration (a fragment): nothing to compare
      }
    }
  }
  for (const file of ['http-with-httpchk-and-cookie.cfg', 'canary-weights.cfg', 'listen-with-stats.cfg']) {
    const text = readFileSync(join(ROOT, 'test/fixtures/haproxy', file), 'utf8')
    found.push({ name: `import of ${file}`, value: importHaproxy(text, file).config })
  }
  return found
}

describe('JSON Schema of the configuration', () => {
  const schema = configJsonSchema()

  it('is generated from the zod schema: same top-level keys, required ones, and strict objects everywhere', () => {
    assert.deepEqual(Object.keys(schema.properties as object), Object.keys(configSchema.shape))
    assert.deepEqual(schema.required, ['frontends', 'backends'])
    let objects = 0
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) return node.forEach(walk)
      if (!isRecord(node)) return
      if (isRecord(node.properties) && node.type === 'object') {
        objects++
        assert.equal(node.additionalProperties, false, `not strict: ${Object.keys(node.properties).join(', ')}`)
      }
      Object.values(node).forEach(walk)
    }
    walk(schema)
    assert.ok(objects > 20, `only ${objects} objects found`)
  })

  it('accepts every example configuration in the repository, each of which zod accepts too', () => {
    const configs = repositoryConfigs()
    assert.ok(configs.some((c) => c.name.startsWith('examples/')))
    for (const { name, value } of configs) {
      assert.deepEqual(validate(schema, value), [], name)
      assert.ok(configSchema.safeParse(value).success, name)
    }
  })

  it('rejects wrong configurations, as zod does', () => {
    const example = parse(readFileSync(join(ROOT, 'examples/switchyard.yaml'), 'utf8')) as Record<string, Record<string, Record<string, unknown>>>
    const wrong: Record<string, unknown> = {
      'unknown top-level key': { ...example, frontend: {} },
      'missing backends': { frontends: example.frontends },
      'misspelt backend key': { ...example, backends: { app: { balnce: 'roundrobin', servers: {} } } },
      'unknown balance': { ...example, backends: { app: { balance: 'fastest' } } },
      'weight out of range': { ...example, backends: { app: { servers: { s1: { address: '127.0.0.1:1', weight: 1000 } } } } },
      'bad backend name': { ...example, backends: { 'a b': {} } },
      'bad hash key': { ...example, backends: { app: { balance: 'hash', hash_key: 'body' } } },
    }
    for (const [what, value] of Object.entries(wrong)) {
      assert.notDeepEqual(validate(schema, value), [], `schema accepted: ${what}`)
      assert.equal(configSchema.safeParse(value).success, false, `zod accepted: ${what}`)
    }
  })
})
