/**
 * `deploy`, `rollback`, `pause|resume|abort`, `history` and `report`: the real CLI as a child process against a
 * real balancer process whose service runs the sample app (examples/app) through the process provider.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { StateView } from '../src/admin/balancer-control.js'
import type { DeploymentRecord } from '../src/deploy/deployment-record.js'
import { processRunning } from '../src/providers/process-group.js'
import { cli, startCli } from './admin-cli-runner.js'
import { ROOT, startBalancerProcess, type BalancerProcess } from './helpers/balancer.js'
import { get, killTree } from './helpers/sample-app.js'
import { waitFor } from './helpers/wait.js'

const TOKEN = 't0ken'
const APP = join(ROOT, 'examples/app/server.js')

/**
 * Version `bad` answers /healthz with 500: it never becomes healthy. Service `steady` waits a minute for that, so
 * that steering it from several CLI runs in a row cannot race the deadline on a loaded machine.
 */
const COMMAND = `'FAIL_HEALTH=$( [ "$SWITCHYARD_VERSION" = bad ] && echo 1 ) exec node ${APP}'`
const CONFIG = `
admin: { listen: 127.0.0.1:0, token: ${TOKEN} }
access_log: false
state_dir: state
frontends: { web: { listen: 127.0.0.1:0, default_backend: app } }
backends:
  app:
    health: { type: http, path: /healthz, interval: 200ms, rise: 1, fall: 1, timeout: 500ms }
  steady:
    health: { type: http, path: /healthz, interval: 200ms, rise: 1, fall: 1, timeout: 500ms }
services:
  app:
    backend: app
    version: v1
    provider: { type: process, command: ${COMMAND}, instances: 2, stop_timeout: 2s }
    strategy: { type: rolling, healthy_deadline: 5s, drain_timeout: 2s }
  steady:
    backend: steady
    version: v1
    provider: { type: process, command: ${COMMAND}, instances: 1, stop_timeout: 2s }
    strategy: { type: rolling, healthy_deadline: 60s, drain_timeout: 2s }
`

