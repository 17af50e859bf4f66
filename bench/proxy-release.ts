/**
 * Release-time performance (issue 11, part 4): how long after an admin call returns its change is in effect for
 * new requests. A stream of requests flows through Switchyard the whole time; each records when it was sent and
 * who answered. For a change that takes traffic away (drain, weight 0, a canary split moved to 0 % or 100 %) the
 * change is in effect from the first request, sent after the call returned, after which no request reached
 * what the change excluded (0 when none did); for one that gives traffic (ready, weight 1) from the first request
 * sent after the call that reached the server. Reported: that delay, median and max over the trials, and the
 * requests sent after the call returned that still did what the change forbade.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { SAMPLE_APP } from '../src/demo/sample-service.js'
import { startNodeServer } from './proxy-backend.js'
import { freePort, sleep } from './proxy-processes.js'
import { fmtCount, median, table } from './proxy-report.js'
import { RequestStream, type Sent } from './proxy-stream.js'
import { appBackend, startSwitchyard, waitAllUp, type Switchyard } from './proxy-switchyard.js'

/** How long each trial watches the stream after the call returned: far above the goal (5 ms). */
const WINDOW_MS = 300

interface Trial {
  /** ms from the call's return to the change being in effect; Infinity: not within the window. */
  readonly effectMs: number
  /** The same, counted from when the call was sent: shows whether the change applies before the answer leaves. */
  readonly fromSendMs: number
  /** ms the admin call took (sent to answer read). */
  readonly callMs: number
  /** Requests sent after the call returned that did what the change forbids. */
  readonly late: number
}

type Kind = { readonly takes: (who: string) => boolean } | { readonly gives: (who: string) => boolean }

/**
 * When, after `from`, the change was in effect. A change that takes traffic: at `from` if no request sent
 * since disobeyed, else at the first request after the last disobeying one (Infinity: still disobeyed at the end
 * of the window). A change that gives traffic shows only when a request reaches the server: the figure includes
 * waiting for the balancer's turn to come to it (round-robin over two servers: every other request).
 */
function inEffect(records: readonly Sent[], from: number, kind: Kind): number {
  const after = records.filter((r) => r.t >= from)
  if ('takes' in kind) {
    let lastLate = -1
    after.forEach((r, i) => {
      if (kind.takes(r.who)) lastLate = i
    })
    return lastLate < 0 ? 0 : lastLate + 1 < after.length ? after[lastLate + 1]!.t - from : Infinity
  }
  const first = after.find((r) => kind.gives(r.who))
  return first === undefined ? Infinity : first.t - from
}

async function trial(stream: RequestStream, call: () => Promise<void>, kind: Kind): Promise<Trial> {
  // A random offset, so that the call does not fall on the same phase of the balancer's timers every time.
  await sleep(20 + Math.random() * 60)
  stream.records = []
  const tCall = performance.now()
  await call()
  const tReturn = performance.now()
  await sleep(WINDOW_MS)
  const records = [...stream.records].sort((a, b) => a.t - b.t)
  if (!records.some((r) => r.t >= tReturn)) throw new Error('the request stream stalled during a release-time trial')
  const late = 'takes' in kind ? records.filter((r) => r.t >= tReturn && kind.takes(r.who)).length : 0
  return { effectMs: inEffect(records, tReturn, kind), fromSendMs: inEffect(records, tCall, kind), callMs: tReturn - tCall, late }
}

async function expectOk(answer: Promise<{ status: number; body: string }>, what: string): Promise<void> {
  const a = await answer
  if (a.status < 200 || a.status > 299) throw new Error(`${what}: ${a.status} ${a.body}`)
}

export interface ReleaseRow {
  readonly change: string
  readonly trials: readonly Trial[]
}

/** Drain/ready and weight 0/1 on server s1 of two named servers. */
async function serverChanges(dir: string, trials: number, workers: number): Promise<ReleaseRow[]> {
  const p1 = await freePort()
  const p2 = await freePort()
  const s1 = await startNodeServer(p1, 's1')
  const s2 = await startNodeServer(p2, 's2')
  const sy = await startSwitchyard(dir, `switchyard-release-w${workers}`, { backends: appBackend({ s1: p1, s2: p2 }), workers })
  const stream = new RequestStream(sy.port)
  try {
    await waitAllUp(sy, 2)
    stream.start()
    await sleep(500)
    const rows = new Map<string, Trial[]>()
    const add = (name: string, t: Trial): void => void rows.set(name, [...(rows.get(name) ?? []), t])
    const set = (body: unknown) => () => expectOk(sy.admin('POST', '/api/v1/backends/app/servers/s1', body), JSON.stringify(body))
    const isS1 = (who: string): boolean => who === 's1'
    for (let i = 0; i < trials; i++) {
      add('drain s1', await trial(stream, set({ admin: 'drain' }), { takes: isS1 }))
      add('ready s1 (after drain)', await trial(stream, set({ admin: 'ready' }), { gives: isS1 }))
      add('weight s1 1 -> 0', await trial(stream, set({ weight: 0 }), { takes: isS1 }))
      add('weight s1 0 -> 1', await trial(stream, set({ weight: 1 }), { gives: isS1 }))
    }
    return [...rows].map(([change, list]) => ({ change, trials: list }))
  } finally {
    await stream.stop()
    await sy.proc.stop()
    await Promise.all([s1.stop(), s2.stop()])
  }
}

