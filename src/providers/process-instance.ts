/**
 * One instance of a process-provider service, supervised: an exit that no stop asked for is reported as a crash
 * and the instance is started again (same id, port, version and environment) after a backoff.
 */
import type { ChildProcess } from 'node:child_process'
import { formatHostPort, parseHostPort } from '../config/address.js'
import { reachableHost } from './free-port.js'
import { groupLeaderRunning, signalGroup, stopGroup } from './process-group.js'
import {
  appendLogLine,
  instanceLogPath,
  spawnInstance,
  waitPastStart,
  type InstanceSpec,
  type ProcessProviderConfig,
  type SpawnedInstance,
} from './process-spawn.js'
import type { ProviderLog } from './provider-options.js'
import type { InstanceRecord, ProviderObserver } from './provider.js'

export interface ProcessTimings {
  /** An exit this soon after spawn fails the start instead of counting as a crash. */
  readonly earlyExitMs: number
  readonly firstBackoffMs: number
  readonly maxBackoffMs: number
  /** Up this long, an instance's next crash starts the backoff over. */
  readonly stableMs: number
  /** How often an adopted instance (not our child, so no exit event) is checked. */
  readonly pollMs: number
}

export const DEFAULT_TIMINGS: ProcessTimings = {
  earlyExitMs: 100,
  firstBackoffMs: 1000,
  maxBackoffMs: 30_000,
  stableMs: 30_000,
  pollMs: 1000,
}

export interface InstanceSettings {
  readonly config: ProcessProviderConfig
  readonly stateDir: string
  readonly observer: ProviderObserver | undefined
  readonly log: ProviderLog
  readonly timings: ProcessTimings
}

type Phase = 'running' | 'restarting' | 'stopping' | 'detached'

export class ProcessInstance {
  private phase: Phase = 'running'
  private backoffMs: number
  private child: ChildProcess | undefined
  private poll: NodeJS.Timeout | undefined
  private restartTimer: NodeJS.Timeout | undefined
  private stopped: Promise<void> | undefined

  private constructor(
    private current: InstanceRecord,
    private readonly spec: InstanceSpec,
    private readonly settings: InstanceSettings,
  ) {
    this.backoffMs = settings.timings.firstBackoffMs
  }

  /** Spawns the instance; resolves once it survived its first moments (an EarlyExitError otherwise). */
  static async launch(spec: InstanceSpec, settings: InstanceSettings, signal: AbortSignal): Promise<ProcessInstance> {
    const spawned = spawnInstance(spec, settings.config, settings.stateDir)
    await waitPastStart(spawned, settings.timings.earlyExitMs, signal, `instance ${spec.id} of service ${spec.service}`)
    const instance = new ProcessInstance(recordOf(spec, spawned), spec, settings)
    instance.watchChild(spawned.child)
    return instance
  }

  /** Watches a recorded instance that is not our child (started before the balancer restarted); undefined if it is gone. */
  static adopt(record: InstanceRecord, settings: InstanceSettings): ProcessInstance | undefined {
    const pid = record.pid
    if (pid === undefined || !groupLeaderRunning(pid, record.started_at)) return undefined
    const address = parseHostPort(record.address)
    if (typeof address === 'string') return undefined
    const spec: InstanceSpec = {
      service: record.service,
      id: record.id,
      version: record.version,
      index: indexOf(record.id),
      host: settings.config.host,
      port: address.port,
    }
    const instance = new ProcessInstance(record, spec, settings)
    instance.watchPid(pid)
    return instance
  }

  get record(): InstanceRecord {
    return this.current
  }

  /** SIGTERM to its group, SIGKILL after stop_timeout; no restart afterwards. Resolves when it is gone. */
  stop(): Promise<void> {
    this.stopped ??= this.shutDown()
    return this.stopped
  }

  /** Stops watching and restarting; the process keeps running. */
  detach(): void {
    if (this.phase === 'stopping') return
    this.phase = 'detached'
    this.unwatch()
  }

