/**
 * CPU time of a process and of every process under it (nginx's workers, Switchyard's), read from Linux's /proc.
 * bench/proxy divides it by the requests served: the CPU time a proxy spends per request is a steadier measure of
 * its cost than its latency on a shared machine, and at a fixed offered load it is what the latency follows.
 */
import { readdirSync, readFileSync } from 'node:fs'

/** /proc reports times in USER_HZ ticks, 1/100 s on Linux whatever the kernel's own tick rate. */
const MS_PER_TICK = 10

interface ProcStat {
  readonly ppid: number
  /** utime + stime, in ticks. */
  readonly ticks: number
}

function readStat(pid: number): ProcStat | undefined {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return undefined
  }
  // The command name (field 2) is in parentheses and may hold spaces: fields are counted after its ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
  // fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
  return { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) }
}

/** CPU time in ms of `pid` and its descendants, or undefined where /proc is not available (not Linux). */
export function cpuMs(pid: number): number | undefined {
  const root = readStat(pid)
  if (root === undefined) return undefined
  const children = new Map<number, number[]>()
  const stats = new Map<number, ProcStat>([[pid, root]])
  for (const entry of readdirSync('/proc')) {
    const child = Number(entry)
    if (!Number.isInteger(child) || child === pid) continue
    const stat = readStat(child)
    if (stat === undefined) continue
    stats.set(child, stat)
    const siblings = children.get(stat.ppid)
    if (siblings === undefined) children.set(stat.ppid, [child])
    else siblings.push(child)
  }
  let ticks = 0
  const todo = [pid]
  for (let next = todo.pop(); next !== undefined; next = todo.pop()) {
    ticks += stats.get(next)?.ticks ?? 0
    todo.push(...(children.get(next) ?? []))
  }
  return ticks * MS_PER_TICK
}
