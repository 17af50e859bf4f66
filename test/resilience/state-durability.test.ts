/**
 * Resilience, part 5 (issue 7): kill -9 of the balancer while it writes its runtime state file and its deployment
 * history, many times. Each cycle starts `switchyard run` on the same folder, drives writes as fast as the admin
 * API acknowledges them (weight changes of server a in a loop, and releases of a static-provider service one after
 * the other, each saved at every step), and kills the process at a random moment. Then, before the restart, the
 * files on disk must be complete (they parse and pass the schemas); after it, the balancer must hold the state the
 * clients were told was done: the last acknowledged weight (or the one in flight at the kill), every acknowledged
 * deployment, readable, none still "running" (they show as interrupted).
 */
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { it } from 'node:test'
import type { StateView } from '../../src/admin/balancer-control.js'
import { parseDeploymentRecord } from '../../src/deploy/deployment-store.js'
import { runtimeStateSchema } from '../../src/runtime/runtime-state.js'
import { STATE_FILE_VERSION } from '../../src/runtime/state-file.js'
import { startBackend, type TestBackend } from '../helpers/backend.js'
import { adminCall, startBalancerProcess, tempDir, type BalancerProcess } from '../helpers/balancer.js'
import { balancerYaml, STATIC_SERVICE } from '../helpers/config-yaml.js'
import { cleanups } from '../helpers/cleanup.js'
import { waitFor } from '../helpers/wait.js'
import { recordCase, soak } from './summary.js'

const TOKEN = 'durability-token'
const CYCLES = soak(20, 150)
/** Weights written per cycle at most: distinct values within a cycle (weights are 0-256). */
const MAX_WRITES = 200

function api(lb: BalancerProcess, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  return adminCall(lb, TOKEN, method, path, body)
}

function yaml(backends: readonly TestBackend[]): string {
  return balancerYaml({
    admin: `token: ${TOKEN}`,
    top: 'state_dir: state',
    backend: '    health: { type: http, path: /healthz, interval: 100ms, fast_interval: 50ms, rise: 1, fall: 2 }',
    servers: backends,
    after: STATIC_SERVICE.replace('VERSION', 'v0'),
  })
}

/** Problems with the files as the kill left them: each must parse and pass its schema (no repair by a restart). */
function diskProblems(dir: string): string[] {
  const problems: string[] = []
  const check = (file: string, validate: (data: unknown) => unknown): void => {
    try {
      const envelope = JSON.parse(readFileSync(file, 'utf8')) as { version: unknown; data: unknown }
      if (envelope.version !== STATE_FILE_VERSION) throw new Error(`version ${String(envelope.version)}`)
      validate(envelope.data)
    } catch (err) {
      problems.push(`${file}: ${err instanceof Error ? err.message : String(err)}`)
    }
  }
  check(join(dir, 'state', 'runtime-state.json'), (data) => runtimeStateSchema.parse(data))
  const deployments = join(dir, 'state', 'deployments')
  for (const name of existsSync(deployments) ? readdirSync(deployments) : []) if (name.endsWith('.json')) check(join(deployments, name), parseDeploymentRecord)
  return problems
}

interface Acknowledged {
  /** The last weight whose change was answered 200, and the one sent after it (in flight at the kill). */
  weight: number
  inFlightWeight: number | undefined
  writes: number
  /** Deployment ids answered 202. */
  readonly deployments: Set<string>
}

