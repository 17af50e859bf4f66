import type { DeploymentRecord } from '../deploy/deployment-record.js'
import { SwitchyardError } from '../errors.js'
import { keys, parseClaim, parseKey, type ReleaseClaim } from './cluster-keys.js'
import type { ClusterState } from './cluster-state.js'
import { KEEP } from './keep.js'
import { reasonOf } from './reason-of.js'

/** Statuses of a release that some balancer is (or was) running. */
const UNFINISHED: ReadonlySet<string> = new Set(['running', 'paused'])

interface Held {
  /** create_revision of our claim key: every later write of it compares on this, so it never touches another's. */
  readonly createRevision: number
  readonly since: number
  id: string | undefined
  /** The write that adds the deployment id to the claim. */
  binding: Promise<void>
}

/**
 * Exactly one balancer runs a service's release: it holds the claim `releases/SERVICE`, created only if absent
 * and bound to its lease, so that the claim vanishes when the balancer does (lease_ttl after its last keep-alive).
 * Every balancer watches the claims; when one vanishes while its release is still recorded as running, the
 * release is marked interrupted in the shared record (one balancer wins that transaction), and resume or
 * rollback can then be run from any balancer. Switchyard marks; it does not take the release over by itself.
 */
export class ReleaseOwnership {
  private readonly held = new Map<string, Held>()
  private sweeping: Promise<void> | undefined
  private sweepAgain = false

  constructor(private readonly cluster: ClusterState) {}

  /** Whether this balancer holds the claim of `service` for deployment `id`. */
  holds(service: string, id: string): boolean {
    return this.held.get(service)?.id === id
  }

  /** The claim of a service as last seen (who runs its release), if any. */
  claim(service: string): ReleaseClaim | undefined {
    return parseClaim(this.cluster.mirror.value(keys.release(service)))
  }

  /**
   * Takes the claim of `service` before a release starts here. Throws SY_ERR_DEPLOYMENT_RUNNING (naming the
   * deployment and the balancer) when another balancer holds it, SY_ERR_CLUSTER_UNAVAILABLE when etcd is out of
   * reach: either way nothing started.
   */
  async acquire(service: string): Promise<void> {
    this.cluster.requireSynced()
    if (this.held.has(service)) throw new SwitchyardError('SY_ERR_DEPLOYMENT_RUNNING', { service, id: `${this.held.get(service)!.id ?? 'starting'} on ${this.cluster.node}` })
    const lease = await this.cluster.lease.ensure()
    const key = keys.release(service)
    const claim: ReleaseClaim = { node: this.cluster.node, since: Date.now() }
    const full = this.cluster.full(key)
    const result = await this.cluster.client.txn([{ key: full, createRevision: 0 }], [{ put: { key: full, value: JSON.stringify(claim), lease } }], [{ range: { key: full } }])
    if (!result.succeeded) {
      const kv = result.ranges[0]?.[0]
      const holder = kv === undefined ? undefined : parseClaim(safeJson(kv.value))
      throw new SwitchyardError('SY_ERR_DEPLOYMENT_RUNNING', { service, id: `${holder?.id ?? 'starting'} on ${holder?.node ?? 'another balancer'}` })
    }
    this.held.set(service, { createRevision: result.revision, since: claim.since, id: undefined, binding: Promise.resolve() })
    this.cluster.observeCommitted(key, claim, result.revision, lease)
  }

  /** The release started as deployment `id`: the claim says so (other balancers then name it in their 409). */
  bind(service: string, id: string): void {
    const held = this.held.get(service)
    if (held === undefined) return
    held.id = id
    held.binding = this.writeClaim(service, held).catch((err: unknown) => {
      this.cluster.host.log.warn({ event: 'cluster.claim_failed', service, id, reason: reasonOf(err) }, `could not record ${id} in the claim of ${service}: ${reasonOf(err)}`)
    })
  }

  private async writeClaim(service: string, held: Held): Promise<void> {
    const lease = await this.cluster.lease.ensure()
    const key = keys.release(service)
    const full = this.cluster.full(key)
    const claim: ReleaseClaim = { node: this.cluster.node, id: held.id, since: held.since }
    const result = await this.cluster.client.txn([{ key: full, createRevision: held.createRevision }], [{ put: { key: full, value: JSON.stringify(claim), lease } }])
    if (!result.succeeded) throw new Error('the claim is no longer ours (its lease expired)')
    this.cluster.observeCommitted(key, claim, result.revision, lease)
  }

