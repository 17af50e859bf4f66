import { readFileSync } from 'node:fs'

/** Resident set size of a running process in bytes (Linux: VmRSS of /proc/PID/status). */
export function residentBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status)
  if (match === null) throw new Error(`no VmRSS for process ${pid}`)
  return Number(match[1]) * 1024
}

/** Samples a process's RSS every `everyMs` until stopped; `peak` is the highest value seen. */
export function sampleResident(pid: number, everyMs = 25): { readonly peak: () => number; stop(): number } {
  let peak = residentBytes(pid)
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, residentBytes(pid))
    } catch {
      // the process ended; keep the peak seen so far
    }
  }, everyMs)
  return {
    peak: () => peak,
    stop: () => {
      clearInterval(timer)
      return peak
    },
  }
}
