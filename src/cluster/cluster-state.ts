import { hostname } from 'node:os'
import { isDeepStrictEqual } from 'node:util'
import type { ClusterView } from '../admin/balancer-control.js'
import type { ClusterConfig } from '../config/schema.js'
import type { DeploymentRecord } from '../deploy/deployment-record.js'
import { parseDeploymentRecord } from '../deploy/deployment-store.js'
import { SwitchyardError } from '../errors.js'
import type { Logger } from '../log.js'
import type { EventBus } from '../runtime/event-bus.js'
import type { RuntimeState } from '../runtime/runtime-state.js'
import { isStateKey, itemsOfState, keys, parseKey, stateOfItems } from './cluster-keys.js'
import { EtcdClient, type TxnOp } from './etcd-client.js'
import type { EtcdEvent, EtcdKv } from './etcd-codec.js'
import { LeaseKeeper } from './etcd-lease.js'
import { EtcdWatch } from './etcd-watch.js'
import { KEEP } from './keep.js'
import { reasonOf } from './reason-of.js'
import { ReleaseOwnership } from './release-ownership.js'
import { SharedMirror, type MirrorEntry } from './shared-mirror.js'

/** What the cluster needs from the balancer it belongs to. */
export interface ClusterHost {
  readonly log: Logger
  /** The balancer's events: after a reload of the file, the shared state is applied again (it wins over the file). */
  readonly events: EventBus
  /** The runtime state now (to seed an empty prefix). */
  sharedState(): RuntimeState
  /** Makes the runtime match `next`: the one path for every change of the runtime state, remote or local. */
  applyRuntimeState(next: RuntimeState): void
  /** A deployment record changed in etcd (another balancer's release, or one marked interrupted). */
  deploymentChanged(record: DeploymentRecord): void
  /** Whether this balancer runs that deployment right now. */
  runsDeployment(id: string): boolean
}

/** How often a transaction is tried again when another balancer changed one of its keys in between. */
const MAX_ATTEMPTS = 50

/** At most this many operations per transaction (etcd's default --max-txn-ops is 128). */
const TXN_OPS = 100

/**
 * This balancer's side of the shared runtime state in etcd. It keeps a copy of every key under the prefix
 * (SharedMirror), read in full at start (seeding an empty prefix from the local state file) and then kept
 * current by a watch from that revision. Every change, remote or local, ends in one call:
 * host.applyRuntimeState(the state made of the copy), which diffs and applies.
 *
 * Writes: a change through the API is a transaction on the revisions of the keys it touches, committed before
 * anything changes here (no lost update, and nothing changes when etcd cannot be reached); what a running
 * release changes (its service state, its record) is applied here at once and written behind, in order.
 */
export class ClusterState {
  node: string
  readonly prefix: string
  readonly client: EtcdClient
  readonly mirror = new SharedMirror()
  readonly lease: LeaseKeeper
  readonly releases: ReleaseOwnership
  private readonly watch: EtcdWatch
  private connected = false
  private lastError: string | null = 'not started'
  /** A full read has been applied: before it, the local state file is all we have, and writes wait. */
  private synced = false
  private stopped = false
  private readonly writers = new Map<string, Promise<void>>()
  private unsubscribe: () => void = () => undefined

  constructor(
    readonly config: ClusterConfig,
    readonly host: ClusterHost,
  ) {
    this.node = config.node ?? hostname()
    this.prefix = config.prefix
    this.client = new EtcdClient(config.etcd, { timeoutMs: config.request_timeout })
    this.lease = new LeaseKeeper(this.client, config.lease_ttl, {
      granted: (id, lost) => {
        if (lost === undefined) return
        host.log.warn({ event: 'cluster.lease_lost', lease: lost, new_lease: id }, `etcd lease ${lost} expired while etcd was out of reach; releases this balancer ran are claimed again`)
        void this.releases.leaseRenewed()
      },
      status: (ok, reason) => {
        if (ok || this.stopped) return
        this.noteError(reason ?? 'lease keep-alive failed')
        // A watch can sit on a half-open connection for long; a failed keep-alive is the cue to open a new one.
        if (this.connected) this.watch.reconnect()
      },
    })
    this.releases = new ReleaseOwnership(this)
    this.watch = new EtcdWatch(this.client, `${this.prefix}/`, {
      resync: () => this.fullRead(),
      events: (events) => this.onEvents(events),
      status: (connected, reason) => this.onWatchStatus(connected, reason),
    })
  }

