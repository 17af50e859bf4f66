import { dirname, isAbsolute, join, resolve } from 'node:path'
import { AdminServer } from './admin/admin-server.js'
import { applyStateChanges } from './cluster/apply-state-change.js'
import { ClusterControl } from './cluster/cluster-control.js'
import { ClusterState } from './cluster/cluster-state.js'
import { planStateChange } from './cluster/plan-state-change.js'
import type { BalancerControl, DrainOutcome, NewServer, ServerChange, ServerView, ServiceView, StateView } from './admin/balancer-control.js'
import type { DeploymentRecord } from './deploy/deployment-record.js'
import { Services, type SteerAction } from './deploy/services.js'
import { metricsRoutes } from './metrics/metrics-routes.js'
import { buildServerView, buildStateView } from './admin/state-view.js'
import { formatHostPort, parseHostPort, type HostPort } from './config/address.js'
import { DEFAULTS } from './config/defaults.js'
import { loadConfigFile } from './config/load-config.js'
import { NAME_PATTERN, NAME_RULE, type Config } from './config/schema.js'
import { SwitchyardError } from './errors.js'
import { silentLogger, type Logger } from './log.js'
import { AccessLog } from './proxy/access-log.js'
import { createFrontend, type Frontend } from './proxy/frontend.js'
import { DataPlane } from './runtime/data-plane.js'
import type { Server } from './runtime/server.js'
import { RemoteFrontend } from './workers/remote-frontend.js'
import { workerCount } from './workers/worker-count.js'
import { WorkerPool } from './workers/worker-pool.js'
import { EventBus } from './runtime/event-bus.js'
import type { Runtime } from './runtime/runtime.js'
import { emptyRuntimeState, runtimeStateSchema, serverKey, type RuntimeState, type ServiceState } from './runtime/runtime-state.js'
import type { AdminState } from './runtime/server.js'
import { drainOutcome } from './runtime/drain-outcome.js'
import { StateFile } from './runtime/state-file.js'
import { VrrpRoleWatcher } from './ha/vrrp-role.js'

export interface LoadBalancerOptions {
  /** The balancer's own log (default: silent, for library use). */
  readonly log?: Logger
  /** The file the configuration came from: `reload()` reads it again; `state_dir` is relative to its folder. */
  readonly configFile?: string
}

/**
 * A running balancer: the runtime built from a configuration snapshot and the runtime state, the frontends'
 * listeners and the admin listener. It is the admin side's BalancerControl: every change goes through here,
 * is persisted atomically (invariant 7), and survives reloads (invariant 5).
 */
export class LoadBalancer implements BalancerControl {
  config: Config
  /** The runtime and the frontends serving it (with workers, the control plane's view of theirs). */
  private readonly dataPlane: DataPlane
  private readonly admin: AdminServer
  private adminAddress: HostPort | undefined
  private readonly log: Logger
  private readonly accessLog: AccessLog | undefined
  /** The file the configuration came from (reload reads it again). */
  readonly configFile: string | undefined
  private readonly stateFile: StateFile<RuntimeState>
  private runtimeState: RuntimeState
  /** The latest save of the runtime state (saves run in call order: it settles after all earlier ones). */
  private lastSave: Promise<void> = Promise.resolve()
  private reloading: Promise<void> = Promise.resolve()
  /** Releases of the configured services. */
  readonly services: Services
  /** State changes for the events stream and the stats page. */
  readonly events = new EventBus()
  /** The VRRP role keepalived reports for this balancer (docs/high-availability.md). */
  readonly vrrp: VrrpRoleWatcher
  /** With `cluster:`, the runtime state shared through etcd (docs/shared-state.md). */
  readonly cluster: ClusterState | undefined
  /** With `workers:` above 1, the data-plane processes serving the frontends (docs/performance.md). */
  readonly workers: WorkerPool | undefined

