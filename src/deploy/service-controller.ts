import { NAME_PATTERN, type ServiceConfig } from '../config/schema.js'
import { SwitchyardError } from '../errors.js'
import { createProvider, stopAllInstances } from '../providers/create-provider.js'
import type { Provider } from '../providers/provider.js'
import type { DeploymentRecord, DeploymentStatus } from './deployment-record.js'
import type { DeploymentStore } from './deployment-store.js'
import { summarize } from './deployment-summary.js'
import { planRelease, planReturn, type Plan, type StrategyName } from './plan-release.js'
import { ReleaseAbortedError, ReleaseExecutor } from './release-executor.js'
import { ReleaseTraffic } from './release-traffic.js'
import { ServiceActions, type ServiceHost } from './service-actions.js'
import { DeploymentJournal } from './deployment-journal.js'
import { TimelineRecorder } from './timeline-recorder.js'
import type { WebhookNotifier } from './webhook-notifier.js'

export interface ServiceDeps {
  readonly store: DeploymentStore
  readonly notifier: WebhookNotifier
  readonly stateDir: string
  /** Told when a release has ended, whatever its result. */
  readonly onEnded?: (record: DeploymentRecord) => void
}

interface Running {
  readonly record: DeploymentRecord
  readonly executor: ReleaseExecutor
  readonly done: Promise<void>
}

/** Strategy names a release can be asked for. */
const STRATEGIES: readonly string[] = ['rolling', 'surge', 'bluegreen', 'canary']

/**
 * One service's releases: one at a time, each planned from what runs now, executed step by step, recorded with a
 * per-second timeline, and undone (back to the previous version, with zero failed requests) when it fails or is
 * aborted. Also adopts the service's instances when the balancer starts and starts its first release.
 */
export class ServiceController {
  readonly provider: Provider
  private readonly actions: ServiceActions
  private readonly traffic: ReleaseTraffic
  private running: Running | undefined
  /** The last deployment that a restart found unfinished (resume or rollback are offered). */
  private interrupted: DeploymentRecord | undefined
  /** Deployments started by this process, by id (for steering answers). */
  private readonly known = new Map<string, DeploymentRecord>()
  private readonly journal: DeploymentJournal
  /** Set by close(): a release cut short by the stop stays recorded as running (interrupted at the next start). */
  private closing = false

  constructor(
    readonly name: string,
    private config: ServiceConfig,
    private readonly host: ServiceHost,
    private readonly deps: ServiceDeps,
  ) {
    this.provider = createProvider(name, config.provider, {
      stateDir: deps.stateDir,
      log: (event, msg) => host.log.info({ service: name, ...event }, msg),
      observer: {
        instanceExited: (instance, detail) =>
          host.log.warn({ event: 'instance.exited', service: name, instance: instance.id, detail }, `${instance.id} exited: ${detail}`),
        instanceRestarted: (instance) => {
          // A restart has a new pid: the record must follow, or a later restart of the balancer could not adopt it.
          host.update((s) => ({ ...s, instances: s.instances.map((i) => (i.id === instance.id ? instance : i)) }))
          host.log.info({ event: 'instance.restarted', service: name, instance: instance.id }, `${instance.id} restarted`)
        },
      },
    })
    this.traffic = new ReleaseTraffic(() => host.backend())
    this.journal = new DeploymentJournal(name, () => this.config, host, deps)
    this.actions = new ServiceActions(name, () => this.config, this.provider, host, this.traffic)
  }

  setConfig(config: ServiceConfig): void {
    this.config = config
    if (!this.provider.reconfigure(config.provider)) {
      this.host.log.warn(
        { event: 'service.provider_type_changed', service: this.name },
        `service ${this.name}: a new provider type takes effect after a restart of the balancer`,
      )
    }
  }

  get active(): DeploymentRecord | undefined {
    return this.running?.record
  }

