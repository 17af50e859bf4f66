import type { StepRecord } from './deployment-record.js'
import type { Step } from './plan-release.js'
import { Wakeup } from './wakeup.js'

/** What a release does to the world, one method per kind of step (implemented by the service controller). */
export interface ReleaseActions {
  /** Starts one instance of `version`; resolves with its server name once it is in the backend (STARTING). */
  startInstance(version: string, signal: AbortSignal): Promise<string>
  /** Whether a server is UP (health), and a short reason when it is not. */
  health(server: string): { up: boolean; detail: string }
  /** Admin drain; resolves when nothing is in flight or after `timeoutMs` (then requests are cut by stop). */
  drain(servers: readonly string[], timeoutMs: number): Promise<void>
  /** Takes servers out of the backend and stops their instances. */
  stop(servers: readonly string[]): Promise<void>
  /** Static: deploys `version` in place on drained servers; they are checked again before ready(). */
  deployInPlace(servers: readonly string[], version: string, signal: AbortSignal): Promise<void>
  ready(servers: readonly string[]): void
  rotate(releases: readonly string[] | null): void
  /** All traffic to `version` at once, and it becomes the service's current release. */
  switchTo(version: string): void
  /** Smoke checks against the new release (out of rotation); rejects with the reason of the first failure. */
  smoke(version: string, signal: AbortSignal): Promise<void>
  /** Old servers kept warm, stopped after keep_previous unless a rollback takes them back first. */
  retireLater(servers: readonly string[]): void
  /** Canary: the share of requests per version, or null to end the split. */
  setSplit(weights: readonly { readonly release: string; readonly weight: number }[] | null): void
  /**
   * Canary: judges the new version against the old one every analysis interval until `until()` says stop;
   * rejects with the reasons once the analysis says abort. Resolves with a one-line account of the windows.
   * `wakeup` is woken when `until()` may have changed (a promote), so that it is asked at once.
   */
  analyze(to: string, until: () => boolean, signal: AbortSignal, wakeup: Wakeup): Promise<string>
}

export interface ExecutorSettings {
  readonly to: string
  readonly healthyDeadlineMs: number
  readonly drainTimeoutMs: number
  /** Told after every step record change (to save the record and show progress). */
  readonly onChange: () => void
}

export class ReleaseAbortedError extends Error {
  constructor() {
    super('the release was aborted')
    this.name = 'ReleaseAbortedError'
  }
}

const POLL_MS = 25

/**
 * Runs the steps of a plan one after the other, recording each (kind, detail, times, result). It can be paused
 * between steps and aborted at any time (the running step is interrupted). A failing step ends the run with
 * its error; going back is the caller's business (it runs a return plan with another executor).
 */
export class ReleaseExecutor {
  private readonly abortController = new AbortController()
  private paused = false
  /** Set by promote: the current (or next) timed watch of a canary step ends now. */
  private promoted = false
  /** Wakes the canary watch in progress, so that a promote does not wait for its next look. */
  private readonly wakeup = new Wakeup()
  /** Promotes waiting for the watch they ended to be followed by the next split or switch (see promote()). */
  private promoteWaiters: (() => void)[] = []
  private watching = false
  private resumeWaiters: (() => void)[] = []
  /** Servers started or deployed by this run and not yet seen UP. */
  private readonly pending = new Set<string>()
  /** Every server started by this run (to take out when going back). */
  readonly started: string[] = []

  constructor(
    private readonly actions: ReleaseActions,
    private readonly settings: ExecutorSettings,
    private readonly steps: StepRecord[],
  ) {}

  get isPaused(): boolean {
    return this.paused
  }

  pause(): void {
    this.paused = true
  }

  resume(): void {
    this.paused = false
    const waiters = this.resumeWaiters
    this.resumeWaiters = []
    for (const wake of waiters) wake()
  }

  /**
   * Canary: ends the current watch (a step's pause, or the wait for promote) and goes on. Resolves once the
   * release has moved on: when a watch was running, after the step that follows it (the next split, or the
   * switch) has been applied, so that the admin call answers with the new split already in effect for new
   * requests; at once otherwise (the next watch to start then ends at once).
   */
  promote(): Promise<void> {
    this.promoted = true
    if (!this.watching) return Promise.resolve()
    const moved = new Promise<void>((resolve) => this.promoteWaiters.push(resolve))
    this.wakeup.wake()
    return moved
  }

  abort(): void {
    this.abortController.abort(new ReleaseAbortedError())
    this.wakeup.wake()
    this.resume()
  }

  async run(plan: readonly Step[]): Promise<void> {
    try {
      await this.runSteps(plan)
    } finally {
      this.settlePromotes()
    }
  }