it(`kill -9 during state and deployment writes, ${CYCLES} times: the files are always complete, and hold what was acknowledged`, async (t) => {
  const add = cleanups(t)
  const backends: TestBackend[] = []
  for (const name of ['a', 'b']) {
    const b = await startBackend(name, (req, res) => res.end(req.url === '/healthz' ? 'ok' : name))
    add(() => b.close())
    backends.push(b)
  }
  const dir = tempDir()
  const text = yaml(backends)
  const ack: Acknowledged = { weight: 1, inFlightWeight: undefined, writes: 0, deployments: new Set() }
  let lb: BalancerProcess | undefined
  add(() => lb?.stop('SIGKILL'))
  const corrupt: string[] = []
  const lost: string[] = []
  let crashes = 0
  let deploymentWrites = 0
  let interruptedSeen = 0
  const writeErrors: string[] = []

  for (let cycle = 0; cycle <= CYCLES; cycle++) {
    lb = await startBalancerProcess(text, {}, { dir })
    const current = lb
    // ---- what the restart brought back ----
    const state = (await api(current, 'GET', '/api/v1/state')).json as StateView
    const weight = state.backends[0]!.servers.find((s) => s.name === 'a')!.weight
    if (weight !== ack.weight && weight !== ack.inFlightWeight) {
      lost.push(`cycle ${cycle}: weight ${weight}, acknowledged ${ack.weight} (in flight ${ack.inFlightWeight})`)
    }
    const listed = await api(current, 'GET', '/api/v1/deployments')
    assert.equal(listed.status, 200, JSON.stringify(listed.json))
    const records = (listed.json as { deployments: { id: string; status: string }[] }).deployments
    for (const id of ack.deployments) {
      const one = await api(current, 'GET', `/api/v1/deployments/${id}`)
      if (one.status !== 200) lost.push(`cycle ${cycle}: deployment ${id} acknowledged, now ${one.status}`)
    }
    const stillRunning = records.filter((r) => r.status === 'running' || r.status === 'paused')
    if (stillRunning.length > 0) lost.push(`cycle ${cycle}: shown as running after a restart: ${stillRunning.map((r) => r.id).join(', ')}`)
    interruptedSeen = records.filter((r) => r.status === 'interrupted').length
    const problems = current.lines.filter((l) => l.event === 'state.problem' || l.event === 'deploy.store_problem')
    for (const p of problems) corrupt.push(`cycle ${cycle}: ${String(p.msg)}`)
    if (cycle === CYCLES) break

    // ---- writes until the kill ----
    let killed = false
    const writer = (async () => {
      let next = ack.weight
      for (let n = 0; n < MAX_WRITES && !killed; n++) {
        next = (next % 256) + 1
        ack.inFlightWeight = next
        try {
          const r = await api(current, 'POST', '/api/v1/backends/app/servers/a', { weight: next })
          if (r.status !== 200) throw new Error(`weight change answered ${r.status}: ${JSON.stringify(r.json)}`)
          ack.weight = next
          ack.inFlightWeight = undefined
          ack.writes++
        } catch (err) {
          if (killed) return
          throw err
        }
      }
    })().catch((err: unknown) => writeErrors.push(`cycle ${cycle}: ${String(err)}`))
    const deployer = (async () => {
      for (let n = 0; !killed; n++) {
        try {
          const created = await api(current, 'POST', '/api/v1/deployments', { service: 'app', version: `c${cycle}-${n}` })
          if (created.status !== 202) throw new Error(`deploy answered ${created.status}: ${JSON.stringify(created.json)}`)
          const id = (created.json as { id: string }).id
          ack.deployments.add(id)
          deploymentWrites++
          // Until the service has no release in progress (its record is final a moment before).
          for (;;) {
            const view = (await api(current, 'GET', '/api/v1/state')).json as StateView
            if (view.services[0]!.deployment === null) break
            await new Promise((r) => setTimeout(r, 20))
          }
        } catch (err) {
          if (killed) return
          throw err
        }
      }
    })().catch((err: unknown) => writeErrors.push(`cycle ${cycle}: ${String(err)}`))
    // A random moment once this cycle's writes are under way: weights are being written, a release is somewhere
    // in its steps.
    const writesBefore = ack.writes
    const releasesBefore = deploymentWrites
    await waitFor('the first writes of the cycle', () => (ack.writes > writesBefore && deploymentWrites > releasesBefore) || writeErrors.length > 0 ? true : undefined, 15_000, 5)
    await new Promise((r) => setTimeout(r, Math.random() * 500))
    if (current.proc.exitCode !== null) crashes++
    killed = true
    current.proc.kill('SIGKILL')
    await current.exited
    await Promise.all([writer, deployer])
    for (const problem of diskProblems(dir)) corrupt.push(`cycle ${cycle}: ${problem}`)
  }

  recordCase({
    case: 'kill -9 during state + deployment writes',
    load: `${CYCLES} cycles, ${ack.writes} weight writes, ${deploymentWrites} releases`,
    failed: corrupt.length + lost.length,
    crashes,
    note: `${corrupt.length} corrupt files, ${lost.length} acknowledged changes lost; ${interruptedSeen} releases shown as interrupted`,
  })
  assert.deepEqual(writeErrors, [])
  assert.deepEqual(corrupt, [])
  assert.deepEqual(lost, [])
  assert.equal(crashes, 0)
  assert.ok(ack.writes >= CYCLES && deploymentWrites >= CYCLES, `${ack.writes} weight writes, ${deploymentWrites} releases`)
})
