/** `status`, `server`, `weight` and `reload`: the real CLI as a child process against a real balancer process. */
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { StateView } from '../src/admin/balancer-control.js'
import { startBackend, type TestBackend } from './helpers/backend.js'
import { startBalancerProcess, tempDir, type BalancerProcess } from './helpers/balancer.js'
import { balancerYaml } from './helpers/config-yaml.js'
import { cli } from './admin-cli-runner.js'

const TOKEN = 'cli-test-token'

/** /slow goes to backend slow, the rest to app; server s1 is line 14 of the text. */
function configYaml(servers: { s1: string; ko: string; w1: string }, s1Weight = 1): string {
  return balancerYaml({
    admin: `token: ${TOKEN}`,
    frontend: '    routes:\n      - match: { path_prefix: /slow }\n        backend: slow\n    default_backend: app',
    servers: { s1: `${servers.s1}, weight: ${s1Weight}`, 서버2: servers.ko },
    after: `  slow:\n    servers:\n      w1: { address: ${servers.w1} }`,
  })
}

describe('admin CLI against a running balancer', () => {
  let backends: TestBackend[] = []
  let addresses: { s1: string; ko: string; w1: string }
  let lb: BalancerProcess
  let admin: string[]
  /** Requests to backend `slow`, held until the test releases them. */
  const held: (() => void)[] = []
  const release = (): void => held.splice(0).forEach((finish) => finish())
  const activeOn = async (backend: string, server: string): Promise<number> => {
    const res = await fetch(`http://${lb.admin}/api/v1/backends/${backend}/servers/${server}`)
    return ((await res.json()) as { active: number }).active
  }

  const state = async (): Promise<StateView> => {
    const run = await cli(['status', '--json', ...admin])
    assert.equal(run.code, 0, run.stderr)
    return JSON.parse(run.stdout) as StateView
  }
  const serverOf = (s: StateView, backend: string, server: string) =>
    s.backends.find((b) => b.name === backend)!.servers.find((x) => x.name === server)!

  before(async () => {
    const slow = await startBackend('w1', (_req, res) => held.push(() => res.end('slow done')))
    backends = [await startBackend('s1'), await startBackend('ko'), slow]
    addresses = { s1: backends[0]!.address, ko: backends[1]!.address, w1: slow.address }
    lb = await startBalancerProcess(configYaml(addresses))
    admin = ['--admin', `http://${lb.admin}`]
  })
  after(async () => {
    release()
    await lb.stop()
    await Promise.all(backends.map((b) => b.close()))
  })

  it('status prints frontends and every server with state, weight, active and requests', async () => {
    await fetch(lb.url())
    const run = await cli(['status', ...admin])
    assert.equal(run.code, 0, run.stderr)
    const lines = run.stdout.split('\n')
    assert.match(lines[0]!, /^FRONTEND\s+MODE\s+LISTEN\s+ACTIVE$/)
    assert.match(lines[1]!, /^web\s+http\s+127\.0\.0\.1:\d+\s+\d+$/)
    assert.ok(lines.includes('backend app (roundrobin, queue 0/1000)'), run.stdout)
    assert.match(run.stdout, /^ {2}SERVER\s+ADDRESS\s+STATE\s+ADMIN\s+HEALTH\s+WEIGHT\s+ACTIVE\s+REQUESTS$/m)
    assert.match(run.stdout, new RegExp(`^  s1\\s+${addresses.s1}\\s+UP\\s+ready\\s+up\\s+1\\s+0\\s+\\d+$`, 'm'))
    assert.match(run.stdout, new RegExp(`^  서버2\\s+${addresses.ko}\\s+UP\\s+ready\\s+up\\s+1\\s+0\\s+\\d+$`, 'm'))
    // A Korean name takes two columns per character: the address column still lines up.
    const column = (name: string) => lines.find((l) => l.startsWith(`  ${name} `))!.replace('서버', '____').indexOf('127.')
    assert.equal(column('s1'), column('서버2'))
  })

  it('status --json prints the state', async () => {
    const s = await state()
    assert.deepEqual(s.backends.map((b) => b.name), ['app', 'slow'])
    assert.equal(serverOf(s, 'app', '서버2').state, 'UP')
  })

  it('weight changes a weight live with the token from --token or SWITCHYARD_TOKEN', async () => {
    const byFlag = await cli(['weight', 'app/s1', '5', ...admin, '--token', TOKEN])
    assert.equal(byFlag.code, 0, byFlag.stderr)
    assert.equal(byFlag.stdout, 'app/s1: weight 5, state UP\n')
    assert.equal(serverOf(await state(), 'app', 's1').weight, 5)
    const byEnv = await cli(['weight', 'app/서버2', '4', ...admin], { SWITCHYARD_TOKEN: TOKEN })
    assert.equal(byEnv.code, 0, byEnv.stderr)
    assert.equal(serverOf(await state(), 'app', '서버2').weight, 4)
  })

  it('refuses a change without the right token: exit 1, the code on one line, nothing changed', async () => {
    const before = serverOf(await state(), 'app', 's1')
    const none = await cli(['weight', 'app/s1', '9', ...admin])
    assert.equal(none.code, 1)
    assert.equal(none.stdout, '')
    assert.equal(
      none.stderr,
      'SY_ERR_UNAUTHORIZED: a valid bearer token is required for this action (no token was sent: pass --token or set SWITCHYARD_TOKEN)\n',
    )
    const wrong = await cli(['server', 'app/s1', 'maint', ...admin, '--token', 'nope'])
    assert.equal(wrong.code, 1)
    assert.equal(wrong.stderr, 'SY_ERR_UNAUTHORIZED: a valid bearer token is required for this action\n')
    assert.deepEqual(serverOf(await state(), 'app', 's1'), { ...before, requests: serverOf(await state(), 'app', 's1').requests })
  })

  it('finds the balancer and its token from -c FILE (0.0.0.0 is reached on 127.0.0.1)', async () => {
    const port = lb.admin.slice(lb.admin.lastIndexOf(':') + 1)
    const file = join(tempDir(), 'cli.yaml')
    writeFileSync(file, configYaml(addresses).replace('listen: 127.0.0.1:0, token', `listen: 0.0.0.0:${port}, token`))
    const run = await cli(['server', 'app/s1', 'maint', '-c', file])
    assert.equal(run.code, 0, run.stderr)
    assert.equal(run.stdout, 'app/s1: admin maint, state MAINT, 0 in flight\n')
    const back = await cli(['server', 'app/s1', 'ready', '-c', file])
    assert.equal(back.code, 0, back.stderr)
    assert.equal(serverOf(await state(), 'app', 's1').state, 'UP')
  })

  it('server drain --wait returns once the request in flight completed, and that request succeeds', async () => {
    const inFlight = fetch(`${lb.url()}/slow`)
    await waitUntil(async () => (await activeOn('slow', 'w1')) === 1)
    let returned = false
    const waiting = cli(['server', 'slow/w1', 'drain', '--wait', ...admin, '--token', TOKEN]).then((run) => {
      returned = true
      return run
    })
    await waitUntil(async () => (await state()).backends[1]!.servers[0]!.state === 'DRAIN')
    await new Promise((r) => setTimeout(r, 300))
    assert.equal(returned, false, 'returned before the request in flight finished')
    release()
    const run = await waiting
    assert.equal(run.code, 0, run.stderr)
    assert.match(run.stdout, /^slow\/w1: drained after [\d.]+(ms|s), state DRAIN\n$/)
    const answer = await inFlight
    assert.equal(answer.status, 200)
    assert.equal(await answer.text(), 'slow done')
    assert.equal(serverOf(await state(), 'slow', 'w1').active, 0)
  })

  it('server drain --wait says so and exits 1 when the timeout passes first', async () => {
    assert.equal((await cli(['server', 'slow/w1', 'ready', ...admin, '--token', TOKEN])).code, 0)
    const inFlight = fetch(`${lb.url()}/slow`)
    await waitUntil(async () => (await activeOn('slow', 'w1')) === 1)
    const run = await cli(['server', 'slow/w1', 'drain', '--wait', '--timeout', '200ms', ...admin, '--token', TOKEN])
    assert.equal(run.code, 1)
    assert.match(run.stderr, /^slow\/w1: drain timed out after \d+ms with 1 request\(s\) still in flight\n$/)
    release()
    assert.equal((await inFlight).status, 200)
    assert.equal((await cli(['server', 'slow/w1', 'ready', ...admin, '--token', TOKEN])).code, 0)
  })

  it('reports unknown servers, bad arguments and an unreachable balancer on one line, exit 1', async () => {
    const unknown = await cli(['server', 'app/nope', 'drain', ...admin, '--token', TOKEN])
    assert.equal(unknown.code, 1)
    assert.equal(unknown.stderr, "SY_ERR_UNKNOWN_SERVER: no server named 'nope' in backend 'app'\n")
    const badTarget = await cli(['weight', 's1', '2', ...admin, '--token', TOKEN])
    assert.equal(badTarget.code, 1)
    assert.equal(badTarget.stderr, "switchyard: expected BACKEND/SERVER, got 's1'\n")
    const badWeight = await cli(['weight', 'app/s1', '300', ...admin, '--token', TOKEN])
    assert.equal(badWeight.code, 1)
    assert.equal(badWeight.stderr, "switchyard: weight must be a whole number from 0 to 256, got '300'\n")
    const waitNoDrain = await cli(['server', 'app/s1', 'maint', '--wait', ...admin, '--token', TOKEN])
    assert.equal(waitNoDrain.code, 1)
    assert.equal(waitNoDrain.stderr, 'switchyard: --wait applies only to drain\n')
    const badState = await cli(['server', 'app/s1', 'down', ...admin])
    assert.equal(badState.code, 1)
    assert.match(badState.stderr, /value 'down' is invalid .*Allowed choices are ready, drain, maint/)
    const closed = await closedPort()
    const unreachable = await cli(['status', '--admin', `127.0.0.1:${closed}`])
    assert.equal(unreachable.code, 1)
    assert.equal(unreachable.stderr, `SY_ERR_ADMIN_UNREACHABLE: cannot reach the balancer at http://127.0.0.1:${closed}: ECONNREFUSED\n`)
    const missing = await cli(['status', '-c', '/nonexistent/switchyard.yaml'])
    assert.equal(missing.code, 1)
    assert.equal(missing.stderr, 'SY_ERR_CONFIG_READ: cannot read configuration file /nonexistent/switchyard.yaml: no such file\n')
    assert.equal(serverOf(await state(), 'app', 's1').admin, 'ready')
  })

  it('reload applies a changed file; an invalid file is refused with FILE:LINE:COL lines and changes nothing', async () => {
    writeFileSync(lb.configFile, configYaml(addresses, 3))
    const ok = await cli(['reload', ...admin, '--token', TOKEN])
    assert.equal(ok.code, 0, ok.stderr)
    assert.equal(ok.stdout, 'reloaded\n')
    assert.equal(serverOf(await state(), 'app', 's1').weight, 3)

    writeFileSync(lb.configFile, configYaml(addresses, 3).replace('weight: 3', 'weigth: 7'))
    const bad = await cli(['reload', ...admin, '--token', TOKEN])
    assert.equal(bad.code, 1)
    assert.equal(bad.stdout, '')
    const lines = bad.stderr.trimEnd().split('\n')
    assert.equal(lines.length, 3, bad.stderr)
    assert.equal(lines[0], 'SY_ERR_CONFIG_INVALID: invalid configuration (1 problem(s)):')
    assert.equal(lines[1], `${lb.configFile}:14:${column(lb.configFile, 14, 'weigth')}: backends.app.servers.s1: unknown key 'weigth' (did you mean 'weight'?)`)
    assert.equal(lines[2], 'reload refused: the running configuration is unchanged')
    assert.equal(serverOf(await state(), 'app', 's1').weight, 3)
    assert.equal((await fetch(lb.url())).status, 200)
  })
})

/** A port nobody listens on (fetch refuses well-known ports such as 1 outright, so pick a fresh one). */
async function closedPort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** 1-based column of `text` on 1-based `line` of a file. */
function column(file: string, line: number, text: string): number {
  return readFileSync(file, 'utf8').split('\n')[line - 1]!.indexOf(text) + 1
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out waiting')
    await new Promise((r) => setTimeout(r, 30))
  }
}
