/**
 * Child processes of bench/proxy: every balancer, backend and load tool it starts is registered here and is
 * killed when the bench ends - normally, on an error, or on SIGINT/SIGTERM - so that no haproxy, nginx or
 * balancer is left running on a shared machine.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { accessSync, constants, readdirSync, readFileSync } from 'node:fs'
import { createServer, connect } from 'node:net'
import { delimiter, join } from 'node:path'

/** Kept output per stream: enough to show why a process failed, bounded so a chatty child cannot fill memory. */
const KEPT_OUTPUT = 1 << 20

export interface Managed {
  readonly name: string
  readonly pid: number
  readonly child: ChildProcess
  /** Resolves with the exit code (null after a signal) once the process is gone. */
  readonly exited: Promise<number | null>
  readonly stdout: () => string
  readonly stderr: () => string
  /** SIGTERM to the whole process group, SIGKILL after `graceMs`; resolves once the leader is gone. */
  stop(graceMs?: number): Promise<void>
}

const running = new Set<Managed>()
const cleanups: (() => void)[] = []

/** A synchronous cleanup (removing the temp dir) that also runs when the bench exits on a signal. */
export function onExit(cleanup: () => void): void {
  hookExit()
  cleanups.push(cleanup)
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    // Negative pid: the whole group (nginx's workers, the shell wrapper's exec'd program).
    process.kill(-pid, signal)
  } catch {
    // Already gone.
  }
}

let hooked = false
function hookExit(): void {
  if (hooked) return
  hooked = true
  // 'exit' handlers must be synchronous: SIGKILL is the only thing that works there.
  process.on('exit', () => {
    for (const m of running) killGroup(m.pid, 'SIGKILL')
    for (const cleanup of cleanups.splice(0)) cleanup()
  })
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      process.stderr.write(`\n${signal}: stopping ${running.size} child process(es)\n`)
      for (const m of running) killGroup(m.pid, 'SIGKILL')
      process.exit(130)
    })
  }
}

export interface StartOptions {
  readonly cwd?: string
  readonly env?: NodeJS.ProcessEnv
  /** Raise the soft fd limit to the hard one first (1000 or 10,000 connections need more than a default 1024). */
  readonly raiseFdLimit?: boolean
  /** Keep stdin open as a pipe (the idle-connection client takes commands on it). */
  readonly stdin?: boolean
}

export function startProcess(name: string, command: string, args: readonly string[], opts: StartOptions = {}): Managed {
  hookExit()
  // `exec` keeps the pid: /proc/PID/status then describes the program itself, not the shell.
  const [cmd, argv] = opts.raiseFdLimit === true ? ['sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'sh', command, ...args]] : [command, [...args]]
  const child = spawn(cmd as string, argv as string[], {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    // Its own process group, so that one kill reaches every process it forks.
    detached: true,
    stdio: [opts.stdin === true ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  })
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`)
  const out = { stdout: '', stderr: '' }
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out.stdout = (out.stdout + d).slice(-KEPT_OUTPUT)))
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out.stderr = (out.stderr + d).slice(-KEPT_OUTPUT)))
  const exited = new Promise<number | null>((resolve) => {
    child.on('error', () => resolve(-1))
    child.on('exit', (code) => resolve(code))
  })
  const pid = child.pid
  const managed: Managed = {
    name,
    pid,
    child,
    exited,
    stdout: () => out.stdout,
    stderr: () => out.stderr,
    async stop(graceMs = 3000) {
      killGroup(pid, 'SIGTERM')
      const timer = setTimeout(() => killGroup(pid, 'SIGKILL'), graceMs)
      await exited
      clearTimeout(timer)
      // Workers of a group whose leader exited first (nginx) must not outlive it.
      killGroup(pid, 'SIGKILL')
      running.delete(managed)
    },
  }
  running.add(managed)
  void exited.then(() => {
    if (!running.has(managed)) return
    // Left on its own: forget it, but still sweep its group.
    killGroup(pid, 'SIGKILL')
    running.delete(managed)
  })
  return managed
}

/** Runs a program to its end and returns its stdout; throws with its output when it fails. */
export async function runToEnd(name: string, command: string, args: readonly string[], opts: StartOptions = {}): Promise<string> {
  const m = startProcess(name, command, args, opts)
  const code = await m.exited
  if (code !== 0) throw new Error(`${name} exited with ${code}: ${m.stderr().slice(-2000) || m.stdout().slice(-2000)}`)
  return m.stdout()
}

export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((m) => m.stop()))
}

/** A free TCP port on 127.0.0.1 (the kernel's pick; free when this returns - good enough for a bench). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}

/** Waits until something accepts connections on the port; fails early with the process's output if it died. */
export async function waitForPort(port: number, owner: Managed, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let dead = false
  void owner.exited.then(() => (dead = true))
  for (;;) {
    if (dead) throw new Error(`${owner.name} exited before listening on ${port}:\n${owner.stderr().slice(-3000)}\n${owner.stdout().slice(-3000)}`)
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1')
      socket.once('connect', () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > deadline) throw new Error(`${owner.name} does not listen on ${port} after ${timeoutMs} ms:\n${owner.stderr().slice(-3000)}`)
    await sleep(50)
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

/** The program's path when it is on PATH (or in /usr/sbin, /sbin, where Debian puts nginx and haproxy) and executable. */
export function which(program: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter).concat(['/usr/sbin', '/sbin'])) {
    if (dir === '') continue
    const file = join(dir, program)
    try {
      accessSync(file, constants.X_OK)
      return file
    } catch {
      // Not here.
    }
  }
  return undefined
}

/** VmRSS of one process in bytes (0 when it is gone). */
export function rssOf(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match === null ? 0 : Number(match[1]) * 1024
  } catch {
    return 0
  }
}

/** VmRSS of a process and all its descendants (nginx: master and workers), in bytes. */
export function rssOfTree(pid: number): number {
  const children = new Map<number, number[]>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      // Field 4 of /proc/PID/stat is the parent pid; the name (field 2) may hold spaces, so split after ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      const list = children.get(ppid) ?? []
      list.push(Number(entry))
      children.set(ppid, list)
    } catch {
      // Gone while we looked.
    }
  }
  let total = 0
  const queue = [pid]
  while (queue.length > 0) {
    const p = queue.pop()!
    total += rssOf(p)
    queue.push(...(children.get(p) ?? []))
  }
  return total
}