describe('release CLI against a running balancer', () => {
  let lb: BalancerProcess
  let admin: string[]
  let write: string[]
  /** Every instance pid seen in the runtime state: none may outlive the balancer. */
  const pids = new Set<number>()

  const api = async <T>(path: string): Promise<T> => (await fetch(`http://${lb.admin}${path}`)).json() as Promise<T>
  const service = async (name = 'app') => (await api<StateView>('/api/v1/state')).services.find((s) => s.name === name)!
  const deployment = (id: string) => api<DeploymentRecord>(`/api/v1/deployments/${id}`)
  /** Until no release runs (and every service has a version: the first releases start in the background). */
  const settled = async (timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const { services } = await api<StateView>('/api/v1/state')
      if (services.every((s) => s.deployment === null && s.version !== null)) return
      if (Date.now() > deadline) throw new Error(`a release is still running: ${JSON.stringify(services)}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  const notePids = (): void => {
    const state = JSON.parse(readFileSync(join(lb.configFile, '../state/runtime-state.json'), 'utf8')) as {
      data: { services: Record<string, { instances: { pid?: number }[] }> }
    }
    for (const s of Object.values(state.data.services)) for (const i of s.instances) if (i.pid !== undefined) pids.add(i.pid)
  }
  const versionsServed = async (): Promise<string[]> => {
    const s = await api<StateView>('/api/v1/state')
    return s.backends[0]!.servers.map((server) => `${server.release}:${server.state}`).sort()
  }

  before(async () => {
    lb = await startBalancerProcess(CONFIG)
    admin = ['--admin', `http://${lb.admin}`]
    write = [...admin, '--token', TOKEN]
    // The first releases (v1, from the config) run in the background after start.
    await settled()
    assert.equal((await service()).version, 'v1')
    notePids()
  })
  after(async () => {
    await lb.stop()
    // Only a safety net when the test below failed: the balancer must have stopped them itself.
    for (const pid of pids) killTree(pid)
  })

  it('deploy shows each step and a summary, and exits 0 once the release succeeded', async () => {
    const run = await cli(['deploy', 'app', '--version', 'v2', ...write])
    notePids()
    assert.equal(run.code, 0, run.stdout + run.stderr)
    assert.equal(run.stderr, '')
    const lines = run.stdout.split('\n')
    assert.match(lines[0]!, /^Deploying app v1 → v2 \(rolling\): app-\S+$/)
    assert.ok(lines.some((l) => /^ {2}✓ start app-v2-1 \(\d+(\.\d)? m?s\)$/.test(l)), run.stdout)
    assert.ok(lines.some((l) => /^ {2}✓ drain app-v1-\d \(/.test(l)), run.stdout)
    assert.ok(!lines.some((l) => l.startsWith('  ✗')), run.stdout)
    assert.match(run.stdout, /^app v1 → v2: succeeded in [\d.]+ m?s\n {2}requests \d+, errors 0, peak instances [23]\n$/m)
    assert.deepEqual(await versionsServed(), ['v2:UP', 'v2:UP'])
    assert.equal(JSON.parse((await get(lb.frontends.web![0]!, '/')).body).version, 'v2')
  })

  it('a version that never becomes healthy: the failed step with its reason, rolled back, exit 1', async () => {
    const run = await cli(['deploy', 'app', '--version', 'bad', ...write])
    notePids()
    assert.equal(run.code, 1, run.stdout + run.stderr)
    assert.match(run.stdout, /^Deploying app v2 → bad \(rolling\): /)
    assert.match(run.stdout, /^ {2}✗ .*: not healthy within 5s/m)
    assert.match(run.stdout, /^app v2 → bad: rolled_back in [\d.]+ s\n/m)
    assert.match(run.stdout, /^ {2}reason: not healthy within 5s/m)
    const id = /^Deploying .*: (\S+)$/m.exec(run.stdout)![1]!
    assert.match(run.stdout, new RegExp(`^  details: switchyard report ${id}$`, 'm'))
    assert.equal((await service()).version, 'v2')
    assert.deepEqual(await versionsServed(), ['v2:UP', 'v2:UP'])
  })

  it('history lists every release newest first; report shows one with its steps', async () => {
    const history = await cli(['history', 'app', ...admin])
    assert.equal(history.code, 0, history.stderr)
    const rows = history.stdout.trimEnd().split('\n')
    assert.match(rows[0]!, /^ID\s+RELEASE\s+STRATEGY\s+STATUS\s+STARTED\s+DURATION$/)
    assert.deepEqual(
      rows.slice(1).map((r) => r.split(/\s{2,}/).slice(1, 4)),
      [['v2 → bad', 'rolling', 'rolled_back'], ['v1 → v2', 'rolling', 'succeeded'], ['v1', 'rolling', 'succeeded']],
    )
    const id = rows[2]!.split(' ')[0]!
    const report = await cli(['report', id, ...admin])
    assert.equal(report.code, 0, report.stderr)
    assert.match(report.stdout, new RegExp(`^Deployment ${id}\n`))
    assert.match(report.stdout, /^ {2}status\s+succeeded$/m)
    assert.match(report.stdout, /^Steps\n/m)
    assert.match(report.stdout, /\bstart app-v2-1$/m)
    assert.match(report.stdout, /\bdrain app-v1-\d$/m)
  })

  it('--no-wait prints the id; pause, resume and abort steer that release and print its status', async () => {
    const started = await cli(['deploy', 'steady', '--version', 'bad', '--no-wait', ...write])
    assert.equal(started.code, 0, started.stderr)
    assert.match(started.stdout, /^steady-\S+\n$/)
    const id = started.stdout.trim()
    const busy = await cli(['deploy', 'steady', '--version', 'v3', ...write])
    assert.equal(busy.code, 1)
    assert.equal(busy.stderr, `SY_ERR_DEPLOYMENT_RUNNING: service 'steady' already has a release in progress (${id})\n`)
    const paused = await cli(['pause', id, ...write])
    assert.equal(paused.stdout + paused.stderr, `${id}: paused\n`)
    assert.equal(paused.code, 0)
    const resumed = await cli(['resume', id, ...write])
    assert.equal(resumed.stdout + resumed.stderr, `${id}: running\n`)
    const aborted = await cli(['abort', id, ...write])
    assert.equal(aborted.code, 0, aborted.stderr)
    assert.match(aborted.stdout, new RegExp(`^${id}: (running \\(aborting: the previous release is being restored\\)|aborted)\\n$`))
    await settled()
    notePids()
    assert.equal((await deployment(id)).status, 'aborted')
    assert.equal((await service('steady')).version, 'v1')
  })

  it('Ctrl-C stops following, not the release, and says how to steer it', async () => {
    const following = startCli(['deploy', 'steady', '--version', 'bad', ...write])
    await waitFor('the release to be under way', () => (/ {2}▸ wait until/.test(following.stdout()) ? true : undefined), 10_000)
    following.child.kill('SIGINT')
    const run = await following.done
    assert.equal(run.code, 130, run.stdout + run.stderr)
    const id = /^Deploying .*: (\S+)$/m.exec(run.stdout)![1]!
    assert.match(run.stdout, new RegExp(`^Stopped following ${id}: the release goes on`, 'm'))
    assert.match(run.stdout, new RegExp(`switchyard abort ${id}$`, 'm'))
    assert.equal((await deployment(id)).status, 'running')
    assert.equal((await cli(['abort', id, ...write])).code, 0)
    await settled()
    notePids()
  })

  it('rollback goes back to the previous release and follows it to the end', async () => {
    const run = await cli(['rollback', 'app', ...write])
    notePids()
    assert.equal(run.code, 0, run.stdout + run.stderr)
    assert.match(run.stdout, /^Rolling back app v2 → v1: app-\S+\n/)
    assert.match(run.stdout, /^app v2 → v1: succeeded in /m)
    assert.equal((await service()).version, 'v1')
    assert.deepEqual(await versionsServed(), ['v1:UP', 'v1:UP'])
  })

  it('errors: one line with the code, exit 1', async () => {
    const cases: [string[], string][] = [
      [['deploy', 'nope', '--version', 'v2', ...write], "SY_ERR_UNKNOWN_SERVICE: no service named 'nope'\n"],
      [['deploy', 'app', '--version', 'v2', ...admin], /^SY_ERR_UNAUTHORIZED: .*no token was sent/.source],
      [['deploy', 'app', '--version', 'v 2', ...write], /^SY_ERR_INVALID_BODY: invalid request body: version: a version may use/.source],
      [['deploy', 'app', '--version', 'v2', '--strategy', 'shadow', ...write], /^SY_ERR_STRATEGY_UNSUPPORTED: strategy 'shadow' is not supported/.source],
      [['report', 'nope', ...admin], "SY_ERR_UNKNOWN_DEPLOYMENT: no deployment with id 'nope'\n"],
      [['history', 'nope', ...admin], "SY_ERR_UNKNOWN_SERVICE: no service named 'nope'\n"],
      [['pause', 'nope', ...write], "SY_ERR_UNKNOWN_DEPLOYMENT: no deployment with id 'nope'\n"],
    ]
    for (const [args, expected] of cases) {
      const run = await cli(args)
      assert.equal(run.code, 1, args.join(' '))
      if (expected.startsWith('^')) assert.match(run.stderr, new RegExp(expected), args.join(' '))
      else assert.equal(run.stderr, expected, args.join(' '))
    }
    const [latest] = (await api<{ deployments: DeploymentRecord[] }>('/api/v1/deployments?service=app')).deployments
    const promote = await cli(['promote', latest!.id, ...write])
    assert.equal(promote.code, 1)
    assert.match(promote.stderr, /^SY_ERR_DEPLOYMENT_STATE: deployment \S+ is succeeded: cannot promote it\n$/)
  })

  it('stopping the balancer (SIGTERM) stops every instance it started', async () => {
    notePids()
    assert.ok(pids.size >= 2)
    assert.equal(await lb.stop(), 0)
    await waitFor('every instance to be gone', () => ([...pids].every((pid) => !processRunning(pid)) ? true : undefined), 5000)
  })
})