  /**
   * Joins the cluster: reads (or seeds) the shared state and applies it, then watches. When etcd cannot be
   * reached, the balancer starts with its local state file and catches up once etcd answers.
   */
  async start(adminPort?: number): Promise<void> {
    if (this.config.node === undefined && adminPort !== undefined) this.node = `${hostname()}:${adminPort}`
    // A reload drops overrides the edited file changes, locally; in a cluster the shared state stays the truth.
    this.unsubscribe = this.host.events.subscribe((event) => {
      if (event.type === 'reload' && this.synced && !this.stopped) this.applyShared()
    })
    this.lease.start()
    let revision: number | undefined
    try {
      revision = await this.fullRead()
    } catch (err) {
      this.noteError(reasonOf(err))
      this.host.log.warn({ event: 'cluster.unreachable', reason: this.lastError }, `etcd cannot be reached (${this.lastError}); serving the local state until it can`)
    }
    this.watch.start(revision)
  }

  /** Leaves the cluster: pending writes get a last chance, the lease is revoked (its claims go), the watch closes. */
  async stop(): Promise<void> {
    await Promise.race([this.flushAll(), delay(this.config.request_timeout)])
    this.stopped = true
    this.unsubscribe()
    await this.lease.revoke().catch(() => undefined)
    await this.watch.close()
    await this.client.close()
  }

  view(): ClusterView {
    return {
      node: this.node,
      prefix: this.prefix,
      endpoints: [...this.client.endpoints],
      connected: this.connected,
      synced: this.synced,
      revision: this.mirror.revision,
      error: this.connected ? null : this.lastError,
    }
  }

  /** The etcd key of an item. */
  full(key: string): string {
    return `${this.prefix}/${key}`
  }

  /** Writes are refused (changing nothing) until the shared state has been read once. */
  requireSynced(): void {
    if (!this.synced) {
      throw new SwitchyardError('SY_ERR_CLUSTER_UNAVAILABLE', { reason: `not yet in step with etcd: ${this.lastError ?? 'connecting'}` })
    }
  }

  /**
   * A read-modify-write of some keys in one transaction: each change function gets the key's committed value
   * (undefined: absent) and returns the new one (undefined: delete it, KEEP: leave it). The transaction holds
   * only if none of the keys changed since; otherwise the fresh values are taken and it is tried again. A change
   * function may throw (the input is wrong): nothing is written. Once committed, the change is applied here.
   */
  async commit(changes: ReadonlyMap<string, (current: unknown) => unknown>): Promise<void> {
    this.requireSynced()
    for (let attempt = 1; ; attempt++) {
      const compares = []
      const ops: TxnOp[] = []
      const next = new Map<string, unknown>()
      for (const [key, change] of changes) {
        const entry = this.mirror.entry(key)
        const value = change(entry?.value)
        compares.push({ key: this.full(key), modRevision: entry?.modRevision ?? 0 })
        if (value === KEEP) continue
        next.set(key, value)
        ops.push(value === undefined ? { delete: { key: this.full(key) } } : { put: { key: this.full(key), value: JSON.stringify(value) } })
      }
      if (ops.length === 0) return
      const reads = [...changes.keys()].map((key): TxnOp => ({ range: { key: this.full(key) } }))
      const result = await this.client.txn(compares, ops, reads).catch((err: unknown) => {
        this.noteError(reasonOf(err))
        throw err
      })
      const changed = new Map<string, unknown>()
      if (result.succeeded) {
        for (const [key, value] of next) {
          const before = this.mirror.value(key)
          const created = this.mirror.entry(key)?.createRevision ?? result.revision
          const entry = value === undefined ? undefined : { value: JSON.parse(JSON.stringify(value)) as unknown, modRevision: result.revision, createRevision: created, lease: undefined }
          if (this.mirror.observe(key, entry, result.revision)) changed.set(key, before)
        }
        this.dispatch(changed, false)
        return
      }
      // Another balancer got there first: learn what it wrote (applied here like any remote change), then retry.
      ;[...changes.keys()].forEach((key, i) => {
        const kv = result.ranges[i]?.[0]
        const before = this.mirror.value(key)
        if (this.mirror.observe(key, kv === undefined ? undefined : this.entryOf(kv), kv?.modRevision ?? result.revision)) changed.set(key, before)
      })
      this.dispatch(changed, false)
      if (attempt >= MAX_ATTEMPTS) {
        throw new SwitchyardError('SY_ERR_CLUSTER_UNAVAILABLE', { reason: `${attempt} attempts lost to concurrent changes of the same item` })
      }
    }
  }

