/**
 * The OpenAPI description (src/admin/openapi.ts) against the admin server it describes: the same paths and
 * methods as the routes served, body schemas generated from the zod schemas that validate them, real answers
 * that fit the documented schemas with a documented status, and docs/openapi.json up to date. A small validator
 * for exactly the keywords the document uses is below (no JSON Schema library is a dependency); it refuses any
 * other keyword, so that one it does not understand cannot make a check pass silently.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { z } from 'zod'
import { deployBody, emptyBody, newServerBody, serverChangeBody } from '../src/admin/admin-bodies.js'
import type { AdminRoute } from '../src/admin/admin-router.js'
import { AdminServer } from '../src/admin/admin-server.js'
import { openApiDocument } from '../src/admin/openapi.js'
import type { LoadBalancer } from '../src/load-balancer.js'
import { cli } from './admin-cli-runner.js'
import { FakeControl } from './admin-fake-control.js'
import { TOKEN } from './admin-harness.js'
import { ROOT, startBalancer } from './helpers/balancer.js'
import { balancerYaml } from './helpers/config-yaml.js'

// Documents and answers are walked dynamically; `any` keeps the walking readable.
type Json = Record<string, any>

const REGENERATE = 'npm run build && node dist/src/cli/main.js openapi > docs/openapi.json'
const doc = openApiDocument() as Json

/** Follows a local `$ref` (`#/components/...`); undefined when it does not resolve. */
function resolve(ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined
  return ref
    .slice(2)
    .split('/')
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<unknown>((node, key) => (node !== null && typeof node === 'object' ? (node as Json)[key] : undefined), doc)
}

const deref = (node: Json): Json => (typeof node.$ref === 'string' ? deref(resolve(node.$ref) as Json) : node)

const IGNORED = new Set(['description', 'default', 'examples'])
const CHECKED = new Set([
  '$ref', 'type', 'enum', 'const', 'properties', 'required', 'additionalProperties', 'propertyNames', 'items', 'anyOf', 'allOf',
  'pattern', 'minimum', 'maximum', 'minLength', 'maxLength',
])

function typeOf(value: unknown): string[] {
  if (value === null) return ['null']
  if (Array.isArray(value)) return ['array']
  if (typeof value === 'number') return Number.isInteger(value) ? ['integer', 'number'] : ['number']
  return [typeof value]
}

/** The property names an object schema describes (with its allOf parts), or undefined when it is open. */
function describedKeys(schema: Json): Set<string> | undefined {
  const s = deref(schema)
  if (s.additionalProperties !== undefined || s.propertyNames !== undefined) return undefined
  const parts = (s.allOf ?? []) as Json[]
  if (s.properties === undefined && parts.length === 0) return undefined
  const keys = new Set(Object.keys(s.properties ?? {}))
  for (const part of parts) {
    const more = describedKeys(part)
    if (more === undefined) return undefined
    more.forEach((key) => keys.add(key))
  }
  return keys
}

/**
 * Problems of `value` against `schema`, each as "path: what". `closed`: a field that an object schema does not
 * describe is a problem too (answers are documented as open objects; the tests want every field documented).
 */