  /** At start: adopt live instances, start again those that died, note interrupted releases, first release. */
  async start(interrupted: readonly DeploymentRecord[]): Promise<void> {
    this.interrupted = interrupted.filter((r) => r.service === this.name).sort((a, b) => b.started_at - a.started_at)[0]
    const recorded = this.host.state().instances
    if (recorded.length > 0) {
      const alive = new Set((await this.provider.adopt(recorded)).map((i) => i.id))
      for (const dead of recorded.filter((i) => !alive.has(i.id))) await this.replaceDead(dead.id, dead.version)
    }
    const state = this.host.state()
    const first = this.config.version
    if (first === undefined || state.version !== undefined || state.instances.length > 0 || this.interrupted !== undefined) return
    if (this.provider.startsInstances) {
      this.deploy(first)
      return
    }
    // Fixed servers already run the version the file names: they are labelled, not deployed to.
    for (const server of this.host.backend()?.servers ?? []) server.release ??= first
    this.markCurrent(first)
  }

  private async replaceDead(id: string, version: string): Promise<void> {
    const backend = this.host.backend()
    const server = backend?.serverNamed(id)
    if (server !== undefined) {
      backend!.detachServer(server)
      void server.close()
    }
    this.host.update((s) => ({ ...s, instances: s.instances.filter((i) => i.id !== id) }))
    const index = Number(id.slice(id.lastIndexOf('-') + 1)) || 1
    const instance = await this.provider.start({ service: this.name, version, index, id }, new AbortController().signal)
    this.host.update((s) => ({ ...s, instances: [...s.instances, instance] }))
    this.actions.addServer(instance)
    this.host.log.info({ event: 'instance.replaced', service: this.name, instance: id }, `${id} was gone; started again`)
  }

  deploy(version: string, strategy?: string): DeploymentRecord {
    if (!NAME_PATTERN.test(version)) {
      throw new SwitchyardError('SY_ERR_INVALID_BODY', { reason: 'a version may use letters, digits, "_", "." and "-"' })
    }
    const name = strategy ?? this.config.strategy.type
    if (!STRATEGIES.includes(name)) {
      throw new SwitchyardError('SY_ERR_STRATEGY_UNSUPPORTED', { reason: `strategy '${name}' is not supported (use ${STRATEGIES.join(', ')})` })
    }
    this.assertIdle()
    const state = this.host.state()
    const from = this.interrupted?.from ?? state.version
    const plan = planRelease({ ...this.planBase(), strategy: name as StrategyName, to: version, from })
    if (!plan.ok) throw new SwitchyardError('SY_ERR_STRATEGY_UNSUPPORTED', { reason: plan.error })
    this.interrupted = undefined
    return this.begin(this.newRecord(from, version, name), plan, { retireWarmFirst: true })
  }

  /** Back to the previous release (or, after an interrupted or failed release, to the version before it). */
  rollback(): DeploymentRecord {
    this.assertIdle()
    const state = this.host.state()
    const target = this.interrupted?.from ?? state.previous
    if (target === undefined) throw new SwitchyardError('SY_ERR_NO_PREVIOUS_RELEASE', { service: this.name })
    const from = this.interrupted?.to ?? state.version
    const plan = planReturn({ ...this.planBase(), strategy: 'surge', to: target, from })
    if (!plan.ok) throw new SwitchyardError('SY_ERR_STRATEGY_UNSUPPORTED', { reason: plan.error })
    // The warm previous release (blue/green) is what the rollback switches to: it must not be retired now.
    this.actions.cancelRetire()
    this.interrupted = undefined
    return this.begin(this.newRecord(from, target, 'rollback'), plan, { retireWarmFirst: false })
  }

  /**
   * Cluster: a record of this service changed on another balancer. An interrupted one is offered here (resume,
   * rollback); once it is resumed, or a newer release started, elsewhere, it is no longer.
   */
  noteShared(record: DeploymentRecord): void {
    const current = this.interrupted
    if (record.status === 'interrupted') {
      if (this.running === undefined && (current === undefined || record.started_at >= current.started_at)) this.interrupted = record
    } else if (current !== undefined && (record.id === current.id || record.started_at > current.started_at)) {
      this.interrupted = undefined
    }
  }

