import { describeError } from './check-attempt.js'
import { createHealthCheck } from './create-health-check.js'
import type { CheckResult, CheckTarget, HealthCheck } from './health-check.js'
import type { HealthSettings } from './health-defaults.js'

export type HealthStatus = 'up' | 'down' | 'unchecked'

/** Told on every change of a target's status (never for pause/resume, which the caller asked for). */
export interface HealthObserver {
  healthChanged(target: CheckTarget, status: 'up' | 'down', last: CheckResult): void
}

export interface TargetHealth {
  readonly status: HealthStatus
  readonly consecutivePasses: number
  readonly consecutiveFailures: number
  readonly last?: CheckResult
  /** When the status last changed (or the target was added or resumed), in the clock's ms. */
  readonly lastChange: number
  readonly checks: number
  readonly failures: number
  /** Changes to 'down', from 'up' or from 'unchecked'. */
  readonly downTransitions: number
  readonly paused: boolean
}

/** The monitor's view of time; tests may replace it. Timers must not keep the process alive. */
export interface MonitorClock {
  now(): number
  setTimeout(callback: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

export interface HealthMonitorOptions {
  readonly clock?: MonitorClock
  /** In [0, 1); spreads the checks (jitter). */
  readonly random?: () => number
  /** Replaces the check built from the settings. */
  readonly check?: HealthCheck
}

const realClock: MonitorClock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
}

/** First checks land within this much of add()/resume(), so that a balancer's start does not check all servers at once. */
const MAX_FIRST_DELAY_MS = 1000
/** Each later delay is interval +/- this fraction. */
const JITTER = 0.1

interface Entry {
  readonly target: CheckTarget
  status: HealthStatus
  passes: number
  failures: number
  last: CheckResult | undefined
  lastChange: number
  checks: number
  totalFailures: number
  downTransitions: number
  paused: boolean
  timer: unknown
  running: AbortController | undefined
}

/**
 * Runs the active checks of a set of targets and applies rise/fall: an 'up' target goes 'down' after `fall`
 * consecutive failures; a 'down' or 'unchecked' target goes 'up' after `rise` consecutive passes (never before its
 * first check). An 'unchecked' target also goes 'down' after `fall` consecutive failures, so that a server that
 * never comes up is shown as such. Checks of one target never overlap: the next is scheduled when one ends.
 * Targets are identified by name.
 */
export class HealthMonitor {
  private readonly entries = new Map<string, Entry>()
  private readonly check: HealthCheck
  private readonly clock: MonitorClock
  private readonly random: () => number
  private stopped = false

  constructor(
    private readonly settings: HealthSettings,
    private readonly observer: HealthObserver,
    options: HealthMonitorOptions = {},
  ) {
    const check = options.check ?? createHealthCheck(settings)
    if (check === undefined) throw new TypeError("health check type 'none' has nothing to monitor")
    this.check = check
    this.clock = options.clock ?? realClock
    this.random = options.random ?? Math.random
  }

  /** Starts checking `target`. `initial` carries a known status over (a reload); a new name replaces an old entry. */
  add(target: CheckTarget, initial: HealthStatus = 'unchecked'): void {
    if (this.stopped) throw new Error('the health monitor is stopped')
    this.remove(target)
    const entry: Entry = {
      target,
      status: initial,
      passes: 0,
      failures: 0,
      last: undefined,
      lastChange: this.clock.now(),
      checks: 0,
      totalFailures: 0,
      downTransitions: 0,
      paused: false,
      timer: undefined,
      running: undefined,
    }
    this.entries.set(target.name, entry)
    this.schedule(entry, this.firstDelay())
  }

  /** Stops checking `target`; a running check is aborted. */
  remove(target: CheckTarget): void {
    const entry = this.entries.get(target.name)
    if (entry === undefined) return
    this.halt(entry)
    this.entries.delete(target.name)
  }