function validate(schema: Json, value: unknown, closed: boolean, path = '$'): string[] {
  for (const key of Object.keys(schema)) if (!IGNORED.has(key) && !CHECKED.has(key)) throw new Error(`validator does not know '${key}'`)
  if (schema.$ref !== undefined) {
    const target = resolve(schema.$ref as string)
    if (target === undefined) return [`${path}: unresolved ${String(schema.$ref)}`]
    return validate(target as Json, value, closed, path)
  }
  const problems: string[] = []
  const fail = (what: string) => problems.push(`${path}: ${what}`)
  if (schema.type !== undefined) {
    const allowed = ([] as string[]).concat(schema.type as string | string[])
    if (!typeOf(value).some((t) => allowed.includes(t))) return [`${path}: ${JSON.stringify(value)} is not of type ${allowed.join('|')}`]
  }
  if (schema.enum !== undefined && !(schema.enum as unknown[]).includes(value)) fail(`${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`)
  if (schema.const !== undefined && schema.const !== value) fail(`not ${JSON.stringify(schema.const)}`)
  if (schema.anyOf !== undefined && !(schema.anyOf as Json[]).some((sub) => validate(sub, value, closed, path).length === 0)) fail('matches no alternative')
  // The parts of an allOf describe one object together: each is checked open, the fields against all of them.
  for (const part of (schema.allOf ?? []) as Json[]) problems.push(...validate(part, value, false, path))
  if (typeof value === 'string') {
    if (schema.pattern !== undefined && !new RegExp(schema.pattern as string, 'u').test(value)) fail(`does not match ${String(schema.pattern)}`)
    if (schema.minLength !== undefined && [...value].length < schema.minLength) fail('too short')
    if (schema.maxLength !== undefined && [...value].length > schema.maxLength) fail('too long')
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) fail('too small')
    if (schema.maximum !== undefined && value > schema.maximum) fail('too large')
  }
  if (Array.isArray(value) && schema.items !== undefined) value.forEach((item, i) => problems.push(...validate(schema.items as Json, item, closed, `${path}[${i}]`)))
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const properties = (schema.properties ?? {}) as Json
    for (const key of (schema.required ?? []) as string[]) if (!(key in value)) fail(`missing '${key}'`)
    const described = closed ? describedKeys(schema) : undefined
    for (const [key, item] of Object.entries(value)) {
      if (schema.propertyNames !== undefined) problems.push(...validate(schema.propertyNames as Json, key, closed, `${path}.${key} (name)`))
      if (key in properties) problems.push(...validate(properties[key] as Json, item, closed, `${path}.${key}`))
      else if (schema.additionalProperties === false) fail(`unknown field '${key}'`)
      else if (schema.additionalProperties !== undefined) problems.push(...validate(schema.additionalProperties as Json, item, closed, `${path}.${key}`))
      else if (described !== undefined && !described.has(key)) fail(`field '${key}' is not documented`)
    }
  }
  return problems
}

/** Every operation of the document as "METHOD /path". */
function documentedOperations(): string[] {
  return Object.entries(doc.paths as Json).flatMap(([path, ops]) => Object.keys(ops as Json).map((m) => `${m.toUpperCase()} ${path}`))
}

function servedOperations(routes: readonly AdminRoute[]): string[] {
  return routes.flatMap((r) => Object.keys(r.methods).map((m) => `${m} ${r.path.replace(/:(\w+)/g, '{$1}')}`))
}

function operationOf(method: string, path: string): Json {
  const op = (doc.paths as Json)[path]?.[method.toLowerCase()] as Json | undefined
  assert.ok(op !== undefined, `${method} ${path} is not documented`)
  return op
}

interface Answer {
  readonly status: number
  readonly headers: Headers
  readonly text: string
  readonly body: any
}

async function call(base: string, method: string, path: string, body?: unknown, token: string | null = TOKEN): Promise<Answer> {
  const headers: Record<string, string> = token === null ? {} : { authorization: `Bearer ${token}` }
  const raw = body === undefined ? undefined : JSON.stringify(body)
  if (raw !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(base + path, { method, headers, body: raw })
  const text = await res.text()
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    parsed = undefined
  }
  return { status: res.status, headers: res.headers, text, body: parsed }
}

/** Calls `method concrete` and checks that its status is documented for `method docPath`, and the body fits. */
async function documentedAnswer(base: string, method: string, docPath: string, concrete: string, body?: unknown): Promise<Answer> {
  const answer = await call(base, method, concrete, body)
  const responses = operationOf(method, docPath).responses as Json
  assert.ok(responses[answer.status] !== undefined, `${method} ${concrete} answered ${answer.status}, not documented: ${answer.text}`)
  const response = deref(responses[answer.status] as Json)
  const [mediaType, media] = Object.entries(response.content as Json)[0]!
  assert.ok(answer.headers.get('content-type')?.startsWith(mediaType), `${method} ${concrete}: ${answer.headers.get('content-type')} is not ${mediaType}`)
  if (mediaType === 'application/json') {
    assert.deepEqual(validate((media as Json).schema as Json, answer.body, true), [], `${method} ${concrete} -> ${answer.status}`)
  }
  return answer
}