  /** Continues an interrupted release where it stopped (planned again from what runs now). */
  resumeInterrupted(id: string): DeploymentRecord | Promise<DeploymentRecord> {
    const record = this.interrupted
    if (record === undefined || record.id !== id) return this.steer(id, 'resume')
    this.assertIdle()
    const strategy = (STRATEGIES.includes(record.strategy) ? record.strategy : 'rolling') as StrategyName
    const plan = planRelease({ ...this.planBase(), strategy, to: record.to, from: record.from })
    if (!plan.ok) throw new SwitchyardError('SY_ERR_STRATEGY_UNSUPPORTED', { reason: plan.error })
    this.interrupted = undefined
    record.status = 'running'
    record.ended_at = undefined
    return this.begin(record, plan, { retireWarmFirst: false })
  }

  /**
   * pause | resume | abort | promote a deployment of this service. A promote of a canary being watched resolves
   * once the next split (or the switch) is in effect (ReleaseExecutor.promote).
   */
  async steer(id: string, action: 'pause' | 'resume' | 'abort' | 'promote'): Promise<DeploymentRecord> {
    const running = this.running
    if (running === undefined || running.record.id !== id) {
      if (action === 'promote' && this.actions.warm.length > 0) {
        void this.actions.retireNow()
        return this.known.get(id) ?? this.fail(id, action)
      }
      return this.fail(id, action)
    }
    const record = running.record
    switch (action) {
      case 'pause':
        running.executor.pause()
        record.status = 'paused'
        break
      case 'resume':
        running.executor.resume()
        record.status = 'running'
        break
      case 'abort':
        running.executor.abort()
        break
      case 'promote':
        await running.executor.promote()
        break
    }
    this.journal.save(record)
    return record
  }

  private fail(id: string, action: string): never {
    const record = this.known.get(id) ?? (this.interrupted?.id === id ? this.interrupted : undefined)
    if (record === undefined) throw new SwitchyardError('SY_ERR_UNKNOWN_DEPLOYMENT', { id })
    throw new SwitchyardError('SY_ERR_DEPLOYMENT_STATE', { id, status: record.status, action })
  }

  private assertIdle(): void {
    if (this.running !== undefined) throw new SwitchyardError('SY_ERR_DEPLOYMENT_RUNNING', { service: this.name, id: this.running.record.id })
  }

  private planBase() {
    const backend = this.host.backend()
    const servers = (backend?.servers ?? []).map((s) => ({ name: s.name, version: s.release }))
    const provider = this.config.provider
    return {
      servers,
      instances: provider.type === 'static' ? servers.length : provider.instances,
      startsInstances: this.provider.startsInstances,
      batch: this.config.strategy.batch,
      maxSurge: this.config.strategy.max_surge,
      canaryInstances: this.config.strategy.canary_instances,
      canarySteps: this.config.strategy.steps.map((step) => ({ weight: step.weight, pauseMs: step.pause ?? null })),
    }
  }

  private newRecord(from: string | undefined, to: string, strategy: string): DeploymentRecord {
    return {
      id: this.deps.store.newId(this.name),
      service: this.name,
      from,
      to,
      strategy,
      status: 'running',
      started_at: Date.now(),
      steps: [],
      timeline: [],
      start_instances: this.host.backend()?.servers.length ?? 0,
    }
  }

  private begin(record: DeploymentRecord, plan: Plan & { ok: true }, options: { retireWarmFirst: boolean }): DeploymentRecord {
    const executor = this.executor(record, record.to)
    const done = this.run(record, executor, plan, options).finally(() => {
      this.running = undefined
    })
    this.running = { record, executor, done }
    this.known.set(record.id, record)
    this.journal.save(record)
    this.journal.notify('started', record)
    this.host.log.info({ event: 'deploy.started', service: this.name, id: record.id, from: record.from, to: record.to, strategy: record.strategy }, `release ${record.id} started`)
    return record
  }

  private executor(record: DeploymentRecord, to: string): ReleaseExecutor {
    const strategy = this.config.strategy
    return new ReleaseExecutor(this.actions, {
      to,
      healthyDeadlineMs: strategy.healthy_deadline,
      drainTimeoutMs: strategy.drain_timeout,
      onChange: () => this.journal.save(record),
    }, record.steps)
  }