  /** Records what a transaction of ours committed (release claims), as if the watch had brought it. */
  observeCommitted(key: string, value: unknown, revision: number, lease?: string): void {
    const before = this.mirror.value(key)
    const created = this.mirror.entry(key)?.createRevision ?? revision
    const entry = value === undefined ? undefined : { value, modRevision: revision, createRevision: created, lease }
    if (this.mirror.observe(key, entry, revision)) this.dispatch(new Map([[key, before]]), false)
  }

  /** A service's state changed here (a release step): applied already; written behind. */
  serviceChanged(service: string, state: unknown): void {
    this.share(keys.service(service), state)
  }

  /** A deployment record was saved here; written behind. A release that ended gives its claim back after. */
  deploymentSaved(record: DeploymentRecord): void {
    this.share(keys.deployment(record.id), record)
    if (record.status !== 'running' && record.status !== 'paused' && this.releases.holds(record.service, record.id)) {
      void this.releases.release(record.service)
    }
  }

  /** Resolves when what was written behind for `key` has landed (or the balancer stops). */
  async flush(key: string): Promise<void> {
    await this.writers.get(key)
  }

  noteError(reason: string): void {
    this.lastError = reason
  }

  // ---- reading ----

  /** Reads the whole prefix (seeding it first when it was never seeded) and applies it; returns its revision. */
  private async fullRead(): Promise<number> {
    let read = await this.client.range(`${this.prefix}/`, { prefix: true })
    if (!read.kvs.some((kv) => kv.key === this.full(keys.meta))) {
      await this.seed()
      read = await this.client.range(`${this.prefix}/`, { prefix: true })
    }
    const entries = new Map<string, MirrorEntry>()
    for (const kv of read.kvs) {
      const key = this.relative(kv.key)
      if (key !== undefined) entries.set(key, this.entryOf(kv))
    }
    const changed = this.mirror.replaceAll(entries, read.revision)
    this.synced = true
    this.dispatch(changed, true)
    return read.revision
  }

  /** First balancer on an empty prefix: its local state becomes the shared one (once, by a transaction). */
  private async seed(): Promise<void> {
    const meta = this.full(keys.meta)
    const items = [...itemsOfState(this.host.sharedState())]
    const puts = (batch: typeof items): TxnOp[] => batch.map(([key, value]) => ({ put: { key: this.full(key), value: JSON.stringify(value) } }))
    const first = await this.client.txn(
      [{ key: meta, createRevision: 0 }],
      [{ put: { key: meta, value: JSON.stringify({ seeded_by: this.node, at: Date.now() }) } }, ...puts(items.slice(0, TXN_OPS - 1))],
    )
    if (!first.succeeded) return // another balancer seeded it meanwhile
    for (let i = TXN_OPS - 1; i < items.length; i += TXN_OPS) await this.client.txn([], puts(items.slice(i, i + TXN_OPS)))
    this.host.log.info({ event: 'cluster.seeded', items: items.length, prefix: this.prefix }, `seeded ${this.prefix} in etcd with the local state (${items.length} items)`)
  }

  private onEvents(events: readonly EtcdEvent[]): void {
    const changed = new Map<string, unknown>()
    for (const event of events) {
      const key = this.relative(event.kv.key)
      if (key === undefined) continue
      const before = this.mirror.value(key)
      const entry = event.type === 'delete' ? undefined : this.entryOf(event.kv)
      if (this.mirror.observe(key, entry, event.kv.modRevision) && !changed.has(key)) changed.set(key, before)
    }
    this.dispatch(changed, false)
  }

