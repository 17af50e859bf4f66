/**
 * `process`: Switchyard starts a service's instances itself from `command`, each on a port it picks, and keeps
 * them running (crash -> report -> restart with backoff). Instances outlive the balancer: a balancer restarted
 * after a crash adopts the recorded ones that still run; a graceful stop of the balancer calls stopAll().
 */
import type { ProviderConfig } from '../config/schema.js'
import { pickFreePort } from './free-port.js'
import { ProcessInstance, DEFAULT_TIMINGS, type InstanceSettings, type ProcessTimings } from './process-instance.js'
import { stopGroup, groupLeaderRunning } from './process-group.js'
import { EarlyExitError, type ProcessProviderConfig } from './process-spawn.js'
import type { ProviderOptions } from './provider-options.js'
import type { FixedServer, InstanceRecord, Provider, StartRequest } from './provider.js'

/** Starts on a fresh port when an instance died at once because another process took its port meanwhile. */
const PORT_ATTEMPTS = 3

export class ProcessProvider implements Provider {
  readonly type = 'process'
  readonly startsInstances = true
  private readonly instances = new Map<string, ProcessInstance>()
  private settings: InstanceSettings
  private closed = false

  constructor(
    private readonly service: string,
    private config: ProcessProviderConfig,
    options: ProviderOptions,
    timings: Partial<ProcessTimings> = {},
  ) {
    this.settings = {
      config,
      stateDir: options.stateDir,
      observer: options.observer,
      log: options.log ?? (() => {}),
      timings: { ...DEFAULT_TIMINGS, ...timings },
    }
  }

  async start(request: StartRequest, signal: AbortSignal): Promise<InstanceRecord> {
    if (this.closed) throw new Error(`service ${this.service}: the process provider is closed`)
    if (this.instances.has(request.id)) throw new Error(`service ${this.service}: instance ${request.id} already exists`)
    for (let attempt = 1; ; attempt++) {
      const port = await pickFreePort(this.config.host)
      const spec = { service: request.service, id: request.id, version: request.version, index: request.index, host: this.config.host, port }
      try {
        const instance = await ProcessInstance.launch(spec, this.settings, signal)
        this.instances.set(request.id, instance)
        return instance.record
      } catch (err) {
        if (!(err instanceof EarlyExitError && err.portInUse && attempt < PORT_ATTEMPTS)) throw err
      }
    }
  }

  async stop(instance: InstanceRecord): Promise<void> {
    const known = this.instances.get(instance.id)
    if (known !== undefined) {
      await known.stop()
      this.instances.delete(instance.id)
    } else if (instance.pid !== undefined && groupLeaderRunning(instance.pid, instance.started_at)) {
      // Recorded but never adopted here (e.g. stopped before adopt): still ours to stop.
      await stopGroup(instance.pid, this.config.stop_timeout)
    }
  }

  async adopt(instances: readonly InstanceRecord[]): Promise<InstanceRecord[]> {
    const kept: InstanceRecord[] = []
    for (const record of instances) {
      const known = this.instances.get(record.id)
      const instance = known ?? ProcessInstance.adopt(record, this.settings)
      if (instance === undefined) continue
      this.instances.set(record.id, instance)
      kept.push(instance.record)
    }
    return kept
  }

  deployInPlace(_server: FixedServer, _version: string, _signal: AbortSignal): Promise<void> {
    return Promise.reject(new Error(`service ${this.service}: the process provider starts new instances; it does not deploy in place`))
  }

  reconfigure(config: ProviderConfig): boolean {
    if (config.type !== 'process') return false
    this.config = config
    this.settings = { ...this.settings, config }
    return true
  }

  async close(): Promise<void> {
    this.closed = true
    for (const instance of this.instances.values()) instance.detach()
  }

  /** Stops every instance this provider knows (a graceful stop of the balancer leaves no orphans). */
  async stopAll(): Promise<void> {
    const all = [...this.instances.entries()]
    await Promise.all(all.map(([, instance]) => instance.stop()))
    for (const [id] of all) this.instances.delete(id)
  }
}