  /**
   * Gives the claim back (the release ended, or did not start). The record's last state is written first, so
   * that no balancer sees the claim gone while the record still says running. Retried until it lands: a claim
   * left behind would block the service's next release for as long as this balancer lives.
   */
  async release(service: string): Promise<void> {
    const held = this.held.get(service)
    if (held === undefined) return
    await held.binding
    if (held.id !== undefined) await this.cluster.flush(keys.deployment(held.id))
    if (this.held.get(service) !== held) return
    this.held.delete(service)
    const full = this.cluster.full(keys.release(service))
    for (let backoff = 100; ; backoff = Math.min(2000, backoff * 2)) {
      try {
        const result = await this.cluster.client.txn([{ key: full, createRevision: held.createRevision }], [{ delete: { key: full } }])
        if (result.succeeded) this.cluster.observeCommitted(keys.release(service), undefined, result.revision)
        return
      } catch (err) {
        this.cluster.noteError(reasonOf(err))
        if (this.cluster.lease.id === undefined) return // stopped: the revoke takes the claim with it
        await new Promise((resolve) => setTimeout(resolve, backoff).unref())
      }
    }
  }

  /** The lease expired while etcd was out of reach: the claims went with it; take them again if still free. */
  async leaseRenewed(): Promise<void> {
    for (const [service, held] of [...this.held]) {
      this.held.delete(service)
      try {
        await this.acquire(service)
        if (held.id !== undefined) this.bind(service, held.id)
      } catch (err) {
        this.cluster.host.log.error(
          { event: 'cluster.claim_lost', service, id: held.id, reason: reasonOf(err) },
          `the claim of ${service}'s release ${held.id ?? ''} was lost with the lease and could not be taken again: ${reasonOf(err)}`,
        )
      }
    }
  }

  /**
   * Looks for releases recorded as running whose claim is gone (or belongs to another deployment, or to an
   * earlier life of this balancer) and marks them interrupted. Runs after every full read and whenever a claim
   * vanishes; one at a time, again if asked meanwhile.
   */
  sweep(): Promise<void> {
    if (this.sweeping !== undefined) {
      this.sweepAgain = true
      return this.sweeping
    }
    this.sweeping = (async () => {
      do {
        this.sweepAgain = false
        try {
          await this.sweepOnce()
        } catch (err) {
          // etcd went away meanwhile: the full read after the reconnection sweeps again.
          this.cluster.noteError(reasonOf(err))
        }
      } while (this.sweepAgain)
    })().finally(() => {
      this.sweeping = undefined
    })
    return this.sweeping
  }

  private async sweepOnce(): Promise<void> {
    const mirror = this.cluster.mirror
    for (const key of mirror.keys()) {
      if (parseKey(key)?.kind !== 'deployments') continue
      const record = mirror.value(key) as Partial<DeploymentRecord> | undefined
      if (record?.id === undefined || record.service === undefined || !UNFINISHED.has(record.status ?? '')) continue
      if (this.cluster.host.runsDeployment(record.id)) continue
      const claim = this.claim(record.service)
      const earlierLife = claim !== undefined && claim.node === this.cluster.node && !this.held.has(record.service)
      if (claim !== undefined && !earlierLife && (claim.id === undefined || claim.id === record.id)) continue
      await this.markInterrupted(key, claim)
      if (earlierLife) await this.dropStaleClaim(record.service)
    }
  }

  private async markInterrupted(key: string, claim: ReleaseClaim | undefined): Promise<void> {
    let marked: Partial<DeploymentRecord> | undefined
    await this.cluster.commit(
      new Map([
        [
          key,
          (current: unknown) => {
            const record = current as Partial<DeploymentRecord> | undefined
            if (record === undefined || !UNFINISHED.has(record.status ?? '')) return KEEP
            marked = { ...record, status: 'interrupted' }
            return marked
          },
        ],
      ]),
    )
    if (marked !== undefined) {
      this.cluster.host.log.warn(
        { event: 'deploy.interrupted', id: marked.id, service: marked.service, node: claim?.node ?? null },
        `release ${marked.id} lost the balancer running it; marked interrupted (resume or rollback it from any balancer)`,
      )
    }
  }

  /** A claim an earlier run of this balancer left (its lease not yet expired): it is of no one now. */
  private async dropStaleClaim(service: string): Promise<void> {
    const key = keys.release(service)
    const entry = this.cluster.mirror.entry(key)
    if (entry === undefined) return
    const full = this.cluster.full(key)
    const result = await this.cluster.client.txn([{ key: full, modRevision: entry.modRevision }], [{ delete: { key: full } }])
    if (result.succeeded) this.cluster.observeCommitted(key, undefined, result.revision)
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch {
    return undefined
  }
}