  private async runSteps(plan: readonly Step[]): Promise<void> {
    for (const [index, step] of plan.entries()) {
      // A promote waits for the split or switch that follows the watch it ended, not for anything slower.
      // (nor for a paused release to be resumed).
      if ((step.kind !== 'split' && step.kind !== 'switch') || this.paused) this.settlePromotes()
      await this.waitWhilePaused()
      this.throwIfAborted()
      const record: StepRecord = { kind: step.kind, detail: describe(step, this.settings.to), started_at: Date.now() }
      this.steps.push(record)
      this.settings.onChange()
      try {
        await this.apply(step, record)
        record.result = 'ok'
      } catch (err) {
        record.result = 'failed'
        record.error = err instanceof Error ? err.message : String(err)
        throw this.abortController.signal.aborted ? new ReleaseAbortedError() : err
      } finally {
        record.ended_at = Date.now()
        this.settings.onChange()
      }
      if (plan[index - 1]?.kind === 'analyze') this.settlePromotes()
    }
  }

  private settlePromotes(): void {
    const waiters = this.promoteWaiters
    this.promoteWaiters = []
    for (const resolve of waiters) resolve()
  }

  private async apply(step: Step, record: StepRecord): Promise<void> {
    const signal = this.abortController.signal
    switch (step.kind) {
      case 'rotate':
        return this.actions.rotate(step.releases)
      case 'start': {
        const names: string[] = []
        for (let i = 0; i < step.count; i++) {
          const name = await this.actions.startInstance(this.settings.to, signal)
          names.push(name)
          this.started.push(name)
          this.pending.add(name)
        }
        // The names are known only now: the record says which instances this step started.
        record.detail = `start ${names.join(', ')}`
        return
      }
      case 'wait-up':
        return this.waitUp()
      case 'drain':
        return this.actions.drain(step.servers, this.settings.drainTimeoutMs)
      case 'stop':
        return this.actions.stop(step.servers)
      case 'deploy':
        await this.actions.deployInPlace(step.servers, this.settings.to, signal)
        for (const s of step.servers) this.pending.add(s)
        return
      case 'ready':
        return this.actions.ready(step.servers)
      case 'smoke':
        return this.actions.smoke(this.settings.to, signal)
      case 'switch':
        return this.actions.switchTo(step.to)
      case 'retire-later':
        return this.actions.retireLater(step.servers)
      case 'split':
        return this.actions.setSplit(step.weights)
      case 'analyze':
        record.detail = `${record.detail}: ${await this.watch(step.durationMs)}`
        return
    }
  }

  /** A canary step's watch: the analysis runs until the pause is over (paused time excluded) or a promote. */
  private async watch(durationMs: number | null): Promise<string> {
    this.promoted = false
    let remaining = durationMs ?? Infinity
    let last = Date.now()
    this.watching = true
    try {
      return await this.actions.analyze(
        this.settings.to,
        () => {
          const now = Date.now()
          if (!this.paused) remaining -= now - last
          last = now
          return this.promoted || remaining <= 0 || this.abortController.signal.aborted
        },
        this.abortController.signal,
        this.wakeup,
      )
    } finally {
      this.watching = false
    }
  }

  /** Every pending server UP before the deadline; otherwise the step fails naming the laggards and why. */
  private async waitUp(): Promise<void> {
    let deadline = Date.now() + this.settings.healthyDeadlineMs
    for (;;) {
      for (const name of [...this.pending]) if (this.actions.health(name).up) this.pending.delete(name)
      if (this.pending.size === 0) return
      this.throwIfAborted()
      if (this.paused) {
        // Time spent paused does not count against the healthy deadline.
        const pausedAt = Date.now()
        await this.waitWhilePaused()
        deadline += Date.now() - pausedAt
        continue
      }
      if (Date.now() >= deadline) {
        const laggards = [...this.pending].map((n) => `${n} (${this.actions.health(n).detail})`).join(', ')
        throw new Error(`not healthy within ${Math.round(this.settings.healthyDeadlineMs / 1000)}s: ${laggards}`)
      }
      await sleep(POLL_MS, this.abortController.signal)
    }
  }

  private async waitWhilePaused(): Promise<void> {
    while (this.paused && !this.abortController.signal.aborted) {
      await new Promise<void>((resolve) => this.resumeWaiters.push(resolve))
    }
  }

  private throwIfAborted(): void {
    if (this.abortController.signal.aborted) throw new ReleaseAbortedError()
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms)
    function done(): void {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })
}

export function describe(step: Step, to: string): string {
  switch (step.kind) {
    case 'rotate':
      return step.releases === null ? 'every release in rotation' : `rotation: ${step.releases.join(', ')}`
    case 'start':
      return `start ${step.count} instance(s) of ${to}`
    case 'wait-up':
      return 'wait until the new servers are UP'
    case 'drain':
      return `drain ${step.servers.join(', ')}`
    case 'stop':
      return `stop ${step.servers.join(', ')}`
    case 'deploy':
      return `deploy ${to} on ${step.servers.join(', ')}`
    case 'ready':
      return `ready ${step.servers.join(', ')}`
    case 'smoke':
      return `smoke checks on ${to}`
    case 'switch':
      return `switch all traffic to ${step.to}`
    case 'retire-later':
      return `keep ${step.servers.join(', ')} warm, then stop them`
    case 'split':
      return step.weights === null ? 'end the split' : `split: ${step.weights.map((w) => `${w.release} ${w.weight}%`).join(', ')}`
    case 'analyze':
      return step.durationMs === null ? 'watch the canary until promote' : `watch the canary for ${Math.round(step.durationMs / 1000)}s`
  }
}
