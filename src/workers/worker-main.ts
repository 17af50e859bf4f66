/**
 * A data-plane worker (`workers:` > 1): a process node:cluster forked from the balancer. It serves the
 * frontends (their listening sockets are shared through the cluster) over a runtime that mirrors the control
 * plane's: the control plane sends the configuration and every change of state, the worker applies them and
 * reports its counters. It runs no health checks, no releases and no admin API (docs/performance.md, "Workers").
 */
import type { HostPort } from '../config/address.js'
import type { Config } from '../config/schema.js'
import { SwitchyardError } from '../errors.js'
import { createLogger, type Logger } from '../log.js'
import { AccessLog } from '../proxy/access-log.js'
import { createFrontend } from '../proxy/frontend.js'
import { DataPlane } from '../runtime/data-plane.js'
import { EventBus } from '../runtime/event-bus.js'
import type { Server } from '../runtime/server.js'
import { ActivityCollector } from './activity-collector.js'
import { SnapshotApplier } from './runtime-snapshot.js'
import type { FromWorker, RuntimeSnapshot, ToWorker } from './worker-messages.js'

/** How often counters go to the control plane (the stats page and canary analysis see them this late at most). */
const REPORT_MS = 250

class Worker {
  private plane: DataPlane | undefined
  private version = 0
  private readonly applier: SnapshotApplier
  private readonly collector: ActivityCollector
  /** Servers that left this worker's runtime with requests still in flight (reported until they are done). */
  private readonly leaving = new Set<Server>()
  private reportTimer: NodeJS.Timeout | undefined
  private reportSoon = false
  private stopping = false
  /** Messages are handled one at a time, in order (a configuration swap is asynchronous). */
  private queue: Promise<void> = Promise.resolve()

  constructor(private readonly log: Logger) {
    this.applier = new SnapshotApplier(log)
    this.collector = new ActivityCollector(this.applier, () => this.reportNow())
  }

  receive(message: ToWorker): void {
    this.queue = this.queue.then(() => this.handle(message)).catch((err: unknown) => this.log.error({ event: 'worker.error', err }, 'worker message failed'))
  }

  private async handle(message: ToWorker): Promise<void> {
    switch (message.type) {
      case 'config':
        return this.configure(message.version, message.config, message.state, message.snapshot)
      case 'snapshot':
        if (this.plane === undefined) return
        this.version = message.version
        this.applySnapshot(message.snapshot)
        return this.send(this.report())
      case 'stop':
        return this.stop(message.graceMs)
    }
  }

  private async configure(version: number, config: Config, state: Parameters<DataPlane['swap']>[1], snapshot: RuntimeSnapshot): Promise<void> {
    try {
      if (this.plane === undefined) {
        const access = config.access_log
        const accessLog = access === false ? undefined : new AccessLog(this.log, access === true ? 'json' : access.format)
        this.plane = new DataPlane(config, state, {
          log: this.log,
          events: new EventBus(),
          control: this.collector,
          createFrontend: (name, fe, runtime) => createFrontend(name, fe, runtime, { accessLog, log: this.log }),
        })
        this.collector.passiveBackends = passiveBackends(config)
        this.applySnapshot(snapshot)
        await this.plane.listen()
        this.version = version
        this.send({ type: 'ready', addresses: this.addresses() })
        this.reportTimer = setInterval(() => this.send(this.report()), REPORT_MS)
        return
      }
      const leftBehind = await this.plane.swap(config, state)
      for (const server of leftBehind) this.track(server)
      this.collector.passiveBackends = passiveBackends(config)
      this.version = version
      this.applySnapshot(snapshot)
      // New frontends listen now (port 0 resolved): the control plane shows their addresses.
      this.send({ type: 'ready', addresses: this.addresses() })
      this.send(this.report())
    } catch (err) {
      const code = err instanceof SwitchyardError ? err.code : (err as NodeJS.ErrnoException).code
      // At start, the control plane gives up and stops every worker; on a reload it puts the previous file back.
      this.send({ type: 'failed', version, message: err instanceof Error ? err.message : String(err), code })
    }
  }

  private addresses(): Record<string, HostPort[]> {
    return Object.fromEntries([...this.plane!.frontends].map(([name, fe]) => [name, fe.addresses()]))
  }

  private applySnapshot(snapshot: RuntimeSnapshot): void {
    this.applier.apply(this.plane!.runtime, snapshot, (server) => this.track(server))
    // A server out of rotation whose last request ends: the control plane may be waiting for that to go on.
    for (const backend of this.plane!.runtime.backends.values()) {
      for (const server of backend.servers) if (!server.available && server.active > 0) this.track(server)
    }
  }

  private track(server: Server): void {
    if (this.leaving.has(server)) return
    this.leaving.add(server)
    void server.whenIdle().then(() => {
      this.leaving.delete(server)
      this.reportNow()
    })
  }

  /** A report on the next turn of the event loop (several reasons in one turn make one report). */
  private reportNow(): void {
    if (this.reportSoon || this.plane === undefined) return
    this.reportSoon = true
    setImmediate(() => {
      this.reportSoon = false
      this.send(this.report())
    })
  }

  private report(): FromWorker {
    return this.collector.take(this.plane!, this.version, this.leaving)
  }

  private send(message: FromWorker): void {
    if (process.connected) process.send!(message)
  }

  async stop(graceMs: number): Promise<void> {
    if (this.stopping) return
    this.stopping = true
    if (this.plane !== undefined) {
      await this.plane.closeFrontends(graceMs)
      await this.plane.runtime.close()
      clearInterval(this.reportTimer)
      this.send(this.report())
    }
    this.send({ type: 'stopped' })
    await new Promise<void>((resolve) => this.log.flush(() => resolve()))
    process.exit(0)
  }
}

function passiveBackends(config: Config): Set<string> {
  return new Set(Object.entries(config.backends).flatMap(([name, b]) => (b.passive === undefined ? [] : [name])))
}

export function runWorker(): void {
  const log = createLogger().child({ worker: Number(process.env.SWITCHYARD_WORKER_ID ?? 0) })
  const worker = new Worker(log)
  process.on('message', (message: ToWorker) => worker.receive(message))
  // The control plane decides when to stop (a Ctrl-C reaches the whole process group): these signals are its.
  process.on('SIGINT', () => undefined)
  process.on('SIGTERM', () => undefined)
  process.on('SIGHUP', () => undefined)
  // The control plane is gone (killed): finish what is in flight and go.
  process.on('disconnect', () => void worker.stop(Number(process.env.SWITCHYARD_STOP_GRACE_MS ?? 30_000)))
  // Messages sent before a listener exists are dropped: the control plane sends the configuration on this.
  const hello: FromWorker = { type: 'hello' }
  process.send!(hello)
}