  private onWatchStatus(connected: boolean, reason: string | undefined): void {
    const was = this.connected
    this.connected = connected
    if (!connected) this.noteError(reason ?? 'disconnected')
    if (this.stopped || was === connected) return
    if (connected) this.host.log.info({ event: 'cluster.connected', revision: this.mirror.revision }, `watching ${this.prefix} in etcd`)
    else this.host.log.warn({ event: 'cluster.disconnected', reason }, `lost the etcd watch (${reason ?? 'no reason'}); serving the last state`)
  }

  /**
   * Routes changed keys: runtime state -> one application of the whole state; deployment records -> the local
   * store; a release claim gone -> a look for releases whose balancer is gone.
   */
  private dispatch(changed: ReadonlyMap<string, unknown>, fullRead: boolean): void {
    if (!this.synced || this.stopped) return
    let state = false
    let claimGone = false
    for (const key of changed.keys()) {
      const kind = parseKey(key)?.kind
      if (kind === undefined) continue
      if (isStateKey(key)) state = true
      else if (kind === 'releases' && this.mirror.value(key) === undefined) claimGone = true
      else if (kind === 'deployments' && !this.mirror.isLocal(key)) this.replicate(key)
    }
    if (state) this.applyShared()
    if (claimGone || fullRead) void this.releases.sweep()
  }

  private applyShared(): void {
    const items = this.mirror
      .keys()
      .filter(isStateKey)
      .map((key) => [key, this.mirror.value(key)] as const)
    const state = stateOfItems(items, (key, reason) => this.host.log.warn({ event: 'cluster.bad_item', key, reason }, `ignored ${this.full(key)}: ${reason}`))
    this.host.applyRuntimeState(state)
  }

  private replicate(key: string): void {
    const value = this.mirror.value(key)
    if (value === undefined) return
    try {
      const record = parseDeploymentRecord(value)
      if (!this.host.runsDeployment(record.id)) this.host.deploymentChanged(record)
    } catch (err) {
      this.host.log.warn({ event: 'cluster.bad_item', key, reason: reasonOf(err) }, `ignored ${this.full(key)}: ${reasonOf(err)}`)
    }
  }

  // ---- writing behind ----

  /** Applied here already; written to etcd in order, the latest value winning, retried until it lands. */
  private share(key: string, value: unknown): void {
    if (this.stopped) return
    const normalized = value === undefined ? undefined : (JSON.parse(JSON.stringify(value)) as unknown)
    // A record copied here from etcd is saved locally too: the same content is not written back.
    if (!this.mirror.isLocal(key) && isDeepStrictEqual(normalized, this.mirror.entry(key)?.value)) return
    this.mirror.setLocal(key, normalized)
    if (!this.writers.has(key)) {
      this.writers.set(key, this.writeBehind(key).finally(() => this.writers.delete(key)))
    }
  }

  private async writeBehind(key: string): Promise<void> {
    let backoff = 100
    for (;;) {
      const local = this.mirror.localValue(key)
      if (local === undefined || this.stopped) return
      try {
        const full = this.full(key)
        const revision = local.value === undefined ? await this.client.delete(full) : await this.client.put(full, JSON.stringify(local.value))
        const created = this.mirror.entry(key)?.createRevision ?? revision
        this.mirror.settle(key, local.generation, { value: local.value, modRevision: revision, createRevision: created, lease: undefined })
        backoff = 100
      } catch (err) {
        this.noteError(reasonOf(err))
        await delay(backoff)
        backoff = Math.min(2000, backoff * 2)
      }
    }
  }

  private async flushAll(): Promise<void> {
    await Promise.all([...this.writers.values()])
  }

  // ---- keys ----

  private relative(key: string): string | undefined {
    return key.startsWith(`${this.prefix}/`) ? key.slice(this.prefix.length + 1) : undefined
  }

  private entryOf(kv: EtcdKv): MirrorEntry {
    let value: unknown
    try {
      value = JSON.parse(kv.value) as unknown
    } catch {
      this.host.log.warn({ event: 'cluster.bad_item', key: kv.key }, `ignored ${kv.key}: not JSON`)
    }
    return { value, modRevision: kv.modRevision, createRevision: kv.createRevision, lease: kv.lease }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref())
}
