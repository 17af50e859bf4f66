/**
 * `switchyard ha keepalived`: the options check, the rendered configuration (and keepalived's own opinion of it,
 * `keepalived -t`, where keepalived is installed), and the two generated scripts run for real: the check against
 * a real HTTP listener, the notify script writing the role file the balancer reads.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import { CHECK, CHECK_SCRIPT, CONFIG_FILE, NOTIFY_SCRIPT, renderKeepalived, type KeepalivedSpec } from '../src/ha/keepalived-config.js'
import { checkKeepalivedInput, type KeepalivedInput } from '../src/ha/keepalived-options.js'
import { readRole } from '../src/ha/role-file.js'
import { cli } from './admin-cli-runner.js'
import { tempDir } from './helpers/balancer.js'

/** A fresh folder, removed when the test ends. */
function scratch(t: TestContext): string {
  const dir = tempDir('switchyard-ka-')
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

const INPUT: KeepalivedInput = {
  vip: '10.0.0.100/24',
  interface: 'eth0',
  priority: '150',
  peer: ['10.0.0.12'],
  routerId: '51',
  advertInt: '1',
  instance: 'switchyard',
  scriptUser: 'root',
  admin: 'http://127.0.0.1:9900',
  stateDir: '/var/lib/switchyard',
  scriptsDir: '/etc/keepalived',
}

function spec(input: Partial<KeepalivedInput> = {}): KeepalivedSpec {
  const checked = checkKeepalivedInput({ ...INPUT, ...input })
  if (!checked.ok) throw new Error(checked.problems.map((p) => `${p.option}: ${p.message}`).join('; '))
  return checked.spec
}

function fileOf(s: KeepalivedSpec, name: string): string {
  const file = renderKeepalived(s).find((f) => f.name === name)
  assert.ok(file !== undefined, name)
  return file.text
}

/** The lines of the configuration without comments and indentation, for exact comparisons. */
function configLines(s: KeepalivedSpec): string[] {
  return fileOf(s, CONFIG_FILE)
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
}

const hasKeepalived = spawnSync('keepalived', ['--version'], { stdio: 'ignore' }).error === undefined

describe('switchyard ha keepalived: options', () => {
  it('accepts a typical member and fills the defaults', () => {
    const s = spec()
    assert.deepEqual(s.admin, { host: '127.0.0.1', port: 9900 })
    assert.equal(s.trackFile, '/var/lib/switchyard/vrrp-yield')
    assert.equal(s.priority, 150)
    assert.equal(s.source, undefined)
    assert.equal(spec({ vip: '10.0.0.100/032' }).vip, '10.0.0.100/32')
  })

  const bad: [string, Partial<KeepalivedInput>, RegExp][] = [
    ['--vip', { vip: undefined }, /required/],
    ['--vip', { vip: '10.0.0.100' }, /no prefix length/],
    ['--vip', { vip: '10.0.0.300/24' }, /not an IPv4 address/],
    ['--vip', { vip: '10.0.0.100/33' }, /1 to 32/],
    ['--vip', { vip: 'fd00::100/64' }, /IPv6/],
    ['--interface', { interface: undefined }, /required/],
    ['--interface', { interface: 'eth0; rm -rf /' }, /not an interface name/],
    ['--interface', { interface: 'a-very-long-interface' }, /not an interface name/],
    ['--priority', { priority: undefined }, /required/],
    ['--priority', { priority: '255' }, /1 to 254/],
    ['--priority', { priority: '0' }, /1 to 254/],
    ['--priority', { priority: 'high' }, /1 to 254/],
    ['--peer', { peer: [] }, /required/],
    ['--peer', { peer: ['lb2.example.com'] }, /not an IPv4 address/],
    ['--peer', { peer: ['10.0.0.100'] }, /the VIP itself/],
    ['--peer', { peer: ['10.0.0.12', '10.0.0.12'] }, /twice/],
    ['--source', { source: '10.0.0.12' }, /also given as --peer/],
    ['--source', { source: '10.0.0.100' }, /not the VIP/],
    ['--router-id', { routerId: '256' }, /1 to 255/],
    ['--advert-int', { advertInt: '0.5' }, /whole number of seconds/],
    ['--auth-pass', { authPass: 'longer-than-8' }, /1 to 8/],
    ['--auth-pass', { authPass: 'a b' }, /1 to 8/],
    ['--auth-pass', { authPass: 'pw#1' }, /'#'/],
    ['--instance', { instance: 'my instance' }, /letters, digits/],
    ['--script-user', { scriptUser: 'bad user' }, /not a user name/],
    ['--admin', { admin: 'https://127.0.0.1:9900' }, /does not speak TLS/],
    ['--admin', { admin: 'http://127.0.0.1:9900/admin' }, /without a path/],
    ['--admin', { admin: 'not a url' }, /plain-HTTP URL/],
    ['--state-dir', { stateDir: undefined }, /--state-dir DIR or .* -c FILE/],
    ['--state-dir', { stateDir: '/var/lib/my switchyard' }, /white space/],
    ['--state-dir', { stateDir: 'relative/dir' }, /absolute/],
    ['--track-file', { trackFile: '/tmp/"yield"' }, /quote/],
    ['--out', { scriptsDir: '/etc/keep#alived' }, /'#'/],
  ]
  for (const [option, input, message] of bad) {
    it(`refuses ${option} ${JSON.stringify(Object.values(input)[0])}, naming the option`, () => {
      const checked = checkKeepalivedInput({ ...INPUT, ...input })
      assert.equal(checked.ok, false)
      if (checked.ok) return
      assert.deepEqual([...new Set(checked.problems.map((p) => p.option))], [option], JSON.stringify(checked.problems))
      assert.match(checked.problems[0]!.message, message)
    })
  }

  it('reports every bad option at once', () => {
    const checked = checkKeepalivedInput({ ...INPUT, vip: 'x', priority: '999', peer: [] })
    assert.equal(checked.ok, false)
    if (!checked.ok) assert.deepEqual(checked.problems.map((p) => p.option), ['--vip', '--priority', '--peer'])
  })
})

describe('switchyard ha keepalived: the configuration', () => {
  it('is a BACKUP/nopreempt member with unicast peers, the check, the track file and the notify scripts', () => {
    const lines = configLines(spec({ source: '10.0.0.11', authPass: 's3cret' }))
    const instance = lines.slice(lines.indexOf('vrrp_instance switchyard {'))
    assert.deepEqual(instance, [
      'vrrp_instance switchyard {',
      'state BACKUP',
      'nopreempt',
      'interface eth0',
      'virtual_router_id 51',
      'priority 150',
      'advert_int 1',
      'unicast_src_ip 10.0.0.11',
      'unicast_peer {',
      '10.0.0.12',
      '}',
      'authentication {',
      'auth_type PASS',
      'auth_pass s3cret',
      '}',
      'virtual_ipaddress {',
      '10.0.0.100/24 dev eth0',
      '}',
      'track_script {',
      'switchyard_check',
      '}',
      'track_file {',
      'switchyard_yield',
      '}',
      'notify_master "/etc/keepalived/switchyard-notify MASTER"',
      'notify_backup "/etc/keepalived/switchyard-notify BACKUP"',
      'notify_fault "/etc/keepalived/switchyard-notify FAULT"',
      'notify_stop "/etc/keepalived/switchyard-notify STOP"',
      '}',
    ])
    const script = lines.slice(lines.indexOf('vrrp_script switchyard_check {'), lines.indexOf('vrrp_script switchyard_check {') + 7)
    assert.deepEqual(script, [
      'vrrp_script switchyard_check {',
      'script "/etc/keepalived/switchyard-check"',
      `interval ${CHECK.intervalS}`,
      `timeout ${CHECK.timeoutS}`,
      `fall ${CHECK.fall}`,
      `rise ${CHECK.rise}`,
      '}',
    ])
    const track = lines.slice(lines.indexOf('track_file switchyard_yield {'), lines.indexOf('track_file switchyard_yield {') + 5)
    // weight 0: a non-zero value means FAULT (a weight would not move the VIP under nopreempt).
    assert.deepEqual(track, ['track_file switchyard_yield {', 'file "/var/lib/switchyard/vrrp-yield"', 'weight 0', 'init_file 0', '}'])
    assert.deepEqual(lines.slice(0, 4), ['global_defs {', 'script_user root', 'enable_script_security', '}'])
  })

  it('leaves out the source address and authentication unless given', () => {
    const text = fileOf(spec(), CONFIG_FILE)
    assert.doesNotMatch(text, /unicast_src_ip|authentication|auth_pass/)
  })

  it('differs between the two members only in what was asked', () => {
    const a = configLines(spec({ priority: '150', peer: ['10.0.0.12'], source: '10.0.0.11' }))
    const b = configLines(spec({ priority: '100', peer: ['10.0.0.11'], source: '10.0.0.12' }))
    const differing = a.map((line, i) => [line, b[i]]).filter(([x, y]) => x !== y)
    assert.equal(a.length, b.length)
    assert.deepEqual(differing, [
      ['priority 150', 'priority 100'],
      ['unicast_src_ip 10.0.0.11', 'unicast_src_ip 10.0.0.12'],
      ['10.0.0.12', '10.0.0.11'],
    ])
  })

  it('says how it was generated, when told', () => {
    const [config] = renderKeepalived(spec(), 'switchyard ha keepalived --vip 10.0.0.100/24')
    assert.match(config!.text, /^# Generated by: switchyard ha keepalived --vip 10\.0\.0\.100\/24$/m)
  })

  it('is accepted by keepalived -t', { skip: hasKeepalived ? false : 'keepalived is not installed: the configuration is not checked by keepalived itself' }, (t) => {
    const dir = scratch(t)
    // keepalived -t also checks that the scripts exist and are safe to run: they are written where the config says.
    for (const s of [spec({ source: '10.0.0.11', authPass: 'pw', scriptsDir: dir }), spec({ priority: '100', peer: ['10.0.0.11', '10.0.0.13'], scriptsDir: dir })]) {
      writeScripts(s, dir)
      const file = join(dir, 'keepalived.conf')
      const r = spawnSync('keepalived', ['-t', '-f', file], { encoding: 'utf8' })
      assert.equal(r.status, 0, `${r.stdout}${r.stderr}`)
    }
    // The check above can fail: a wrong keyword makes keepalived -t exit non-zero.
    writeFileSync(join(dir, 'bad.conf'), fileOf(spec({ scriptsDir: dir }), CONFIG_FILE).replace(/^  nopreempt$/m, '  no_preempt_please'))
    assert.notEqual(spawnSync('keepalived', ['-t', '-f', join(dir, 'bad.conf')]).status, 0)
  })
})

/** Writes the configuration and scripts of `s` into `dir` (its scriptsDir, where the configuration calls them). */
function writeScripts(s: KeepalivedSpec, dir: string): void {
  for (const f of renderKeepalived(s)) writeFileSync(join(dir, f.name), f.text, { mode: f.mode })
}

async function server(answer: (res: http.ServerResponse) => void): Promise<{ port: number; close: () => Promise<void> }> {
  const srv = http.createServer((req, res) => {
    if (req.url !== '/healthz') {
      res.writeHead(404).end()
      return
    }
    answer(res)
  })
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  return {
    port: (srv.address() as AddressInfo).port,
    close: () => {
      srv.closeAllConnections()
      return new Promise((r) => srv.close(() => r()))
    },
  }
}

function runCheck(dir: string): Promise<{ code: number | null; ms: number }> {
  // Asynchronously: the HTTP server answering it lives in this process.
  const started = Date.now()
  return new Promise((resolve) => {
    const child = spawn(join(dir, CHECK_SCRIPT), { stdio: 'ignore' })
    child.on('close', (code) => resolve({ code, ms: Date.now() - started }))
  })
}

describe('switchyard ha keepalived: the scripts, run', () => {
  it("the check passes on 200 from /healthz and fails on 503, a closed port and silence (bash's /dev/tcp, no node)", async (t) => {
    const dir = scratch(t)
    const ready = await server((res) => res.writeHead(200).end('ok'))
    const notReady = await server((res) => res.writeHead(503).end('starting'))
    const silent = await server(() => undefined)
    t.after(() => Promise.all([ready.close(), notReady.close(), silent.close()]))
    const check = async (port: number): Promise<{ code: number | null; ms: number }> => {
      writeScripts(spec({ admin: `http://127.0.0.1:${port}`, scriptsDir: dir }), dir)
      return runCheck(dir)
    }
    assert.equal((await check(ready.port)).code, 0)
    assert.equal((await check(notReady.port)).code, 1)
    const closedPort = ready.port === 1 ? 2 : 1
    assert.equal((await check(closedPort)).code, 1)
    const hung = await check(silent.port)
    assert.equal(hung.code, 1)
    // It gives up by itself, well before keepalived's own timeout would kill it.
    assert.ok(hung.ms < CHECK.timeoutS * 1000, `${hung.ms} ms`)
    const commands = fileOf(spec(), CHECK_SCRIPT).split('\n').filter((l) => !l.startsWith('#'))
    assert.ok(!commands.some((l) => /\b(node|curl|wget|switchyard)\b/.test(l)), commands.join('\n'))
  })

  it('the notify script replaces the role file with one word, which the balancer reads with its time', (t) => {
    const dir = scratch(t)
    const stateDir = join(dir, 'state')
    writeScripts(spec({ stateDir, scriptsDir: dir }), dir)
    const notify = (state: string) => spawnSync(join(dir, NOTIFY_SCRIPT), [state], { encoding: 'utf8' })
    assert.equal(notify('BACKUP').status, 0)
    assert.equal(readFileSync(join(stateDir, 'vrrp-role'), 'utf8'), 'BACKUP\n')
    assert.equal(notify('MASTER').status, 0)
    return readRole(join(stateDir, 'vrrp-role')).then(({ view, problem }) => {
      assert.equal(problem, undefined)
      assert.equal(view.role, 'MASTER')
      assert.equal(view.since, Math.round(statSync(join(stateDir, 'vrrp-role')).mtimeMs))
      const refused = notify('PRIMARY')
      assert.equal(refused.status, 1)
      assert.match(refused.stderr, /unknown state 'PRIMARY'/)
      assert.equal(readFileSync(join(stateDir, 'vrrp-role'), 'utf8'), 'MASTER\n')
      // No temp file is left behind.
      assert.deepEqual(spawnSync('ls', ['-A', stateDir], { encoding: 'utf8' }).stdout.trim(), 'vrrp-role')
    })
  })
})

describe('switchyard ha keepalived: the command', () => {
  it('writes the three files with --out, defaults taken from -c (admin listener, state folder)', async (t) => {
    const dir = scratch(t)
    writeFileSync(join(dir, 'switchyard.yaml'), 'admin: { listen: 0.0.0.0:9911 }\nstate_dir: st\nfrontends: {}\nbackends: {}\n')
    mkdirSync(join(dir, 'st'))
    const out = join(dir, 'keepalived')
    const r = await cli(['ha', 'keepalived', '-c', join(dir, 'switchyard.yaml'), '--vip', '10.0.0.100/24', '--interface', 'eth0', '--priority', '100', '--peer', '10.0.0.11', '--out', out])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stderr, '')
    for (const [name, mode] of [[CONFIG_FILE, 0o644], [CHECK_SCRIPT, 0o755], [NOTIFY_SCRIPT, 0o755]] as const) {
      assert.equal(statSync(join(out, name)).mode & 0o777, mode, name)
    }
    const config = readFileSync(join(out, CONFIG_FILE), 'utf8')
    assert.match(config, new RegExp(`script "${out}/switchyard-check"`))
    assert.match(config, new RegExp(`file "${dir}/st/vrrp-yield"`))
    assert.match(config, /^# Generated by: switchyard ha keepalived -c /m)
    // 0.0.0.0 is reached on the loopback address.
    assert.match(readFileSync(join(out, CHECK_SCRIPT), 'utf8'), /\/dev\/tcp\/127\.0\.0\.1\/9911/)
    assert.match(readFileSync(join(out, NOTIFY_SCRIPT), 'utf8'), new RegExp(`dir=${dir}/st\n`))
  })

  it('prints only the configuration without --out, and says where its scripts are expected', async () => {
    const r = await cli(['ha', 'keepalived', '--state-dir', '/nonexistent/sy', '--vip', '10.0.0.100/24', '--interface', 'eth0', '--priority', '150', '--peer', '10.0.0.12'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^vrrp_instance switchyard \{$/m)
    assert.doesNotMatch(r.stdout, /#!\/bin/)
    assert.match(r.stderr, /calls \/etc\/keepalived\/switchyard-check and \/etc\/keepalived\/switchyard-notify/)
    assert.match(r.stderr, /warning: \/nonexistent\/sy does not exist yet/)
  })

  it('exits 1 naming each bad option, and writes nothing', async (t) => {
    const out = join(scratch(t), 'out')
    const r = await cli(['ha', 'keepalived', '--state-dir', '/tmp', '--vip', '10.0.0.1', '--interface', 'eth0', '--priority', '300', '--peer', '10.0.0.12', '--out', out])
    assert.equal(r.code, 1)
    assert.equal(r.stdout, '')
    assert.deepEqual(
      r.stderr.trim().split('\n').map((l) => l.split(':').slice(0, 2).join(':')),
      ['switchyard: --vip', 'switchyard: --priority'],
    )
    assert.equal(existsSync(out), false)
  })
})