/**
 * A canary whose steps alternate between 0 % and 100 % for the new version and wait for promote: each promote
 * moves the split all the way, so that whether a request obeys it is certain, not a matter of proportions.
 */
async function canaryPromotes(dir: string, trials: number, workers: number): Promise<ReleaseRow[]> {
  // Two promotes per trial: one each way.
  const steps = Array.from({ length: 2 * trials + 1 }, (_, i) => `{ weight: ${i % 2 === 0 ? 0 : 100} }`).join(', ')
  const extra = [
    'services:',
    '  app:',
    '    backend: app',
    '    version: v1',
    '    provider:',
    '      type: process',
    `      command: ${JSON.stringify(`exec "${process.execPath}" "${SAMPLE_APP}"`)}`,
    '      instances: 1',
    '    strategy:',
    '      type: canary',
    '      canary_instances: 1',
    `      steps: [${steps}]`,
    // No window is judged during the bench: a verdict must not end the release between two promotes.
    '      analysis: { interval: 1h }',
  ].join('\n')
  const backends = '  app:\n    health: { type: http, path: /healthz, interval: 1s, fast_interval: 100ms, rise: 1, fall: 2, timeout: 500ms }'
  const where = join(dir, `canary-w${workers}`)
  mkdirSync(where, { recursive: true })
  const sy = await startSwitchyard(where, 'switchyard-canary', { backends, extra, workers })
  const stream = new RequestStream(sy.port)
  try {
    await waitAllUp(sy, 1)
    await waitNoRelease(sy)
    stream.start()
    const started = await sy.admin('POST', '/api/v1/deployments', { service: 'app', version: 'v2' })
    if (started.status !== 202) throw new Error(`deploy: ${started.status} ${started.body}`)
    const id = (JSON.parse(started.body) as { id: string }).id
    const toNew: Trial[] = []
    const toOld: Trial[] = []
    for (let i = 0; i < 2 * trials; i++) {
      await waitForWatch(sy, id, i + 1)
      await sleep(200)
      // Step i is at 0 % (even) or 100 % (odd); promote moves to the other.
      const toV2 = i % 2 === 0
      const result = await trial(stream, () => expectOk(sy.admin('POST', `/api/v1/deployments/${id}/promote`), 'promote'), {
        takes: (who) => who === (toV2 ? 'v1' : 'v2'),
      })
      ;(toV2 ? toNew : toOld).push(result)
    }
    await sy.admin('POST', `/api/v1/deployments/${id}/abort`)
    return [
      { change: 'canary promote: v2 0% -> 100%', trials: toNew },
      { change: 'canary promote: v2 100% -> 0%', trials: toOld },
    ]
  } finally {
    await stream.stop()
    // Graceful: the balancer stops the sample-app instances it started.
    await sy.proc.stop(10_000)
  }
}

/** The service's first release (starting v1) is a deployment too: a new one is refused until it has ended. */
async function waitNoRelease(sy: Switchyard): Promise<void> {
  const deadline = Date.now() + 60_000
  for (;;) {
    const state = JSON.parse((await sy.admin('GET', '/api/v1/state')).body) as { services?: { name: string; deployment: unknown }[] }
    if ((state.services ?? []).every((s) => s.deployment === null)) return
    if (Date.now() > deadline) throw new Error('the initial release of the canary service did not end in 60 s')
    await sleep(50)
  }
}

/** Waits until the release's n-th canary watch ("until promote") is running. */
async function waitForWatch(sy: Switchyard, id: string, n: number): Promise<void> {
  const deadline = Date.now() + 60_000
  for (;;) {
    const record = JSON.parse((await sy.admin('GET', `/api/v1/deployments/${id}`)).body) as { status: string; error?: string; steps: { kind: string; ended_at?: number }[] }
    const watches = record.steps.filter((s) => s.kind === 'analyze')
    if (watches.length === n && watches[n - 1]!.ended_at === undefined) return
    if (record.status !== 'running') throw new Error(`canary release ${record.status}: ${record.error ?? ''}`)
    if (Date.now() > deadline) throw new Error(`canary watch ${n} not reached in 60 s`)
    await sleep(20)
  }
}

/** `workers`: Switchyard's `workers:` (above 1, the change must reach every worker before it counts). */
export async function releaseTimes(dir: string, trials: number, workers = 1): Promise<ReleaseRow[]> {
  return [...(await serverChanges(dir, trials, workers)), ...(await canaryPromotes(dir, trials, workers))]
}

export function releaseTable(rows: readonly ReleaseRow[]): string {
  const ms = (x: number): string => (Number.isFinite(x) ? `${x.toFixed(2)} ms` : `> ${WINDOW_MS} ms`)
  return table(
    ['admin call', 'trials', 'in effect after the answer: median', 'max', 'late requests', 'after the call was sent: median', 'max', 'call took: median'],
    rows.map((r) => {
      const effects = r.trials.map((t) => t.effectMs)
      return [
        r.change,
        String(r.trials.length),
        ms(median(effects)),
        ms(Math.max(...effects)),
        fmtCount(r.trials.reduce((a, t) => a + t.late, 0)),
        ms(median(r.trials.map((t) => t.fromSendMs))),
        ms(Math.max(...r.trials.map((t) => t.fromSendMs))),
        ms(median(r.trials.map((t) => t.callMs))),
      ]
    }),
  )
}