  private async shutDown(): Promise<void> {
    this.phase = 'stopping'
    this.unwatch()
    const pid = this.current.pid
    if (pid === undefined) return
    const graceMs = this.settings.config.stop_timeout
    const how = await stopGroup(pid, graceMs)
    const logPath = instanceLogPath(this.settings.stateDir, this.spec.service, this.spec.id)
    if (how === 'gone') return
    appendLogLine(logPath, `stopped ${this.spec.id} (${how})`)
    if (how === 'killed' || how === 'stuck') {
      const msg = how === 'killed' ? `did not stop within ${graceMs} ms of SIGTERM; killed` : 'still there after SIGKILL'
      this.settings.log({ event: 'instance.stop', service: this.spec.service, instance: this.spec.id, pid, how }, `instance ${this.spec.id} ${msg}`)
    }
  }

  private watchChild(child: ChildProcess): void {
    this.child = child
    child.once('exit', (code, killedBy) => {
      if (this.child === child) this.ended(code === null ? `killed by ${killedBy ?? 'a signal'}` : `exited with code ${code}`)
    })
    child.once('error', (err) => {
      if (this.child === child) this.ended(`could not be started: ${err.message}`)
    })
  }

  private watchPid(pid: number): void {
    this.poll = setInterval(() => {
      if (!groupLeaderRunning(pid)) this.ended('its process is gone')
    }, this.settings.timings.pollMs)
    this.poll.unref()
  }

  private unwatch(): void {
    this.child = undefined
    clearInterval(this.poll)
    clearTimeout(this.restartTimer)
  }

  /** An end that no stop asked for: report it, then start again after the backoff. */
  private ended(detail: string): void {
    if (this.phase !== 'running') return
    this.unwatch()
    const { timings } = this.settings
    // The leader is gone, but the rest of its group would keep the port.
    if (this.current.pid !== undefined) signalGroup(this.current.pid, 'SIGKILL')
    if (Date.now() - this.current.started_at >= timings.stableMs) this.backoffMs = timings.firstBackoffMs
    const delay = this.backoffMs
    this.backoffMs = Math.min(delay * 2, timings.maxBackoffMs)
    this.phase = 'restarting'
    appendLogLine(instanceLogPath(this.settings.stateDir, this.spec.service, this.spec.id), `${this.spec.id} ${detail}; restarting in ${delay} ms`)
    this.settings.log(
      { event: 'instance.exited', service: this.spec.service, instance: this.spec.id, pid: this.current.pid, detail, restart_in_ms: delay },
      `instance ${this.spec.id} ${detail}; restarting in ${delay} ms`,
    )
    this.tell((observer) => observer.instanceExited(this.current, detail))
    this.restartTimer = setTimeout(() => this.restart(), delay)
    this.restartTimer.unref()
  }

  private restart(): void {
    if (this.phase !== 'restarting') return
    this.phase = 'running'
    let spawned: SpawnedInstance
    try {
      spawned = spawnInstance(this.spec, this.settings.config, this.settings.stateDir)
    } catch (err) {
      this.current = { ...this.current, pid: undefined, started_at: Date.now() }
      return this.ended(`could not be restarted: ${(err as Error).message}`)
    }
    this.current = recordOf(this.spec, spawned)
    this.watchChild(spawned.child)
    // Without a pid the spawn failed; its 'error' event reports that as the next end.
    if (this.current.pid === undefined) return
    this.settings.log(
      { event: 'instance.restarted', service: this.spec.service, instance: this.spec.id, pid: this.current.pid },
      `instance ${this.spec.id} restarted as pid ${this.current.pid}`,
    )
    this.tell((observer) => observer.instanceRestarted(this.current))
  }

  /** An observer that throws must not stop the supervision. */
  private tell(call: (observer: ProviderObserver) => void): void {
    if (this.settings.observer === undefined) return
    try {
      call(this.settings.observer)
    } catch (err) {
      this.settings.log({ event: 'provider.observer_error', instance: this.spec.id, error: String(err) }, 'provider observer failed')
    }
  }
}

function recordOf(spec: InstanceSpec, spawned: SpawnedInstance): InstanceRecord {
  return {
    id: spec.id,
    service: spec.service,
    version: spec.version,
    address: formatHostPort({ host: reachableHost(spec.host), port: spec.port }),
    pid: spawned.child.pid,
    started_at: Date.now(),
  }
}

/**
 * The instance number of an adopted instance, for its environment when it has to be restarted. The record does
 * not keep it; ids end with it by convention ("app-v2-1").
 */
function indexOf(id: string): number {
  const match = /-(\d+)$/.exec(id)
  return match === null ? 1 : Number(match[1])
}
