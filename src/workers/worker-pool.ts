import cluster, { type Worker } from 'node:cluster'
import { fileURLToPath } from 'node:url'
import type { HostPort } from '../config/address.js'
import type { Config } from '../config/schema.js'
import { SwitchyardError } from '../errors.js'
import type { Logger } from '../log.js'
import type { EventBus } from '../runtime/event-bus.js'
import type { RuntimeState } from '../runtime/runtime-state.js'
import type { Runtime } from '../runtime/runtime.js'
import type { Server } from '../runtime/server.js'
import type { RemoteFrontend } from './remote-frontend.js'
import { ServerIds, takeSnapshot } from './runtime-snapshot.js'
import type { FromWorker, ToWorker } from './worker-messages.js'

type Report = Extract<FromWorker, { type: 'report' }>

/** Changes without an event (slow start ramps a weight on a timer) reach the workers within this. */
const SNAPSHOT_POLL_MS = 100
/** A worker that does not acknowledge a change within this is not waited for (it is logged). */
const SYNC_TIMEOUT_MS = 2000
/** A worker that has not applied (or refused) a reload within this fails it. */
const CONFIG_TIMEOUT_MS = 15_000
/** A worker that died is started again after this (doubling up to 10 s while it keeps dying at start). */
const RESTART_DELAY_MS = 250

export interface WorkerPoolHost {
  readonly log: Logger
  readonly events: EventBus
  config(): Config
  state(): RuntimeState
  runtime(): Runtime
  frontend(name: string): RemoteFrontend | undefined
}

/** A worker as the state view shows it. */
export interface WorkerView {
  readonly id: number
  readonly pid: number | null
  readonly status: 'starting' | 'serving' | 'restarting' | 'stopped'
  readonly restarts: number
  readonly requests: number
}

interface Slot {
  readonly id: number
  worker: Worker | undefined
  status: WorkerView['status']
  restarts: number
  /** Requests its frontends received, as reported. */
  requests: number
  /** The last configuration/snapshot version the worker acknowledged (-1: none yet). */
  acked: number
  /** Requests in flight per server, as last reported. */
  active: Map<Server, number>
  /** Requests waiting in its queue per backend, as last reported. */
  waiting: Map<string, number>
}

/**
 * The control plane's side of `workers:` (node:cluster, Node 20's way to share listening sockets between
 * processes): forks the data-plane workers, sends them the configuration and every change of the runtime's
 * state (a snapshot, sent when it differs from the last one), and adds their reports to its own servers and
 * frontends, which every view (state, stats page, /metrics, release timelines and canary analysis) reads.
 *
 * Drains are safe across processes: a server's whenIdle() on the control plane first waits until every worker
 * has acknowledged the state as it is now (synced()), then for the requests in flight they report.
 */
export class WorkerPool {
  private readonly slots: Slot[] = []
  private readonly ids = new ServerIds()
  private version = 0
  private lastSnapshot = ''
  private addresses: Record<string, HostPort[]> = {}
  private waiters: { version: number; resolve: () => void }[] = []
  private pending: ReturnType<typeof setImmediate> | undefined
  private poll: NodeJS.Timeout | undefined
  private unsubscribe: (() => void) | undefined
  private stopping = false
  /** A configuration the workers are applying (its version), told of each worker's answer. */
  private configWaiter: ((slot: Slot, failure: string | undefined) => void) | undefined
  private configVersion = 0

  constructor(
    /** How many workers run (fixed until the balancer restarts). */
    readonly size: number,
    private readonly host: WorkerPoolHost,
  ) {}

  /** Forks the workers and resolves once each serves every frontend; rejects (and stops them) if one cannot. */
  async start(): Promise<void> {
    // Round-robin: this process accepts each connection and hands it to the next worker. Letting every worker
    // accept on the shared socket (SCHED_NONE) made new connections ~1.5x cheaper in bench/proxy, but the kernel
    // gave most of them to one worker (60 sequential connections: 0 to the other in 2 runs of 3), and a keep-alive
    // client stays where it landed. Node >= 22.12's reusePort would give both; Node 20 has neither.
    cluster.schedulingPolicy = cluster.SCHED_RR
    cluster.setupPrimary({ exec: fileURLToPath(new URL('./worker-entry.js', import.meta.url)), args: [] })
    for (let id = 1; id <= this.size; id++) this.slots.push({ id, worker: undefined, status: 'starting', restarts: 0, requests: 0, acked: -1, active: new Map(), waiting: new Map() })
    try {
      await Promise.all(this.slots.map((slot) => this.fork(slot)))
    } catch (err) {
      await this.stop(0)
      throw err
    }
    this.unsubscribe = this.host.events.subscribe(() => this.schedule())
    this.poll = setInterval(() => this.flush(), SNAPSHOT_POLL_MS)
    this.poll.unref()
  }

  /** Bound addresses of a frontend, as the workers reported them. */
  bound(frontend: string): HostPort[] {
    return this.addresses[frontend] ?? []
  }

  view(): WorkerView[] {
    return this.slots.map((s) => ({ id: s.id, pid: s.worker?.process.pid ?? null, status: s.status, restarts: s.restarts, requests: s.requests }))
  }

