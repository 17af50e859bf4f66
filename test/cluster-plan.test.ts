/**
 * The pure halves of the shared state: planStateChange (what a new runtime state means for the live runtime)
 * and SharedMirror (the local copy of etcd, whatever the order in which changes arrive).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { planStateChange } from '../src/cluster/plan-state-change.js'
import { SharedMirror } from '../src/cluster/shared-mirror.js'
import { parseConfigText } from '../src/config/load-config.js'
import { emptyRuntimeState, type RuntimeState } from '../src/runtime/runtime-state.js'

const config = parseConfigText(
  `
frontends:
  web: { listen: 127.0.0.1:0, default_backend: app }
backends:
  app:
    servers:
      s1: { address: 127.0.0.1:8001, weight: 2 }
      s2: { address: 127.0.0.1:8002 }
  svc: {}
services:
  api:
    backend: svc
    provider: { type: process, command: 'true', instances: 1 }
`,
  'test.yaml',
  {},
)

const state = (change: Partial<RuntimeState>): RuntimeState => ({ ...emptyRuntimeState(), ...change })
const kinds = (changes: ReturnType<typeof planStateChange>) => changes.map((c) => `${c.kind} ${c.backend}/${'server' in c ? c.server : ''}`)

describe('planStateChange', () => {
  it('equal states need nothing', () => {
    const s = state({ servers: { 'app/s1': { admin: 'drain' } }, removed: ['app/s2'] })
    assert.deepEqual(planStateChange(config, s, structuredClone(s)), [])
  })

  it('an override that appears sets admin and weight; one that goes returns to ready and the file weight', () => {
    const drained = state({ servers: { 'app/s1': { admin: 'drain', weight: 7 } } })
    assert.deepEqual(planStateChange(config, emptyRuntimeState(), drained), [
      { kind: 'admin', backend: 'app', server: 's1', admin: 'drain' },
      { kind: 'weight', backend: 'app', server: 's1', weight: 7 },
    ])
    assert.deepEqual(planStateChange(config, drained, emptyRuntimeState()), [
      { kind: 'admin', backend: 'app', server: 's1', admin: 'ready' },
      { kind: 'weight', backend: 'app', server: 's1', weight: 2 },
    ])
  })

  it('servers added, removed and moved to a new address: removals come before additions', () => {
    const before = state({ added: { 'app/x': { address: '127.0.0.1:9001', weight: 1, backup: false } } })
    const after = state({ added: { 'app/x': { address: '127.0.0.1:9002', weight: 1, backup: false } }, removed: ['app/s2'] })
    assert.deepEqual(kinds(planStateChange(config, before, after)), ['remove app/s2', 'remove app/x', 'add app/x'])
    const added = planStateChange(config, emptyRuntimeState(), state({ added: { 'app/y': { address: '127.0.0.1:9003', weight: 4, backup: true } }, servers: { 'app/y': { admin: 'maint' } } }))
    assert.equal(added.length, 1)
    assert.deepEqual({ ...added[0], spec: undefined }, { kind: 'add', backend: 'app', server: 'y', spec: undefined, admin: 'maint', weight: undefined })
  })

  it("a service's instances, rotation and split become servers with their release, a rotation and a split", () => {
    const instance = (id: string, version: string, port: number) => ({ id, service: 'api', version, address: `127.0.0.1:${port}`, started_at: 0 })
    const before = state({ services: { api: { version: 'v1', instances: [instance('api-v1-1', 'v1', 9101)] } } })
    const after = state({
      services: { api: { version: 'v1', instances: [instance('api-v2-1', 'v2', 9201)], rotation: ['v2'], split: [{ release: 'v2', weight: 10 }] } },
    })
    const changes = planStateChange(config, before, after)
    assert.deepEqual(kinds(changes), ['remove svc/api-v1-1', 'add svc/api-v2-1', 'rotation svc/', 'split svc/'])
    const add = changes[1]!
    assert.ok(add.kind === 'add' && add.spec.release === 'v2')
  })
})

describe('SharedMirror', () => {
  const entry = (value: unknown, modRevision: number) => ({ value, modRevision, createRevision: 1, lease: undefined })

  it('ignores a change older than what it holds, and a deletion is not undone by a late put', () => {
    const mirror = new SharedMirror()
    assert.equal(mirror.observe('k', entry(1, 5), 5), true)
    assert.equal(mirror.observe('k', entry(0, 4), 4), false)
    assert.equal(mirror.value('k'), 1)
    assert.equal(mirror.observe('k', undefined, 6), true)
    assert.equal(mirror.observe('k', entry(1, 5), 5), false)
    assert.equal(mirror.value('k'), undefined)
    assert.equal(mirror.revision, 6)
  })

  it('a local value is what readers see until its write lands, also when remote changes arrive meanwhile', () => {
    const mirror = new SharedMirror()
    mirror.observe('svc', entry('old', 3), 3)
    const first = mirror.setLocal('svc', 'mine-1')
    const second = mirror.setLocal('svc', 'mine-2')
    mirror.observe('svc', entry('theirs', 4), 4)
    assert.equal(mirror.value('svc'), 'mine-2')
    mirror.settle('svc', first, entry('mine-1', 5))
    assert.equal(mirror.value('svc'), 'mine-2', 'a newer local value still waits')
    mirror.settle('svc', second, entry('mine-2', 6))
    assert.equal(mirror.isLocal('svc'), false)
    assert.equal(mirror.value('svc'), 'mine-2')
  })

  it('a full read replaces everything and reports what changed', () => {
    const mirror = new SharedMirror()
    mirror.observe('a', entry(1, 2), 2)
    mirror.observe('b', entry(2, 3), 3)
    const changed = mirror.replaceAll(new Map([['b', entry(2, 3)], ['c', entry(3, 9)]]), 10)
    assert.deepEqual([...changed.keys()].sort(), ['a', 'c'])
    assert.deepEqual(mirror.keys().sort(), ['b', 'c'])
    assert.equal(mirror.observe('a', entry(1, 2), 2), false, 'the deletion the full read implied holds')
  })
})
