/**
 * Signals and liveness of process groups. Every command and instance Switchyard starts leads its own group, so
 * that a stop reaches whatever the command started too (a shell's children, a backgrounded server).
 *
 * Liveness reads /proc where it exists: kill(pid, 0) also succeeds for a zombie, and an orphan whose new parent
 * never reaps it (a container whose PID 1 is not an init) stays a zombie forever. It also tells a recorded pid
 * that the system has since given to an unrelated process (which does not lead its own group).
 */
import { readdirSync, readFileSync } from 'node:fs'

interface ProcStat {
  readonly state: string
  readonly pgrp: number
  /** Clock ticks after boot. */
  readonly startTicks: number
}

/** USER_HZ: 100 on every Linux architecture Node runs on (node cannot call sysconf). */
const TICKS_PER_SECOND = 100
/** How far a process's start time may be from the recorded one (clock adjustments, rounding of btime). */
const START_TOLERANCE_MS = 5000

const hasProc = (() => {
  try {
    readFileSync('/proc/self/stat')
    return true
  } catch {
    return false
  }
})()

function procStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // "pid (comm) state ppid pgrp ..."; comm may itself contain spaces and parentheses.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
    return { state: fields[0] ?? '', pgrp: Number(fields[2]), startTicks: Number(fields[19]) }
  } catch {
    return undefined
  }
}

const running = (stat: ProcStat | undefined): boolean => stat !== undefined && stat.state !== 'Z' && stat.state !== 'X'

/** kill(pid, 0): true unless there is no such process (EPERM means it exists). */
function signalZero(target: number): boolean {
  try {
    process.kill(target, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Whether `pid` runs (not a zombie). */
export function processRunning(pid: number): boolean {
  return hasProc ? running(procStat(pid)) : signalZero(pid)
}

function bootTimeMs(): number | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').match(/^btime (\d+)$/m)
    return line === null ? undefined : Number(line[1]) * 1000
  } catch {
    return undefined
  }
}

/**
 * Whether `pid` runs, leads its own process group and (when `startedAt`, epoch ms, is given) started about then:
 * so it is still the process Switchyard started, not an unrelated one that got the same pid after a reboot.
 */
export function groupLeaderRunning(pid: number, startedAt?: number): boolean {
  if (!hasProc) return signalZero(pid)
  const stat = procStat(pid)
  if (!running(stat) || stat?.pgrp !== pid) return false
  const boot = bootTimeMs()
  if (startedAt === undefined || boot === undefined) return true
  const started = boot + (stat.startTicks * 1000) / TICKS_PER_SECOND
  return Math.abs(started - startedAt) <= START_TOLERANCE_MS
}

/** Whether any process of the group `pgid` still runs (zombies do not count). */
export function groupRunning(pgid: number): boolean {
  if (!signalZero(-pgid)) return false
  if (!hasProc) return true
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const stat = procStat(Number(name))
    if (stat?.pgrp === pgid && running(stat)) return true
  }
  return false
}

/** Sends `signal` to the whole group; false when the group is already gone. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal)
    return true
  } catch {
    return false
  }
}

/** Resolves true once `done()` holds, false after `timeoutMs`. */
export async function pollUntil(done: () => boolean, timeoutMs: number, everyMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (done()) return true
    if (Date.now() >= deadline) return false
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}

/** How long to wait for a group to disappear after SIGKILL before giving up on it. */
const AFTER_KILL_MS = 2000

/**
 * SIGTERM to the group, up to `graceMs` for it to end, then SIGKILL. Resolves with how it ended: 'gone' (it
 * already was), 'exited', 'killed', or 'stuck' (still there after SIGKILL, e.g. in uninterruptible sleep).
 */
export async function stopGroup(pgid: number, graceMs: number): Promise<'gone' | 'exited' | 'killed' | 'stuck'> {
  if (!groupRunning(pgid) || !signalGroup(pgid, 'SIGTERM')) return 'gone'
  if (await pollUntil(() => !groupRunning(pgid), graceMs)) return 'exited'
  signalGroup(pgid, 'SIGKILL')
  return (await pollUntil(() => !groupRunning(pgid), AFTER_KILL_MS)) ? 'killed' : 'stuck'
}
