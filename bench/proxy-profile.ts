/**
 * Summary of a V8 .cpuprofile (node --cpu-prof): self time per function, highest first - where the balancer's
 * one core goes under load. Used by bench/proxy's `profile` scenario; also runnable on its own:
 * node dist/bench/proxy-profile.js FILE.cpuprofile [TOP]
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { table } from './proxy-report.js'

interface ProfileNode {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
}
interface CpuProfile {
  readonly nodes: readonly ProfileNode[]
  readonly samples: readonly number[]
  readonly timeDeltas: readonly number[]
}

/** Shortens file URLs to what matters: the package and file, or the project path. */
function place(url: string, line: number): string {
  if (url === '') return ''
  const short = url.replace(/^file:\/\//, '').replace(/^.*\/node_modules\//, '').replace(/^.*\/dist\//, 'dist/')
  return `${short}:${line + 1}`
}

/** Where a function comes from: Switchyard's code, undici, Node's core, V8 and the kernel (native), ... */
function origin(url: string, name: string): string {
  if (url.includes('/dist/src/')) return 'switchyard'
  if (url.includes('undici') || url.startsWith('wasm://')) return 'undici (incl. its llhttp wasm parser)'
  if (url.startsWith('node:')) return 'node core (js)'
  if (url.includes('/node_modules/')) return 'other dependencies'
  if (name === '(garbage collector)') return 'garbage collector'
  if (name === '(program)') return 'V8/native, unattributed'
  return 'native (syscalls, bindings)'
}

/**
 * The top functions by self time and the share of each origin, as percentages of the busy time: "(idle)" (the
 * process waiting for work, or for the CPU the load tool and the backend share) is left out.
 */
export function topSelfTime(file: string, top = 20): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const self = new Map<string, number>()
  const origins = new Map<string, number>()
  let busy = 0
  profile.samples.forEach((id, i) => {
    const node = byId.get(id)
    if (node === undefined || node.callFrame.functionName === '(idle)') return
    const delta = profile.timeDeltas[i] ?? 0
    busy += delta
    const f = node.callFrame
    const key = `${f.functionName || '(anonymous)'}\t${place(f.url, f.lineNumber)}`
    self.set(key, (self.get(key) ?? 0) + delta)
    const o = origin(f.url, f.functionName)
    origins.set(o, (origins.get(o) ?? 0) + delta)
  })
  const pct = (us: number): string => `${((us / busy) * 100).toFixed(1)} %`
  const byOrigin = table(
    ['origin', 'self time'],
    [...origins].sort((a, b) => b[1] - a[1]).map(([o, us]) => [o, pct(us)]),
  )
  const functions = table(
    ['function', 'where', 'self time'],
    [...self]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([key, us]) => {
        const [name, where] = key.split('\t')
        return [name!, where!, pct(us)]
      }),
    2,
  )
  return `${byOrigin}\n\n${functions}`
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(`${topSelfTime(process.argv[2]!, Number(process.argv[3] ?? 20))}\n`)
}
