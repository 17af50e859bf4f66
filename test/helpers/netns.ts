/**
 * A small network lab for tests that need real networking (VRRP, a moving VIP): network namespaces joined by a
 * bridge, and processes started inside them. Everything lives in namespaces named `syha-<pid36>-<rand>-<host>`
 * (the bridge too, in a namespace of its own), so the machine's own network is never changed: deleting the
 * namespaces removes every interface and address the lab made. Cleanup kills the processes the lab started by
 * PID, then anything still running inside its namespaces, then deletes the namespaces by name; labs left behind
 * by a test process that died are removed the same way the next time a lab is created.
 *
 * Addresses come from 198.18.0.0/15 (RFC 2544, set aside for network tests); inside the namespaces only.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { randomBytes, randomInt } from 'node:crypto'
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const NAME_PREFIX = 'syha'
/** `syha-<pid in base 36>-<4 hex>-<host>`: the pid tells whether the lab's owner still runs. */
const LAB_NAME = /^syha-([0-9a-z]+)-[0-9a-f]{4}-[a-z0-9]+$/
const BRIDGE_HOST = 'sw'

export interface LabProcess {
  readonly name: string
  readonly pid: number
  readonly child: ChildProcess
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  running(): boolean
  /** What it printed so far (its log file). */
  output(): string
}

export interface RunResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Why this machine cannot run a lab (not root, no iproute2, namespaces refused), or undefined when it can. */
export function labUnavailable(): string | undefined {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`
  if (process.getuid?.() !== 0) return 'creating network namespaces needs root'
  const probe = `${NAME_PREFIX}-${process.pid.toString(36)}-${randomBytes(2).toString('hex')}-probe`
  const add = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' })
  if (add.error !== undefined) return `the ip command (iproute2) is missing: ${add.error.message}`
  if (add.status !== 0) return `this machine cannot create network namespaces: ip netns add: ${add.stderr.trim()}`
  const link = spawnSync('ip', ['-n', probe, 'link', 'add', 'br0', 'type', 'bridge'], { encoding: 'utf8' })
  spawnSync('ip', ['netns', 'del', probe])
  if (link.status !== 0) return `this machine cannot create a bridge in a network namespace: ${link.stderr.trim()}`
  return undefined
}

/** `ip` and the like, synchronously; throws with the command's stderr when it fails. */
function ip(args: readonly string[]): string {
  const r = spawnSync('ip', args, { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.error?.message ?? r.stderr.trim()}`)
  return r.stdout
}

function namespaces(): string[] {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' })
  return r.status === 0 ? r.stdout.split('\n').map((l) => l.split(' ')[0]!).filter((n) => n !== '') : []
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** PIDs of the processes inside a namespace. */
function pidsIn(ns: string): number[] {
  const r = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' })
  return r.status === 0 ? r.stdout.split('\n').filter((l) => /^\d+$/.test(l)).map(Number) : []
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL')
  } catch {
    // ESRCH: already gone.
  }
}

/** Kills what runs in the namespaces, waits for it to go (bounded), then deletes them, the bridge's last. */
async function removeNamespaces(names: readonly string[]): Promise<string[]> {
  const problems: string[] = []
  const deadline = Date.now() + 5000
  for (;;) {
    const left = names.flatMap(pidsIn)
    if (left.length === 0) break
    if (Date.now() > deadline) {
      problems.push(`processes still running in the lab after 5 s: ${left.join(', ')}`)
      break
    }
    left.forEach(killQuietly)
    await new Promise((r) => setTimeout(r, 50))
  }
  const ordered = [...names.filter((n) => !n.endsWith(`-${BRIDGE_HOST}`)), ...names.filter((n) => n.endsWith(`-${BRIDGE_HOST}`))]
  for (const ns of ordered) {
    const r = spawnSync('ip', ['netns', 'del', ns], { encoding: 'utf8' })
    if (r.status !== 0 && namespaces().includes(ns)) problems.push(`ip netns del ${ns}: ${r.stderr.trim()}`)
  }
  return problems
}

/** Removes the labs of test processes that are gone (killed before their cleanup ran). Never touches other names. */
async function sweepStaleLabs(): Promise<void> {
  const stale = namespaces().filter((ns) => {
    const m = LAB_NAME.exec(ns)
    return m !== null && !alive(Number.parseInt(m[1]!, 36))
  })
  if (stale.length > 0) await removeNamespaces(stale)
}

export class NetLab {
  /** Folder for logs and files of the processes (kept when the test fails, for a look). */
  readonly dir: string
  /** The first three octets of the lab's /24, e.g. `198.18.42`. */
  readonly net: string
  readonly prefix: string
  /** Set when the test failed: cleanup then leaves `dir` (logs, generated files) for a look. */
  keepFiles = false
  private readonly created: string[] = []
  private readonly processes: LabProcess[] = []
  private readonly onExit = (): void => this.cleanupSync()

  private constructor() {
    this.prefix = `${NAME_PREFIX}-${process.pid.toString(36)}-${randomBytes(2).toString('hex')}`
    this.net = `198.18.${randomInt(0, 256)}`
    this.dir = mkdtempSync(join(tmpdir(), `${this.prefix}-`))
    // A test process that exits without running its cleanups (an uncaught error) still removes its lab.
    process.once('exit', this.onExit)
  }