  /** Something changed: the workers get the new state on the next turn of the event loop. */
  schedule(): void {
    if (this.pending !== undefined || this.stopping) return
    this.pending = setImmediate(() => {
      this.pending = undefined
      this.flush()
    })
  }

  /** Resolves once every serving worker has applied the state as it is now (and reported after that). */
  synced(): Promise<void> {
    this.flush()
    const version = this.version
    if (this.serving().every((s) => s.acked >= version)) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        const late = this.serving().filter((s) => s.acked < version).map((s) => s.id)
        if (late.length > 0) this.host.log.warn({ event: 'workers.sync_timeout', workers: late }, 'workers did not acknowledge a change in time')
        resolve()
      }, SYNC_TIMEOUT_MS)
      timer.unref()
      this.waiters.push({ version, resolve: () => (clearTimeout(timer), resolve()) })
    })
  }

  /** A reload: every worker swaps to the new configuration; rejects with the first worker's failure. */
  async applyConfig(): Promise<void> {
    const failures: { worker: number; reason: string }[] = []
    const waiting = new Set(this.serving())
    this.flushSnapshotOnly()
    const message = this.configMessage(++this.version)
    this.configVersion = this.version
    await new Promise<void>((resolve) => {
      if (waiting.size === 0) return resolve()
      // A worker that neither applies nor refuses in time (hung) must not hold the reload forever.
      const timer = setTimeout(() => {
        const late = [...waiting].map((slot) => slot.id)
        for (const id of late) failures.push({ worker: id, reason: `no answer within ${CONFIG_TIMEOUT_MS / 1000} s` })
        resolve()
      }, CONFIG_TIMEOUT_MS)
      timer.unref()
      this.configWaiter = (slot, failure) => {
        if (!waiting.delete(slot)) return
        if (failure !== undefined) failures.push({ worker: slot.id, reason: failure })
        if (waiting.size === 0) {
          clearTimeout(timer)
          resolve()
        }
      }
      for (const slot of waiting) slot.worker!.send(message)
    })
    this.configWaiter = undefined
    if (failures.length > 0) throw new SwitchyardError('SY_ERR_WORKER_FAILED', { worker: failures[0]!.worker, reason: failures[0]!.reason })
  }

  /** Graceful stop: every worker stops accepting and finishes what is in flight for up to `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true
    clearInterval(this.poll)
    if (this.pending !== undefined) clearImmediate(this.pending)
    this.unsubscribe?.()
    await Promise.all(
      this.slots.map(async (slot) => {
        const worker = slot.worker
        if (worker === undefined || worker.isDead()) return
        const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()))
        const send: ToWorker = { type: 'stop', graceMs }
        if (worker.isConnected()) worker.send(send)
        const timer = setTimeout(() => worker.process.kill('SIGKILL'), graceMs + 5000)
        await exited
        clearTimeout(timer)
        slot.status = 'stopped'
      }),
    )
    for (const w of this.waiters) w.resolve()
    this.waiters = []
  }

  // ---- the workers ----

  private serving(): Slot[] {
    return this.slots.filter((s) => s.status === 'serving' && s.worker !== undefined)
  }

  /** The configuration, runtime state and latest snapshot, as `version`. */
  private configMessage(version: number): ToWorker {
    return { type: 'config', version, config: this.host.config(), state: this.host.state(), snapshot: JSON.parse(this.lastSnapshot) }
  }

  private fork(slot: Slot): Promise<void> {
    const worker = cluster.fork({ SWITCHYARD_WORKER_ID: String(slot.id) })
    slot.worker = worker
    slot.acked = -1
    return new Promise((resolve, reject) => {
      let started = false
      worker.on('message', (message: FromWorker) => {
        switch (message.type) {
          case 'hello':
            // The others get any change first, so that the new worker starts at the version they are at.
            this.flush()
            if (this.lastSnapshot === '') this.flushSnapshotOnly()
            worker.send(this.configMessage(this.version))
            return
          case 'ready':
            this.addresses = message.addresses
            if (started) return
            started = true
            slot.status = 'serving'
            this.host.log.info({ event: 'worker.ready', worker: slot.id, pid: worker.process.pid }, `worker ${slot.id} is serving`)
            // Changes made while it started reach it now.
            this.lastSnapshot = ''
            this.schedule()
            return resolve()
          case 'failed':
            if (!started) {
              worker.process.kill('SIGKILL')
              return reject(new SwitchyardError('SY_ERR_WORKER_FAILED', { worker: slot.id, reason: message.message }))
            }
            this.configWaiter?.(slot, message.message)
            return
          case 'report':
            return this.merge(slot, message)
          case 'stopped':
            return
        }
      })
      worker.once('exit', (code, signal) => {
        this.forget(slot)
        if (!started) return reject(new SwitchyardError('SY_ERR_WORKER_FAILED', { worker: slot.id, reason: `it exited at start (${signal ?? code})` }))
        if (this.stopping) return
        slot.status = 'restarting'
        slot.restarts++
        this.host.log.error({ event: 'worker.exit', worker: slot.id, code, signal }, `worker ${slot.id} exited (${signal ?? code}); starting it again`)
        const delay = Math.min(10_000, RESTART_DELAY_MS * 2 ** Math.min(6, slot.restarts - 1))
        setTimeout(() => {
          if (this.stopping) return
          this.fork(slot).catch((err: unknown) => this.host.log.error({ event: 'worker.restart_failed', worker: slot.id, err }, `worker ${slot.id} could not start again`))
        }, delay).unref()
      })
    })
  }

  /** A worker is gone: its requests in flight are gone with it, and nothing waits for its acknowledgement. */
  private forget(slot: Slot): void {
    slot.worker = undefined
    for (const server of slot.active.keys()) this.total(server)
    slot.active = new Map()
    slot.waiting = new Map()
    this.totalWaiting()
    const frontends = this.host.config().frontends
    for (const name of Object.keys(frontends)) this.host.frontend(name)?.setActive(slot.id, undefined)
    this.configWaiter?.(slot, undefined)
    this.settleWaiters()
  }

  /** Sends the runtime's state when it differs from the last one sent. */
  private flush(): void {
    if (this.stopping) return
    const before = this.lastSnapshot
    this.flushSnapshotOnly()
    if (this.lastSnapshot === before) return
    this.version++
    const message: ToWorker = { type: 'snapshot', version: this.version, snapshot: JSON.parse(this.lastSnapshot) }
    for (const slot of this.serving()) slot.worker!.send(message)
  }

  private flushSnapshotOnly(): void {
    const runtime = this.host.runtime()
    this.lastSnapshot = JSON.stringify(takeSnapshot(runtime, this.ids))
    const synced = (): Promise<void> => this.synced()
    for (const backend of runtime.backends.values()) for (const server of backend.servers) server.workersSynced = synced
  }

  private merge(slot: Slot, report: Report): void {
    if (report.version > slot.acked) slot.acked = report.version
    if (this.configWaiter !== undefined && report.version >= this.configVersion) this.configWaiter(slot, undefined)
    const runtime = this.host.runtime()
    const active = new Map<Server, number>()
    for (const s of report.servers) {
      const server = this.ids.serverOf(s.id)
      if (server === undefined) continue
      server.requests += s.requests
      server.errors += s.errors
      server.stats.bytesIn += s.bytesIn
      server.stats.bytesOut += s.bytesOut
      server.stats.connectionErrors += s.connectionErrors
      server.stats.responseErrors += s.responseErrors
      for (const [frontend, status, n] of s.codes) server.stats.addStatus(frontend, status, n)
      server.latency.addBuckets(s.latency, s.latencyCount, s.latencySum)
      if (s.active > 0) active.set(server, s.active)
    }
    const before = slot.active
    slot.active = active
    for (const server of new Set([...before.keys(), ...active.keys()])) this.total(server)
    for (const f of report.frontends) {
      const frontend = this.host.frontend(f.name)
      if (frontend === undefined) continue
      frontend.stats.requests += f.requests
      slot.requests += f.requests
      frontend.stats.requestErrors += f.requestErrors
      frontend.stats.bytesIn += f.bytesIn
      frontend.stats.bytesOut += f.bytesOut
      for (const [status, n] of f.codes) frontend.stats.addStatus('', status, n)
      frontend.setActive(slot.id, f.active)
    }
    for (const b of report.backends) {
      const backend = runtime.backends.get(b.name)
      if (backend === undefined) continue
      backend.retriesTotal += b.retries
      backend.queue.total += b.queued
      slot.waiting.set(b.name, b.waiting)
    }
    this.totalWaiting()
    for (const [id, failed, n] of report.outcomes) {
      const server = this.ids.serverOf(id)
      const backend = server === undefined ? undefined : runtime.backends.get(server.backendName)
      if (server === undefined || backend?.servers.includes(server) !== true) continue
      for (let i = 0; i < (failed ? n : 1); i++) backend.observe(server, failed)
    }
    for (const [id, reason] of report.down) this.ids.serverOf(id)?.markDown(reason)
    this.settleWaiters()
  }

  /** Sets a server's requests in flight to the sum over the workers. */
  private total(server: Server): void {
    let total = 0
    for (const slot of this.slots) total += slot.active.get(server) ?? 0
    server.setActiveFromWorkers(total)
  }

  /** Sets each backend's requests waiting in the workers' queues to the sum over the workers. */
  private totalWaiting(): void {
    for (const backend of this.host.runtime().backends.values()) {
      let total = 0
      for (const slot of this.slots) total += slot.waiting.get(backend.name) ?? 0
      backend.queue.waitingElsewhere = total
      if (backend.queue.waiting > backend.queue.max) backend.queue.max = backend.queue.waiting
    }
  }

  private settleWaiters(): void {
    if (this.waiters.length === 0) return
    const serving = this.serving()
    const still: typeof this.waiters = []
    for (const w of this.waiters) {
      if (serving.every((s) => s.acked >= w.version)) w.resolve()
      else still.push(w)
    }
    this.waiters = still
  }
}
