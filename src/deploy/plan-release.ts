/**
 * Release plans: pure functions from "what runs now" to the list of steps that brings a service to a version.
 * Plans are computed from the current servers, so a plan made again after an interruption continues where the
 * previous one stopped. The executor (release-executor.ts) applies the steps.
 */

export type StrategyName = 'rolling' | 'surge' | 'bluegreen' | 'canary'

/** One canary step: the new version's share of requests, then how long to watch it (null: until promote). */
export interface CanaryStep {
  readonly weight: number
  readonly pauseMs: number | null
}

export interface PlanServer {
  readonly name: string
  readonly version: string | undefined
}

export interface PlanInput {
  readonly strategy: StrategyName
  /** The version to reach. */
  readonly to: string
  /** The version serving traffic now (undefined before the first release). */
  readonly from: string | undefined
  /** The service's servers now, in order. */
  readonly servers: readonly PlanServer[]
  /** How many servers the release should end with (process/exec: `instances`; static: the fixed servers). */
  readonly instances: number
  /** process/exec start and stop instances; static deploys in place on fixed servers. */
  readonly startsInstances: boolean
  readonly batch: number | string
  readonly maxSurge: number | string
  /** Canary only. */
  readonly canaryInstances?: number
  readonly canarySteps?: readonly CanaryStep[]
}

export type Step =
  /** Only these versions get traffic (null: every server). */
  | { readonly kind: 'rotate'; readonly releases: readonly string[] | null }
  /** Start `count` instances of the new version (their names are known only once started). */
  | { readonly kind: 'start'; readonly count: number }
  /** Wait until every server started or deployed so far in this release is UP (healthy_deadline). */
  | { readonly kind: 'wait-up' }
  /** No new requests; wait until requests in flight finished (drain_timeout). */
  | { readonly kind: 'drain'; readonly servers: readonly string[] }
  /** Take out of the backend and stop the instances. */
  | { readonly kind: 'stop'; readonly servers: readonly string[] }
  /** Static: run the deploy command on drained servers; they are checked again before they return. */
  | { readonly kind: 'deploy'; readonly servers: readonly string[] }
  /** Static: put deployed servers back into rotation once UP. */
  | { readonly kind: 'ready'; readonly servers: readonly string[] }
  /** Blue/green: smoke checks (and preview) against the new release before the switch. */
  | { readonly kind: 'smoke' }
  /** Blue/green: all traffic to `to` at once; the previous release stays warm. */
  | { readonly kind: 'switch'; readonly to: string }
  /** Blue/green: these servers are stopped after keep_previous unless a rollback needs them first. */
  | { readonly kind: 'retire-later'; readonly servers: readonly string[] }
  /** Canary: the share of requests per version (new version first); null ends the split. */
  | { readonly kind: 'split'; readonly weights: readonly { readonly release: string; readonly weight: number }[] | null }
  /** Canary: compare the new version with the old one for a while (null: until promote); a bad verdict fails. */
  | { readonly kind: 'analyze'; readonly durationMs: number | null }

export type Plan = { readonly ok: true; readonly steps: Step[] } | { readonly ok: false; readonly error: string }