  /** A lab with an empty bridge; stale labs of dead test processes are removed first. */
  static async create(): Promise<NetLab> {
    await sweepStaleLabs()
    const lab = new NetLab()
    try {
      const sw = lab.addNamespace(BRIDGE_HOST)
      ip(['-n', sw, 'link', 'add', 'br0', 'type', 'bridge'])
      ip(['-n', sw, 'link', 'set', 'br0', 'up'])
    } catch (err) {
      await lab.cleanup()
      throw err
    }
    return lab
  }

  ns(host: string): string {
    return `${this.prefix}-${host}`
  }

  address(hostNumber: number): string {
    return `${this.net}.${hostNumber}`
  }

  /**
   * A namespace `host` on the bridge: its `eth0` (a veth whose other end is in the bridge's namespace) gets
   * NET.hostNumber/24. Both ends are created inside the namespaces, so no interface ever appears outside.
   */
  addHost(host: string, hostNumber: number): string {
    const ns = this.addNamespace(host)
    const sw = this.ns(BRIDGE_HOST)
    const port = `p-${host}`.slice(0, 15)
    ip(['link', 'add', 'eth0', 'netns', ns, 'type', 'veth', 'peer', 'name', port, 'netns', sw])
    ip(['-n', sw, 'link', 'set', port, 'master', 'br0'])
    ip(['-n', sw, 'link', 'set', port, 'up'])
    ip(['-n', ns, 'addr', 'add', `${this.address(hostNumber)}/24`, 'dev', 'eth0'])
    ip(['-n', ns, 'link', 'set', 'eth0', 'up'])
    return ns
  }

  /** The IPv4 addresses on a host's eth0. */
  addresses(host: string): string[] {
    const out = ip(['-n', this.ns(host), '-4', '-o', 'addr', 'show', 'dev', 'eth0'])
    return [...out.matchAll(/inet (\d+\.\d+\.\d+\.\d+)\//g)].map((m) => m[1]!)
  }

  /**
   * Starts `argv` inside a host's namespace (`ip netns exec` execs it, so the PID is the program's own). Its
   * output goes to DIR/NAME.log unless `pipe` asks for its standard streams.
   */
  spawn(host: string, name: string, argv: readonly string[], options: { env?: NodeJS.ProcessEnv; pipe?: boolean } = {}): LabProcess {
    const logFile = join(this.dir, `${name}.log`)
    const fd = options.pipe === true ? undefined : openSync(logFile, 'a')
    const spawnOptions: SpawnOptions = {
      env: { ...process.env, ...options.env },
      stdio: fd === undefined ? ['pipe', 'pipe', 'pipe'] : ['ignore', fd, fd],
    }
    const child = spawn('ip', ['netns', 'exec', this.ns(host), ...argv], spawnOptions)
    if (fd !== undefined) closeSync(fd)
    if (child.pid === undefined) throw new Error(`could not start ${name}`)
    let running = true
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => {
        running = false
        resolve({ code, signal })
      }),
    )
    const proc: LabProcess = {
      name,
      pid: child.pid,
      child,
      exited,
      running: () => running,
      output: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
    }
    this.processes.push(proc)
    return proc
  }

  /** Runs a short command inside a host's namespace ('' for this namespace) and collects its output. */
  run(host: string, argv: readonly string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
    const full = host === '' ? argv : ['ip', 'netns', 'exec', this.ns(host), ...argv]
    return new Promise((resolve, reject) => {
      const child = spawn(full[0]!, full.slice(1), { env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] })
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()))
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
      const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000)
      child.once('error', reject)
      child.once('close', (code) => {
        clearTimeout(timer)
        resolve({ code, stdout, stderr })
      })
    })
  }

  /** Kills the lab's processes by PID, then whatever else runs in its namespaces, then deletes the namespaces. */
  async cleanup(): Promise<void> {
    process.removeListener('exit', this.onExit)
    for (const p of this.processes) if (p.running()) killQuietly(p.pid)
    await Promise.all(this.processes.map((p) => Promise.race([p.exited, new Promise((r) => setTimeout(r, 2000))])))
    const problems = await removeNamespaces(this.created.filter((ns) => namespaces().includes(ns)))
    if (!this.keepFiles) rmSync(this.dir, { recursive: true, force: true })
    if (problems.length > 0) throw new Error(`lab cleanup: ${problems.join('; ')}`)
  }

  private addNamespace(host: string): string {
    const ns = this.ns(host)
    ip(['netns', 'add', ns])
    this.created.push(ns)
    ip(['-n', ns, 'link', 'set', 'lo', 'up'])
    return ns
  }

  /** The same as cleanup(), for process exit, where nothing asynchronous runs any more. */
  private cleanupSync(): void {
    for (const p of this.processes) if (p.running()) killQuietly(p.pid)
    for (const ns of this.created) {
      pidsIn(ns).forEach(killQuietly)
      spawnSync('ip', ['netns', 'del', ns])
    }
  }
}