  private async run(record: DeploymentRecord, executor: ReleaseExecutor, plan: Plan & { ok: true }, options: { retireWarmFirst: boolean }): Promise<void> {
    const recorder = new TimelineRecorder({ source: this.traffic, timeline: record.timeline, onPoint: () => this.journal.save(record) })
    recorder.start()
    let status: DeploymentStatus = 'succeeded'
    try {
      await this.journal.hook(record, 'before')
      if (options.retireWarmFirst && this.actions.warm.length > 0) {
        await this.journal.step(record, 'retire', `stop the previous release kept warm (${this.actions.warm.join(', ')})`, () => this.actions.retireNow())
      }
      if (record.strategy === 'bluegreen') this.actions.preview(record.to)
      await executor.run(plan.steps)
      this.actions.preview(undefined)
      if (record.strategy !== 'bluegreen') this.markCurrent(record.to)
      await this.journal.hook(record, 'after').catch(() => undefined)
    } catch (err) {
      this.actions.preview(undefined)
      if (this.closing) {
        // The balancer is stopping: nothing is undone now; the next start shows the release as interrupted.
        recorder.stop()
        return
      }
      const aborted = err instanceof ReleaseAbortedError
      record.error = err instanceof Error ? err.message : String(err)
      this.host.log.warn({ event: 'deploy.failed', service: this.name, id: record.id, error: record.error }, `release ${record.id} failed: ${record.error}`)
      status = (await this.goBack(record, executor)) ? (aborted ? 'aborted' : 'rolled_back') : 'failed'
      await this.journal.hook(record, 'on_failure').catch(() => undefined)
    }
    record.status = status
    record.ended_at = Date.now()
    if (status === 'succeeded' && this.actions.warm.length > 0) {
      // Blue/green: the previous release stays warm after the switch; that is part of what this release costs,
      // so the timeline goes on until it is stopped (or taken back), and the summary is made again then.
      this.actions.onWarmEnded(() => {
        recorder.stop()
        record.summary = summarize(record)
        this.journal.save(record)
      })
    } else {
      recorder.stop()
    }
    record.summary = summarize(record)
    await this.deps.store.save(record).catch((err: unknown) => this.host.log.error({ event: 'deploy.save_failed', err }, 'could not save the deployment'))
    this.host.log.info({ event: 'deploy.ended', service: this.name, id: record.id, status }, `release ${record.id} ${status}`)
    this.deps.onEnded?.(record)
    await this.journal.notify(status === 'succeeded' ? 'succeeded' : status === 'aborted' ? 'aborted' : status === 'rolled_back' ? 'rolled_back' : 'failed', record)
  }

  /** After a failure: back to the version before (or, for a first release, remove what was started). */
  private async goBack(record: DeploymentRecord, failed: ReleaseExecutor): Promise<boolean> {
    try {
      const target = record.from
      if (target === undefined || target === record.to) {
        if (failed.started.length > 0) {
          await this.journal.step(record, 'stop', `stop ${failed.started.join(', ')}`, () => this.actions.stop(failed.started))
        }
        return target !== undefined
      }
      this.actions.cancelRetire()
      const plan = planReturn({ ...this.planBase(), strategy: 'surge', to: target, from: record.to })
      if (!plan.ok) throw new Error(plan.error)
      await this.executor(record, target).run(plan.steps)
      this.markCurrent(target)
      return true
    } catch (err) {
      record.error = `${record.error}; going back failed too: ${err instanceof Error ? err.message : String(err)}`
      return false
    }
  }

  /** Records the version that now serves; the one before becomes `previous` (for rollback). */
  private markCurrent(version: string): void {
    this.host.update((s) => ({ ...s, previous: s.version !== undefined && s.version !== version ? s.version : s.previous, version, rotation: s.rotation }))
  }

  /** Waits for a running release (used by tests and the graceful stop). */
  async settled(): Promise<void> {
    await this.running?.done
  }

  /**
   * At a graceful stop: a running release stays recorded as running (the next start shows it as interrupted);
   * instances started by Switchyard are stopped so that none is left behind.
   */
  async close(): Promise<void> {
    this.actions.cancelRetire()
    this.closing = true
    this.journal.closed = true
    if (this.running !== undefined) {
      this.deps.store.saveSync(this.running.record)
      this.running.executor.abort()
    }
    await stopAllInstances(this.provider)
    await this.provider.close()
  }
}
