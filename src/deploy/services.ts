import type { Config } from '../config/schema.js'
import { SwitchyardError } from '../errors.js'
import type { Logger } from '../log.js'
import type { Backend } from '../runtime/backend.js'
import type { EventBus } from '../runtime/event-bus.js'
import type { ServiceState } from '../runtime/runtime-state.js'
import type { DeploymentRecord } from './deployment-record.js'
import { DeploymentStore } from './deployment-store.js'
import { ServiceController } from './service-controller.js'
import { WebhookNotifier } from './webhook-notifier.js'

/** What the services need from the balancer: the live backends and the persisted service states. */
export interface ServicesHost {
  config(): Config
  backend(name: string): Backend | undefined
  serviceState(service: string): ServiceState
  updateServiceState(service: string, change: (state: ServiceState) => ServiceState): void
  readonly log: Logger
  readonly events: EventBus
  /**
   * With `cluster:`: every saved record is shared with the other balancers, and the cluster, not the start,
   * finds the releases cut short (one still recorded as running may run on another balancer).
   */
  readonly shared?: { deploymentSaved(record: DeploymentRecord): void }
}

export type SteerAction = 'pause' | 'resume' | 'abort' | 'promote'

/** Every service's controller, the deployment store and the notifier; the admin side's entry to releases. */
export class Services {
  private readonly controllers = new Map<string, ServiceController>()
  /** Finished releases by service, strategy and result (for /metrics), counted since the balancer started. */
  readonly results = new Map<string, { service: string; strategy: string; result: string; count: number }>()
  private readonly store: DeploymentStore
  private readonly notifier: WebhookNotifier

  constructor(
    private readonly host: ServicesHost,
    private readonly stateDir: string,
  ) {
    this.store = new DeploymentStore(stateDir, {
      onProblem: (message) => host.log.warn({ event: 'deploy.store_problem' }, message),
      onSaved: host.shared === undefined ? undefined : (record) => host.shared!.deploymentSaved(record),
    })
    this.notifier = new WebhookNotifier({ log: (message) => host.log.warn({ event: 'deploy.notify_failed' }, message) })
  }

  /** Creates controllers for the configured services, adopts their instances, starts first releases. */
  async start(): Promise<void> {
    // Shared: the cluster marks releases whose balancer is gone; those already marked are offered when they are
    // the last release of their service.
    const interrupted = this.host.shared === undefined ? await this.store.markInterrupted() : lastIfInterrupted(await this.store.list())
    for (const record of interrupted) {
      this.host.log.warn({ event: 'deploy.interrupted', id: record.id, service: record.service }, `release ${record.id} was interrupted; resume or rollback it`)
    }
    await this.sync(interrupted)
  }

  /** After a reload: new services get a controller, changed ones their new config, removed ones are closed. */
  async sync(interrupted: readonly DeploymentRecord[] = []): Promise<void> {
    const services = this.host.config().services
    for (const [name, controller] of this.controllers) {
      if (services[name] === undefined) {
        this.controllers.delete(name)
        await controller.close()
      }
    }
    for (const [name, config] of Object.entries(services)) {
      const existing = this.controllers.get(name)
      if (existing !== undefined) {
        existing.setConfig(config)
        continue
      }
      const controller = new ServiceController(name, config, {
        backend: () => this.host.backend(this.host.config().services[name]?.backend ?? config.backend),
        state: () => this.host.serviceState(name),
        update: (change) => this.host.updateServiceState(name, change),
        log: this.host.log,
        events: this.host.events,
      }, { store: this.store, notifier: this.notifier, stateDir: this.stateDir, onEnded: (record) => this.count(record) })
      this.controllers.set(name, controller)
      await controller.start(interrupted)
    }
  }

  private count(record: DeploymentRecord): void {
    const key = `${record.service}\u0000${record.strategy}\u0000${record.status}`
    const entry = this.results.get(key) ?? { service: record.service, strategy: record.strategy, result: record.status, count: 0 }
    entry.count++
    this.results.set(key, entry)
  }

  /**
   * A record changed on another balancer (cluster): kept in the local store, so that `deployment`, history and
   * reports answer here too, and told to its service (an interrupted one can be resumed or rolled back here).
   */
  async replicate(record: DeploymentRecord): Promise<void> {
    const controller = this.controllers.get(record.service)
    if (controller?.active?.id === record.id) return
    controller?.noteShared(record)
    await this.store.save(record)
  }

  /** Whether this process runs the release `id` now. */
  runs(id: string): boolean {
    for (const controller of this.controllers.values()) if (controller.active?.id === id) return true
    return false
  }

  has(service: string): boolean {
    return this.controllers.has(service)
  }

  controller(service: string): ServiceController {
    const controller = this.controllers.get(service)
    if (controller === undefined) throw new SwitchyardError('SY_ERR_UNKNOWN_SERVICE', { service })
    return controller
  }

  deploy(service: string, version: string, strategy?: string): DeploymentRecord {
    return this.controller(service).deploy(version, strategy)
  }

  rollback(service: string): DeploymentRecord {
    return this.controller(service).rollback()
  }

  async steer(id: string, action: SteerAction): Promise<DeploymentRecord> {
    const record = await this.deployment(id)
    const controller = this.controller(record.service)
    return action === 'resume' && record.status === 'interrupted' ? controller.resumeInterrupted(id) : controller.steer(id, action)
  }

  /** A deployment by id: the live record while it runs, else the stored one. */
  async deployment(id: string): Promise<DeploymentRecord> {
    for (const controller of this.controllers.values()) if (controller.active?.id === id) return controller.active
    const stored = await this.store.get(id)
    if (stored === undefined) throw new SwitchyardError('SY_ERR_UNKNOWN_DEPLOYMENT', { id })
    return stored
  }

  /** Newest first; running ones as they are now. */
  async deployments(service?: string): Promise<DeploymentRecord[]> {
    if (service !== undefined) this.controller(service)
    const stored = await this.store.list(service)
    return stored.map((r) => {
      const live = this.controllers.get(r.service)?.active
      return live?.id === r.id ? live : r
    })
  }

  /** Resolves once every deployment record saved so far is on disk. */
  flushed(): Promise<void> {
    return this.store.flushed()
  }

  /** Resolves when no release runs (tests, demo). */
  async settled(): Promise<void> {
    await Promise.all([...this.controllers.values()].map((c) => c.settled()))
  }

  async close(): Promise<void> {
    await Promise.all([...this.controllers.values()].map((c) => c.close()))
    this.controllers.clear()
  }
}

/** Of records newest first: per service, the newest one when it is interrupted. */
function lastIfInterrupted(records: readonly DeploymentRecord[]): DeploymentRecord[] {
  const seen = new Set<string>()
  const out: DeploymentRecord[] = []
  for (const record of records) {
    if (seen.has(record.service)) continue
    seen.add(record.service)
    if (record.status === 'interrupted') out.push(record)
  }
  return out
}