  private constructor(config: Config, log: Logger, configFile: string | undefined, stateFile: StateFile<RuntimeState>, state: RuntimeState) {
    this.config = config
    this.log = log
    this.configFile = configFile
    this.stateFile = stateFile
    this.runtimeState = state
    this.vrrp = new VrrpRoleWatcher(stateDir(config, configFile), { log, onChange: (view) => this.events.publish('ha', { ...view }) })
    const access = config.access_log
    this.accessLog = access === false ? undefined : new AccessLog(log, access === true ? 'json' : access.format)
    const workers = workerCount(config.workers)
    this.dataPlane = new DataPlane(config, state, {
      log,
      events: this.events,
      // With workers, they serve the frontends; this process keeps a view of each.
      createFrontend: (name, fe, runtime) =>
        workers > 1 ? new RemoteFrontend(name, fe, (frontend) => this.workers!.bound(frontend)) : createFrontend(name, fe, runtime, { accessLog: this.accessLog, log }),
    })
    this.workers =
      workers > 1
        ? new WorkerPool(workers, {
            log,
            events: this.events,
            config: () => this.config,
            state: () => this.runtimeState,
            runtime: () => this.runtime,
            frontend: (name) => this.frontends.get(name) as RemoteFrontend | undefined,
          })
        : undefined
    this.cluster =
      config.cluster === undefined
        ? undefined
        : new ClusterState(config.cluster, {
            log,
            events: this.events,
            sharedState: () => this.runtimeState,
            applyRuntimeState: (next) => this.applyRuntimeState(next),
            deploymentChanged: (record) => void this.services.replicate(record).catch((err: unknown) => log.error({ event: 'deploy.save_failed', err }, 'could not save a shared deployment')),
            runsDeployment: (id) => this.services.runs(id),
          })
    // With a cluster, the admin side's writes go through etcd first.
    const control = this.cluster === undefined ? this : new ClusterControl(this, this.cluster)
    this.admin = new AdminServer({ control, token: config.admin?.token, statsPublic: config.admin?.stats_public, metrics: metricsRoutes(this), log })
    this.services = new Services(
      {
        config: () => this.config,
        backend: (name) => this.runtime.backends.get(name),
        serviceState: (service) => this.runtimeState.services[service] ?? { instances: [] },
        updateServiceState: (service, change) => {
          const current = this.runtimeState.services[service] ?? { instances: [] }
          this.persist({ ...this.runtimeState, services: { ...this.runtimeState.services, [service]: change(current) } })
          this.cluster?.serviceChanged(service, this.runtimeState.services[service])
        },
        log,
        events: this.events,
        shared: this.cluster,
      },
      stateDir(config, configFile),
    )
  }

  static async start(config: Config, options: LoadBalancerOptions = {}): Promise<LoadBalancer> {
    const log = options.log ?? silentLogger()
    const stateFile = new StateFile<RuntimeState>(join(stateDir(config, options.configFile), 'runtime-state.json'), {
      validate: (data) => runtimeStateSchema.parse(data),
      onProblem: (message) => log.warn({ event: 'state.problem' }, message),
    })
    const state = (await stateFile.load()) ?? emptyRuntimeState()
    const lb = new LoadBalancer(config, log, options.configFile, stateFile, state)
    try {
      lb.adminAddress = await lb.admin.listen(config.admin?.listen ?? (parseHostPort(DEFAULTS.admin.listen) as HostPort))
      await lb.vrrp.start()
      // The shared state is applied before the frontends open and the services start.
      await lb.cluster?.start(lb.adminAddress.port)
      await lb.dataPlane.listen()
      await lb.workers?.start()
      await lb.services.start()
    } catch (err) {
      await lb.stop(0)
      throw err
    }
    lb.admin.ready = true
    lb.log.info(
      {
        event: 'ready',
        admin: formatHostPort(lb.adminAddress),
        frontends: Object.fromEntries([...lb.frontends].map(([name, fe]) => [name, fe.addresses().map(formatHostPort)])),
      },
      'switchyard is ready',
    )
    return lb
  }

  get runtime(): Runtime {
    return this.dataPlane.runtime
  }

  get frontends(): ReadonlyMap<string, Frontend> {
    return this.dataPlane.frontends
  }

  /** Bound addresses of a frontend (ports resolved when port 0 was asked for). */
  addresses(frontend: string): HostPort[] {
    return this.frontends.get(frontend)?.addresses() ?? []
  }

  get adminListen(): HostPort | undefined {
    return this.adminAddress
  }

  // ---- BalancerControl ----

  state(): StateView {
    return { ...buildStateView(this.frontends.values(), this.runtime.backends.values(), this.serviceViews(), this.vrrp.view()), cluster: this.cluster?.view() ?? null, workers: this.workers?.view() ?? [] }
  }

  private serviceViews(): ServiceView[] {
    return Object.entries(this.config.services).map(([name, service]) => {
      const state: ServiceState = this.runtimeState.services[name] ?? { instances: [] }
      // Before the services have started (the admin listener is up first) there is no controller yet.
      const active = this.services.has(name) ? this.services.controller(name).active : undefined
      return {
        name,
        backend: service.backend,
        version: state.version ?? null,
        previous: state.previous ?? null,
        rotation: state.rotation ?? null,
        deployment: active === undefined ? null : { id: active.id, status: active.status, to: active.to, strategy: active.strategy },
      }
    })
  }

  /** A service's persisted state: current and previous version, instances, rotation. */
  serviceState(service: string): ServiceState {
    return this.runtimeState.services[service] ?? { instances: [] }
  }