/** "2" or "25%" of `total`, at least 1. */
export function resolveCount(value: number | string, total: number): number {
  if (typeof value === 'number') return Math.max(1, value)
  const percent = Number(value.replace('%', ''))
  return Math.max(1, Math.floor((total * percent) / 100))
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

export function planRelease(input: PlanInput): Plan {
  if (!input.startsInstances && input.strategy !== 'rolling') {
    return { ok: false, error: `${input.strategy} needs a provider that starts instances (process or exec); static servers are updated in place by rolling` }
  }
  if (!input.startsInstances) return { ok: true, steps: planStaticRolling(input) }
  switch (input.strategy) {
    case 'rolling':
      return { ok: true, steps: planRolling(input) }
    case 'surge':
      return { ok: true, steps: planSurge(input, resolveCount(input.maxSurge, input.instances)) }
    case 'bluegreen':
      return { ok: true, steps: planBlueGreen(input) }
    case 'canary':
      return { ok: true, steps: input.from === undefined || input.from === input.to ? planRolling(input) : planCanary(input, input.from) }
  }
}

/** The versions that may take traffic while the release runs: the current one and the new one. */
function releaseRotation(input: PlanInput): Step {
  return { kind: 'rotate', releases: input.from === undefined || input.from === input.to ? [input.to] : [input.from, input.to] }
}

function split(input: PlanInput): { old: string[]; current: number } {
  const old = input.servers.filter((s) => s.version !== input.to).map((s) => s.name)
  return { old, current: input.servers.length - old.length }
}

/** Replace `batch` servers at a time: drain and stop old ones, start new ones, wait until they are UP. */
function planRolling(input: PlanInput): Step[] {
  const { old, current } = split(input)
  const batch = resolveCount(input.batch, input.instances)
  const steps: Step[] = [releaseRotation(input)]
  let toStart = Math.max(0, input.instances - current)
  for (const group of chunks(old, batch)) {
    steps.push({ kind: 'drain', servers: group }, { kind: 'stop', servers: group })
    const count = Math.min(toStart, group.length)
    if (count > 0) steps.push({ kind: 'start', count }, { kind: 'wait-up' })
    toStart -= count
  }
  while (toStart > 0) {
    const count = Math.min(batch, toStart)
    steps.push({ kind: 'start', count }, { kind: 'wait-up' })
    toStart -= count
  }
  steps.push({ kind: 'rotate', releases: null })
  return steps
}

/** Start `surge` new instances, wait until UP, then drain and stop as many old ones: capacity never drops. */
export function planSurge(input: PlanInput, surge: number): Step[] {
  const { old, current } = split(input)
  const steps: Step[] = [releaseRotation(input)]
  let toStart = Math.max(0, input.instances - current)
  const remaining = [...old]
  while (toStart > 0 || remaining.length > 0) {
    const count = Math.min(surge, toStart)
    if (count > 0) steps.push({ kind: 'start', count }, { kind: 'wait-up' })
    toStart -= count
    // As many old as were just started; once nothing is left to start, the rest in groups of `surge`.
    const leaving = remaining.splice(0, count > 0 ? count : surge)
    if (leaving.length > 0) steps.push({ kind: 'drain', servers: leaving }, { kind: 'stop', servers: leaving })
    if (count === 0 && leaving.length === 0) break
  }
  steps.push({ kind: 'rotate', releases: null })
  return steps
}

/** The whole new set beside the old, out of rotation; smoke; switch at once; the old one stays warm. */
function planBlueGreen(input: PlanInput): Step[] {
  const { old, current } = split(input)
  const steps: Step[] = []
  if (input.from !== undefined && input.from !== input.to) steps.push({ kind: 'rotate', releases: [input.from] })
  const toStart = Math.max(0, input.instances - current)
  if (toStart > 0) steps.push({ kind: 'start', count: toStart }, { kind: 'wait-up' })
  steps.push({ kind: 'smoke' }, { kind: 'switch', to: input.to })
  if (old.length > 0) steps.push({ kind: 'retire-later', servers: old })
  return steps
}

/**
 * A few instances of the new version get a growing share of requests, step by step, each watched by the
 * analysis; then the new version is brought to full size, takes all traffic at once, and the old one leaves.
 */
function planCanary(input: PlanInput, from: string): Step[] {
  const { old, current } = split(input)
  const to = input.to
  const share = (weight: number) => [{ release: to, weight }, { release: from, weight: 100 - weight }]
  const canaries = Math.min(input.instances, input.canaryInstances ?? 1)
  const steps: Step[] = [releaseRotation(input), { kind: 'split', weights: share(0) }]
  if (canaries > current) steps.push({ kind: 'start', count: canaries - current }, { kind: 'wait-up' })
  for (const step of input.canarySteps ?? []) steps.push({ kind: 'split', weights: share(step.weight) }, { kind: 'analyze', durationMs: step.pauseMs })
  const rest = input.instances - Math.max(current, canaries)
  if (rest > 0) steps.push({ kind: 'start', count: rest }, { kind: 'wait-up' })
  steps.push({ kind: 'switch', to }, { kind: 'split', weights: null })
  if (old.length > 0) steps.push({ kind: 'drain', servers: old }, { kind: 'stop', servers: old })
  steps.push({ kind: 'rotate', releases: null })
  return steps
}

/** Static servers, in place: drain a batch, run the deploy command, wait until UP, put back into rotation. */
function planStaticRolling(input: PlanInput): Step[] {
  const { old } = split(input)
  const steps: Step[] = []
  for (const group of chunks(old, resolveCount(input.batch, input.servers.length))) {
    steps.push({ kind: 'drain', servers: group }, { kind: 'deploy', servers: group }, { kind: 'wait-up' }, { kind: 'ready', servers: group })
  }
  return steps
}

/**
 * Going back (rollback, abort, or a failed release) to `target`: when enough servers of it are still there
 * (blue/green kept warm), switch to them at once; otherwise start what is missing first (surge-like, so
 * capacity never drops), then take every other version out.
 */
export function planReturn(input: PlanInput): Plan {
  if (!input.startsInstances) return { ok: true, steps: planStaticRolling(input) }
  const { current } = split(input)
  if (current >= input.instances) {
    const others = input.servers.filter((s) => s.version !== input.to).map((s) => s.name)
    const steps: Step[] = [{ kind: 'switch', to: input.to }]
    if (others.length > 0) steps.push({ kind: 'drain', servers: others }, { kind: 'stop', servers: others })
    steps.push({ kind: 'rotate', releases: null })
    return { ok: true, steps }
  }
  return { ok: true, steps: planSurge(input, input.instances) }
}