  /** No checks while paused (MAINT); the status is kept as it was. */
  pause(target: CheckTarget): void {
    const entry = this.entries.get(target.name)
    if (entry === undefined || entry.paused) return
    entry.paused = true
    this.halt(entry)
  }

  /** Checks again, from 'unchecked': `rise` passes are needed before the target is up again. */
  resume(target: CheckTarget): void {
    const entry = this.entries.get(target.name)
    if (entry === undefined || !entry.paused) return
    entry.paused = false
    entry.status = 'unchecked'
    entry.passes = 0
    entry.failures = 0
    entry.lastChange = this.clock.now()
    this.schedule(entry, this.firstDelay())
  }

  status(target: CheckTarget): TargetHealth | undefined {
    const e = this.entries.get(target.name)
    if (e === undefined) return undefined
    return {
      status: e.status,
      consecutivePasses: e.passes,
      consecutiveFailures: e.failures,
      ...(e.last === undefined ? {} : { last: e.last }),
      lastChange: e.lastChange,
      checks: e.checks,
      failures: e.totalFailures,
      downTransitions: e.downTransitions,
      paused: e.paused,
    }
  }

  /** Aborts running checks and clears every timer; the monitor cannot be used afterwards. */
  stop(): void {
    this.stopped = true
    for (const entry of this.entries.values()) this.halt(entry)
    this.entries.clear()
  }

  private halt(entry: Entry): void {
    if (entry.timer !== undefined) this.clock.clearTimeout(entry.timer)
    entry.timer = undefined
    entry.running?.abort()
    entry.running = undefined
  }

  private schedule(entry: Entry, delayMs: number): void {
    entry.timer = this.clock.setTimeout(() => {
      entry.timer = undefined
      void this.runCheck(entry)
    }, delayMs)
  }

  private async runCheck(entry: Entry): Promise<void> {
    if (this.entries.get(entry.target.name) !== entry || entry.paused) return
    const controller = new AbortController()
    entry.running = controller
    let result: CheckResult
    try {
      result = await this.check.run(entry.target, controller.signal)
    } catch (err) {
      // Checks promise never to reject; a broken one must still not stop the schedule.
      result = { ok: false, durationMs: 0, detail: `check failed: ${describeError(err)}` }
    }
    // Removed, paused or stopped while the check ran: its result belongs to nobody.
    if (entry.running !== controller) return
    entry.running = undefined

    const change = this.apply(entry, result)
    this.schedule(entry, this.nextDelay(entry))
    // After scheduling, so that an observer that throws cannot stop the checks (its error is not swallowed).
    if (change !== undefined) this.observer.healthChanged(entry.target, change, result)
  }

  private apply(entry: Entry, result: CheckResult): 'up' | 'down' | undefined {
    entry.checks += 1
    entry.last = result
    if (result.ok) {
      entry.passes += 1
      entry.failures = 0
      if (entry.status !== 'up' && entry.passes >= this.settings.rise) return this.become(entry, 'up')
    } else {
      entry.totalFailures += 1
      entry.failures += 1
      entry.passes = 0
      if (entry.status !== 'down' && entry.failures >= this.settings.fall) {
        entry.downTransitions += 1
        return this.become(entry, 'down')
      }
    }
    return undefined
  }

  private become(entry: Entry, status: 'up' | 'down'): 'up' | 'down' {
    entry.status = status
    entry.lastChange = this.clock.now()
    return status
  }

  /** interval when stably up, down_interval when stably down, fast_interval in between and while unchecked. */
  private nextDelay(entry: Entry): number {
    const { interval, fastInterval, downInterval } = this.settings
    const base =
      entry.status === 'up' && entry.failures === 0
        ? interval
        : entry.status === 'down' && entry.passes === 0
          ? downInterval
          : fastInterval
    return base * (1 - JITTER + 2 * JITTER * this.random())
  }

  private firstDelay(): number {
    return this.random() * Math.min(this.settings.interval, MAX_FIRST_DELAY_MS)
  }
}