  /**
   * Makes the runtime match `next` (the shared state in etcd changed, remotely or by a write committed here):
   * the differences from the current state are planned, then applied; the state file follows.
   */
  applyRuntimeState(next: RuntimeState): void {
    applyStateChanges(this.runtime, this.config, planStateChange(this.config, this.runtimeState, next), this.log)
    this.persist(next)
  }

  deploy(service: string, version: string, strategy?: string): DeploymentRecord {
    return this.services.deploy(service, version, strategy)
  }

  rollback(service: string): DeploymentRecord {
    return this.services.rollback(service)
  }

  deployment(id: string): Promise<DeploymentRecord> {
    return this.services.deployment(id)
  }

  deployments(service?: string): Promise<DeploymentRecord[]> {
    return this.services.deployments(service)
  }

  steerDeployment(id: string, action: SteerAction): Promise<DeploymentRecord> {
    return this.services.steer(id, action)
  }

  server(backend: string, server: string): ServerView {
    const b = this.runtime.backendNamed(backend)
    return buildServerView(b, b.requireServer(server))
  }

  changeServer(backend: string, server: string, change: ServerChange): ServerView {
    const b = this.runtime.backendNamed(backend)
    const s = b.requireServer(server)
    if (change.admin !== undefined && !['ready', 'drain', 'maint'].includes(change.admin)) {
      throw new SwitchyardError('SY_ERR_INVALID_BODY', { reason: `admin must be ready, drain or maint, not '${String(change.admin)}'` })
    }
    if (change.weight !== undefined && !(Number.isInteger(change.weight) && change.weight >= 0 && change.weight <= 256)) {
      throw new SwitchyardError('SY_ERR_INVALID_BODY', { reason: 'weight must be an integer from 0 to 256' })
    }
    const key = serverKey(backend, server)
    const override = { ...this.runtimeState.servers[key] }
    if (change.admin !== undefined) {
      b.setAdmin(s, change.admin)
      override.admin = change.admin
    }
    if (change.weight !== undefined) {
      b.setWeight(s, change.weight)
      override.weight = change.weight
    }
    this.persist({ ...this.runtimeState, servers: { ...this.runtimeState.servers, [key]: override } })
    return buildServerView(b, s)
  }

  async waitDrained(backend: string, server: string, timeoutMs: number): Promise<DrainOutcome> {
    const s = this.runtime.backendNamed(backend).requireServer(server)
    return drainOutcome(s, timeoutMs)
  }

  addServer(backend: string, spec: NewServer): ServerView {
    const b = this.runtime.backendNamed(backend)
    if (!NAME_PATTERN.test(spec.name)) {
      throw new SwitchyardError('SY_ERR_INVALID_BODY', { reason: NAME_RULE })
    }
    if (b.serverNamed(spec.name) !== undefined) throw new SwitchyardError('SY_ERR_SERVER_EXISTS', { backend, server: spec.name })
    const address = parseHostPort(spec.address)
    if (typeof address === 'string') throw new SwitchyardError('SY_ERR_INVALID_BODY', { reason: address })
    const weight = spec.weight ?? DEFAULTS.server.weight
    const created = b.createServer(spec.name, { address, weight, backup: spec.backup ?? false, max_connections: spec.max_connections })
    b.addServers([created])
    const key = serverKey(backend, spec.name)
    this.persist({
      ...this.runtimeState,
      added: { ...this.runtimeState.added, [key]: { address: spec.address, weight, backup: spec.backup ?? false, max_connections: spec.max_connections } },
      removed: this.runtimeState.removed.filter((k) => k !== key),
    })
    this.log.info({ event: 'server.added', backend, server: spec.name, address: spec.address }, `server ${created} added`)
    return buildServerView(b, created)
  }

  async removeServer(backend: string, server: string, timeoutMs: number): Promise<DrainOutcome> {
    const b = this.runtime.backendNamed(backend)
    const s = b.requireServer(server)
    const key = serverKey(backend, server)
    const { [key]: _added, ...added } = this.runtimeState.added
    const { [key]: _override, ...servers } = this.runtimeState.servers
    const inFile = this.config.backends[backend]?.servers[server] !== undefined
    this.persist({ ...this.runtimeState, servers, added, removed: inFile ? [...new Set([...this.runtimeState.removed, key])] : this.runtimeState.removed })
    b.detachServer(s)
    s.setAdmin('drain')
    // Its WebSocket and TCP connections get the backend's drain_timeout, then a proper close (1001).
    s.goAwayAfter(b.config.drain_timeout)
    this.log.info({ event: 'server.removed', backend, server }, `server ${s} removed; draining`)
    const outcome = await drainOutcome(s, timeoutMs)
    await s.close()
    return outcome
  }