/** Fills the parameters of a documented path. */
function concretePath(path: string, values: Readonly<Record<string, string>>): string {
  return path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(values[name] ?? 'x'))
}

describe('OpenAPI description of the admin API', () => {
  let lb: LoadBalancer
  let base: string
  let admin: AdminServer
  /** Over a FakeControl with service `app`, reads closed: releases and the read policy. */
  let fake: AdminServer
  let fakeBase: string

  before(async () => {
    lb = await startBalancer(balancerYaml({ admin: `token: ${TOKEN}`, servers: { s1: '127.0.0.1:1', s2: '127.0.0.1:2', s3: '127.0.0.1:3' } }))
    const { host, port } = lb.adminListen!
    base = `http://${host}:${port}`
    admin = (lb as unknown as { admin: AdminServer }).admin
    assert.ok(admin instanceof AdminServer, 'the balancer keeps its AdminServer in `admin`')
    fake = new AdminServer({ control: new FakeControl({ app: ['s1', 's2'] }, { app: 'v1' }), token: TOKEN, statsPublic: false })
    const a = await fake.listen({ host: '127.0.0.1', port: 0 })
    fake.ready = true
    fakeBase = `http://127.0.0.1:${a.port}`
  })
  after(async () => {
    await fake.close()
    await lb.stop()
  })

  it('documents exactly the paths and methods the admin server serves (HEAD aside)', () => {
    const served = servedOperations(admin.routes)
    const documented = documentedOperations()
    const undocumented = served.filter((op) => !documented.includes(op))
    const unserved = documented.filter((op) => !served.includes(op))
    assert.deepEqual(undocumented, [], `served but not in src/admin/openapi.ts: ${undocumented.join(', ')}`)
    assert.deepEqual(unserved, [], `documented but not served: ${unserved.join(', ')}`)
    assert.equal(new Set(served).size, served.length, 'a method of a path is served twice')
  })

  it('every documented path answers an unknown method with 405 and exactly its documented methods in Allow', async () => {
    for (const [path, ops] of Object.entries(doc.paths as Json)) {
      const answer = await call(base, 'OPTIONS', concretePath(path, {}))
      assert.equal(answer.status, 405, `OPTIONS ${path}: ${answer.text}`)
      const methods = Object.keys(ops as Json).map((m) => m.toUpperCase())
      const expected = methods.includes('GET') ? [...methods, 'HEAD'] : methods
      assert.deepEqual(answer.headers.get('allow')!.split(', ').sort(), expected.sort(), path)
    }
  })

  it('security follows the routes: writes need the token, reads too when closed, except the open routes', async () => {
    const open = new Set(admin.routes.filter((r) => r.open === true).map((r) => r.path))
    for (const op of documentedOperations()) {
      const [method, path] = op.split(' ') as [string, string]
      const security = operationOf(method, path).security as Json[]
      const expected = method !== 'GET' ? [{ bearer: [] }] : open.has(path) ? [] : [{}, { bearer: [] }]
      assert.deepEqual(security, expected, op)
      if (method !== 'GET' || path === '/metrics' || path === '/api/v1/events') continue // not served by `fake`; a stream
      const answer = await call(fakeBase, 'GET', concretePath(path, { backend: 'app', server: 's1', service: 'app' }), undefined, null)
      assert.equal(answer.status === 401, security.length > 0, `GET ${path} without a token, reads closed: ${answer.status}`)
    }
  })

  it('request bodies are the JSON Schemas generated from the zod schemas that validate them', () => {
    const bodies: Record<string, z.ZodType> = { ServerChange: serverChangeBody, NewServer: newServerBody, Deploy: deployBody, Empty: emptyBody }
    for (const [name, schema] of Object.entries(bodies)) {
      const { $schema: _ignored, ...generated } = z.toJSONSchema(schema, { io: 'input' }) as Json
      assert.deepEqual(doc.components.schemas[name], generated, name)
    }
    // And each documented body refuses an unknown field, like the server does (checked below).
    for (const op of documentedOperations()) {
      const [method, path] = op.split(' ') as [string, string]
      const body = operationOf(method, path).requestBody as Json | undefined
      if (body !== undefined) assert.notDeepEqual(validate(body.content['application/json'].schema as Json, { zz: 1 }, false), [], op)
    }
  })

  it('a running balancer refuses a body the schema refuses (400) and accepts one it allows', async () => {
    const cases: [string, string, unknown][] = [
      ['/api/v1/backends/{backend}/servers/{server}', '/api/v1/backends/app/servers/s2', { admin: 'drain' }],
      ['/api/v1/backends/{backend}/servers/{server}', '/api/v1/backends/app/servers/s2', { weight: 256, admin: 'ready' }],
      ['/api/v1/backends/{backend}/servers/{server}', '/api/v1/backends/app/servers/s2', { weight: 257 }],
      ['/api/v1/backends/{backend}/servers/{server}', '/api/v1/backends/app/servers/s2', { weight: 1.5 }],
      ['/api/v1/backends/{backend}/servers/{server}', '/api/v1/backends/app/servers/s2', { admin: 'off' }],
      ['/api/v1/backends/{backend}/servers/{server}', '/api/v1/backends/app/servers/s2', { wieght: 2 }],
      ['/api/v1/backends/{backend}/servers/{server}', '/api/v1/backends/app/servers/s2', ['drain']],
      ['/api/v1/backends/{backend}/servers', '/api/v1/backends/app/servers', { name: 's9', address: '127.0.0.1:9' }],
      ['/api/v1/backends/{backend}/servers', '/api/v1/backends/app/servers', { name: '서버3', address: '[::1]:9', weight: 0, backup: true, max_connections: 5 }],
      ['/api/v1/backends/{backend}/servers', '/api/v1/backends/app/servers', { name: 'a/b', address: '127.0.0.1:9' }],
      ['/api/v1/backends/{backend}/servers', '/api/v1/backends/app/servers', { name: 's10' }],
      ['/api/v1/backends/{backend}/servers', '/api/v1/backends/app/servers', { name: 's11', address: '127.0.0.1:9', backup: 'yes' }],
      ['/api/v1/deployments', '/api/v1/deployments', { service: 'app', version: 'v2' }],
      ['/api/v1/deployments', '/api/v1/deployments', { service: 'app', version: 'v 2' }],
      ['/api/v1/deployments', '/api/v1/deployments', { service: 'app', version: 'v2', strategy: '' }],
      ['/api/v1/reload', '/api/v1/reload', {}],
      ['/api/v1/reload', '/api/v1/reload', { force: true }],
    ]
    for (const [docPath, path, body] of cases) {
      const schema = operationOf('POST', docPath).requestBody.content['application/json'].schema as Json
      const allowed = validate(schema, body, false).length === 0
      const answer = await documentedAnswer(base, 'POST', docPath, path, body)
      const refused = answer.status === 400 && answer.body?.error?.code === 'SY_ERR_INVALID_BODY'
      assert.equal(refused, !allowed, `POST ${path} ${JSON.stringify(body)}: schema ${allowed ? 'allows' : 'refuses'} it, answer ${answer.text}`)
      if (body !== null && typeof body === 'object' && (body as Json).admin === 'drain') assert.equal(answer.status, 200)
    }
    // The one rule the schema cannot say (a zod refinement): the operation's description says it instead.
    assert.equal((await call(base, 'POST', '/api/v1/backends/app/servers/s2', {})).status, 400)
    assert.match(operationOf('POST', '/api/v1/backends/{backend}/servers/{server}').requestBody.description as string, /`\{\}` is refused/)
    // Every documented body refuses an unknown field, and so does the server, for every operation with a body.
    for (const op of documentedOperations()) {
      const [method, path] = op.split(' ') as [string, string]
      if (operationOf(method, path).requestBody === undefined) continue
      const answer = await call(base, method, concretePath(path, { backend: 'app', server: 's2' }), { zz: 1 })
      assert.equal(answer.body?.error?.code, 'SY_ERR_INVALID_BODY', `${op}: ${answer.text}`)
    }
  })

  it('real answers fit their documented schemas, with documented statuses and every field documented', async () => {
    const S = '/api/v1/backends/{backend}/servers/{server}'
    await documentedAnswer(base, 'GET', '/healthz', '/healthz')
    await documentedAnswer(base, 'GET', '/api/v1/state', '/api/v1/state')
    await documentedAnswer(base, 'GET', S, '/api/v1/backends/app/servers/s1')
    await documentedAnswer(base, 'GET', S, '/api/v1/backends/app/servers/nope')
    await documentedAnswer(base, 'POST', S, '/api/v1/backends/app/servers/s1?wait=1&timeout=2s', { admin: 'drain' })
    await documentedAnswer(base, 'POST', S, '/api/v1/backends/app/servers/s1?wait=yes', { admin: 'drain' })
    await documentedAnswer(base, 'POST', '/api/v1/backends/{backend}/servers', '/api/v1/backends/app/servers', { name: 's1', address: '127.0.0.1:1' })
    await documentedAnswer(base, 'DELETE', S, '/api/v1/backends/app/servers/s3?timeout=1s')
    await documentedAnswer(base, 'POST', '/api/v1/reload', '/api/v1/reload')
    await documentedAnswer(base, 'GET', '/stats.json', '/stats.json')
    await documentedAnswer(base, 'GET', '/stats.csv', '/stats.csv')
    await documentedAnswer(base, 'GET', '/stats', '/stats')
    await documentedAnswer(base, 'GET', '/metrics', '/metrics')
    const served = await documentedAnswer(base, 'GET', '/api/v1/openapi.json', '/api/v1/openapi.json')
    assert.deepEqual(served.body, doc)
    const events = await fetch(`${base}/api/v1/events`)
    assert.match(events.headers.get('content-type') ?? '', /^text\/event-stream/)
    assert.ok(operationOf('GET', '/api/v1/events').responses[200].content['text/event-stream'])
    await events.body?.cancel()
    // Releases, over the FakeControl.
    const started = await documentedAnswer(fakeBase, 'POST', '/api/v1/deployments', '/api/v1/deployments', { service: 'app', version: 'v2' })
    assert.equal(started.status, 202)
    const D = '/api/v1/deployments/{id}'
    await documentedAnswer(fakeBase, 'POST', '/api/v1/deployments', '/api/v1/deployments', { service: 'app', version: 'v3' })
    await documentedAnswer(fakeBase, 'POST', '/api/v1/deployments', '/api/v1/deployments', { service: 'nope', version: 'v3' })
    await documentedAnswer(fakeBase, 'GET', D, `/api/v1/deployments/${started.body.id}`)
    await documentedAnswer(fakeBase, 'GET', D, '/api/v1/deployments/nope')
    await documentedAnswer(fakeBase, 'GET', '/api/v1/deployments', '/api/v1/deployments?service=app')
    await documentedAnswer(fakeBase, 'GET', '/api/v1/deployments', '/api/v1/deployments?servce=app')
    for (const action of ['pause', 'resume', 'promote', 'abort']) {
      await documentedAnswer(fakeBase, 'POST', `${D}/${action}`, `/api/v1/deployments/${started.body.id}/${action}`)
    }
    await documentedAnswer(fakeBase, 'POST', '/api/v1/services/{service}/rollback', '/api/v1/services/app/rollback')
  })

  it('documented query parameters are accepted, and writes refuse undocumented ones', async () => {
    for (const op of documentedOperations()) {
      const [method, path] = op.split(' ') as [string, string]
      if (method === 'GET' && (path === '/metrics' || path === '/api/v1/events')) continue
      const parameters = ((operationOf(method, path).parameters ?? []) as Json[]).map(deref).filter((p) => p.in === 'query')
      const target = concretePath(path, { backend: 'app', server: 's2', service: 'app' })
      const body = path.endsWith('{server}') && method === 'POST' ? { weight: 1 } : undefined
      for (const p of parameters) {
        const answer = await call(fakeBase, method, `${target}?${p.name}=${encodeURIComponent(String(p.schema.default ?? 'app'))}`, body)
        assert.doesNotMatch(answer.text, /unknown query parameter/, `${op} ?${p.name}`)
      }
      if (method !== 'GET') {
        const answer = await call(fakeBase, method, `${target}?zz=1`, body)
        assert.equal(answer.body?.error?.code, 'SY_ERR_BAD_REQUEST', `${op}?zz=1: ${answer.text}`)
      }
    }
  })

  it('is structurally valid OpenAPI 3.1: info, declared path parameters, unique operation ids, resolving $refs', () => {
    assert.equal(doc.openapi, '3.1.0')
    assert.equal(typeof doc.info.title, 'string')
    assert.equal(typeof doc.info.version, 'string')
    const ids = new Set<string>()
    const tags = new Set((doc.tags as Json[]).map((t) => t.name as string))
    for (const [path, ops] of Object.entries(doc.paths as Json)) {
      assert.match(path, /^\//)
      const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!).sort()
      for (const [method, op] of Object.entries(ops as Json)) {
        assert.ok(['get', 'post', 'delete', 'put', 'patch'].includes(method))
        assert.ok(!ids.has(op.operationId), `operationId ${op.operationId} twice`)
        ids.add(op.operationId)
        for (const tag of op.tags) assert.ok(tags.has(tag), `tag ${tag} is not declared`)
        const declared = ((op.parameters ?? []) as Json[]).map(deref).filter((p) => p.in === 'path')
        assert.deepEqual(declared.map((p) => p.name).sort(), inPath, `${method} ${path}: path parameters`)
        for (const p of declared) assert.equal(p.required, true)
        assert.ok(Object.keys(op.responses).length > 0)
        for (const requirement of op.security as Json[]) for (const scheme of Object.keys(requirement)) assert.ok(doc.components.securitySchemes[scheme])
      }
    }
    const refs: string[] = []
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(walk)
      else if (node !== null && typeof node === 'object') {
        for (const [key, value] of Object.entries(node)) {
          if (key === '$ref') refs.push(value as string)
          else walk(value)
        }
      }
    }
    walk(doc)
    assert.ok(refs.length > 20)
    for (const ref of refs) assert.notEqual(resolve(ref), undefined, `$ref ${ref} does not resolve`)
    // The validator knows every keyword of every schema (it throws on one it does not know).
    const keywords = (schema: Json): void => {
      validate({ ...schema, $ref: undefined, type: undefined }, undefined, false)
      for (const sub of [...Object.values(schema.properties ?? {}), schema.items, schema.additionalProperties, schema.propertyNames, ...(schema.anyOf ?? []), ...(schema.allOf ?? [])]) {
        if (sub !== null && typeof sub === 'object') keywords(sub as Json)
      }
    }
    Object.values(doc.components.schemas as Json).forEach((schema) => keywords(schema as Json))
  })

  it(`docs/openapi.json is the generated document (regenerate: ${REGENERATE})`, async () => {
    const text = `${JSON.stringify(doc, null, 2)}\n`
    const committed = readFileSync(join(ROOT, 'docs/openapi.json'), 'utf8')
    assert.ok(committed === text, `docs/openapi.json is out of date; regenerate it with: ${REGENERATE}`)
    const run = await cli(['openapi'])
    assert.equal(run.code, 0, run.stderr)
    assert.equal(run.stdout, text)
  })
})