  /** Re-reads the configuration file. A bad file changes nothing and the error says why. */
  reload(): Promise<void> {
    const run = this.reloading.then(async () => {
      if (this.configFile === undefined) throw new SwitchyardError('SY_ERR_CONFIG_READ', { file: '(none)', reason: 'the balancer was started without a file' })
      const next = await loadConfigFile(this.configFile)
      await this.applyConfig(next)
    })
    this.reloading = run.catch(() => undefined)
    return run
  }

  /**
   * Swaps in a new configuration: listeners are kept (or opened/closed when frontends change), unchanged
   * servers keep health, counters and pools, queued requests move to the new backends, removed servers drain.
   */
  async applyConfig(next: Config): Promise<void> {
    const state = this.stateForReload(this.config, next)
    if (workerCount(next.workers) !== (this.workers?.size ?? 1)) {
      this.log.warn({ event: 'reload.workers_unchanged', workers: next.workers }, 'a new number of workers takes effect at the next start; the running ones stay')
    }
    const [before, beforeState] = [this.config, this.runtimeState]
    const swap = (config: Config, runtimeState: RuntimeState): Promise<Server[]> =>
      this.dataPlane.swap(config, runtimeState, async () => {
        this.config = config
        this.runtimeState = runtimeState
        await this.services.sync()
      })
    const leftBehind = await swap(next, state)
    if (this.workers !== undefined) {
      try {
        await this.workers.applyConfig()
      } catch (err) {
        // A worker could not take the new file (a listener it could not bind): the previous one goes back everywhere.
        await swap(before, beforeState)
        await this.workers.applyConfig().catch(() => undefined)
        throw err
      }
    }
    this.persist(state)
    this.log.info({ event: 'reloaded', removed_servers: leftBehind.map(String) }, 'configuration reloaded')
    this.events.publish('reload', { removed_servers: leftBehind.map(String) })
  }

  /** Runtime overrides of weights that the new file changes are dropped: an edited file wins. */
  private stateForReload(before: Config, after: Config): RuntimeState {
    const servers: RuntimeState['servers'] = {}
    for (const [key, override] of Object.entries(this.runtimeState.servers)) {
      const [backend, server] = [key.slice(0, key.indexOf('/')), key.slice(key.indexOf('/') + 1)]
      const oldWeight = before.backends[backend]?.servers[server]?.weight
      const newWeight = after.backends[backend]?.servers[server]?.weight
      servers[key] = oldWeight !== newWeight ? { admin: override.admin } : override
    }
    // The same for a server of the file removed and added again through the API (its address changed, say): it
    // stays as added until the file's entry for it is edited.
    const added: RuntimeState['added'] = {}
    for (const [key, spec] of Object.entries(this.runtimeState.added)) {
      const [backend, server] = [key.slice(0, key.indexOf('/')), key.slice(key.indexOf('/') + 1)]
      const oldEntry = before.backends[backend]?.servers[server]
      const newEntry = after.backends[backend]?.servers[server]
      if (newEntry === undefined || JSON.stringify(oldEntry) === JSON.stringify(newEntry)) added[key] = spec
    }
    return { ...this.runtimeState, servers, added }
  }

  private persist(state: RuntimeState): void {
    this.runtimeState = state
    const saved = this.stateFile.save(state)
    this.lastSave = saved
    saved.catch((err: unknown) => this.log.error({ event: 'state.save_failed', err }, 'could not save the runtime state'))
  }

  /**
   * Resolves once every change so far is on disk: the runtime state (rejects when its latest save failed) and the
   * deployment records. The admin API answers a write only then, so that a kill -9 right after the answer loses
   * nothing that was acknowledged (resilience suite, test/resilience/state-durability.test.ts: writes were answered
   * before their save, which queued behind the others, and up to ~30 acknowledged weight changes and new
   * deployments were missing after a kill -9).
   */
  async durable(): Promise<void> {
    await Promise.all([this.lastSave, this.services.flushed(), this.workers?.synced()])
  }


  /**
   * Graceful stop: stop accepting, let requests in flight finish for up to `graceMs`, close idle connections,
   * then close upstream pools and the admin listener.
   */
  async stop(graceMs = 10_000): Promise<void> {
    this.admin.ready = false
    this.log.info({ event: 'stopping', grace_ms: graceMs }, 'stopping')
    await this.workers?.stop(graceMs)
    await this.dataPlane.closeFrontends(graceMs)
    await this.services.close()
    await this.cluster?.stop()
    await this.runtime.close()
    await this.admin.close()
    this.vrrp.close()
    this.log.info({ event: 'stopped' }, 'stopped')
  }
}

export type { AdminState }

function stateDir(config: Config, configFile: string | undefined): string {
  if (isAbsolute(config.state_dir)) return config.state_dir
  return resolve(configFile === undefined ? process.cwd() : dirname(resolve(configFile)), config.state_dir)
}

