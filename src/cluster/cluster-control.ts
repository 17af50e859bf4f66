import type { BalancerControl, DrainOutcome, NewServer, ServerChange, ServerView, StateView } from '../admin/balancer-control.js'
import { parseHostPort } from '../config/address.js'
import { DEFAULTS } from '../config/defaults.js'
import { NAME_PATTERN, NAME_RULE } from '../config/schema.js'
import type { DeploymentRecord } from '../deploy/deployment-record.js'
import type { SteerAction } from '../deploy/services.js'
import { SwitchyardError } from '../errors.js'
import type { LoadBalancer } from '../load-balancer.js'
import type { RuntimeState } from '../runtime/runtime-state.js'
import { keys } from './cluster-keys.js'
import type { ClusterState } from './cluster-state.js'
import { drainOutcome } from '../runtime/drain-outcome.js'

/**
 * The admin side's BalancerControl of a balancer with `cluster:`. Reads are the balancer's; every write is first
 * committed in etcd (a transaction on the revisions of the keys it touches) and then applied here through the
 * same path as a change from another balancer. When etcd cannot be reached the write is refused with
 * SY_ERR_CLUSTER_UNAVAILABLE and nothing changes. Releases take the service's claim first (one balancer runs a
 * given release; another one answers 409).
 */
export class ClusterControl implements BalancerControl {
  constructor(
    private readonly lb: LoadBalancer,
    private readonly cluster: ClusterState,
  ) {}

  get events(): LoadBalancer['events'] {
    return this.lb.events
  }

  /** A write is committed in etcd before it is answered; the local state file (the cache) is awaited too. */
  durable(): Promise<void> {
    return this.lb.durable()
  }

  state(): StateView {
    return this.lb.state()
  }

  server(backend: string, server: string): ServerView {
    return this.lb.server(backend, server)
  }

  async changeServer(backend: string, server: string, change: ServerChange): Promise<ServerView> {
    this.lb.runtime.backendNamed(backend).requireServer(server)
    if (change.admin !== undefined && !['ready', 'drain', 'maint'].includes(change.admin)) {
      throw new SwitchyardError('SY_ERR_INVALID_BODY', { reason: `admin must be ready, drain or maint, not '${String(change.admin)}'` })
    }
    if (change.weight !== undefined && !(Number.isInteger(change.weight) && change.weight >= 0 && change.weight <= 256)) {
      throw new SwitchyardError('SY_ERR_INVALID_BODY', { reason: 'weight must be an integer from 0 to 256' })
    }
    // Read-modify-write of this server's item alone: a concurrent change of its other field is kept.
    await this.cluster.commit(
      new Map([
        [
          keys.server(backend, server),
          (current: unknown) => {
            const next: RuntimeState['servers'][string] = { ...(current as RuntimeState['servers'][string] | undefined) }
            if (change.admin !== undefined) next.admin = change.admin
            if (change.weight !== undefined) next.weight = change.weight
            return next
          },
        ],
      ]),
    )
    return this.lb.server(backend, server)
  }

  waitDrained(backend: string, server: string, timeoutMs: number): Promise<DrainOutcome> {
    return this.lb.waitDrained(backend, server, timeoutMs)
  }

  async addServer(backend: string, spec: NewServer): Promise<ServerView> {
    const b = this.lb.runtime.backendNamed(backend)
    if (!NAME_PATTERN.test(spec.name)) throw new SwitchyardError('SY_ERR_INVALID_BODY', { reason: NAME_RULE })
    if (b.serverNamed(spec.name) !== undefined) throw new SwitchyardError('SY_ERR_SERVER_EXISTS', { backend, server: spec.name })
    const address = parseHostPort(spec.address)
    if (typeof address === 'string') throw new SwitchyardError('SY_ERR_INVALID_BODY', { reason: address })
    const added: RuntimeState['added'][string] = {
      address: spec.address,
      weight: spec.weight ?? DEFAULTS.server.weight,
      backup: spec.backup ?? false,
      ...(spec.max_connections === undefined ? {} : { max_connections: spec.max_connections }),
    }
    await this.cluster.commit(
      new Map<string, (current: unknown) => unknown>([
        [
          keys.added(backend, spec.name),
          (current) => {
            // Another balancer added one under this name meanwhile.
            if (current !== undefined) throw new SwitchyardError('SY_ERR_SERVER_EXISTS', { backend, server: spec.name })
            return added
          },
        ],
        [keys.removed(backend, spec.name), () => undefined],
      ]),
    )
    return this.lb.server(backend, spec.name)
  }

  async removeServer(backend: string, server: string, timeoutMs: number): Promise<DrainOutcome> {
    const b = this.lb.runtime.backendNamed(backend)
    const s = b.requireServer(server)
    const inFile = this.lb.config.backends[backend]?.servers[server] !== undefined
    await this.cluster.commit(
      new Map<string, (current: unknown) => unknown>([
        [keys.added(backend, server), () => undefined],
        [keys.server(backend, server), () => undefined],
        [keys.removed(backend, server), () => (inFile ? {} : undefined)],
      ]),
    )
    // Applying the change detached the server and started its drain; the answer waits for the outcome. A server
    // the shared state does not name (an instance of a service) is taken out here only, as without a cluster.
    if (b.servers.includes(s)) {
      b.detachServer(s)
      s.setAdmin('drain')
      s.goAwayAfter(b.config.drain_timeout)
    }
    const outcome = await drainOutcome(s, timeoutMs)
    await s.close()
    return outcome
  }

  reload(): Promise<void> {
    return this.lb.reload()
  }

  async deploy(service: string, version: string, strategy?: string): Promise<DeploymentRecord> {
    return this.claimed(service, () => this.lb.deploy(service, version, strategy))
  }

  async rollback(service: string): Promise<DeploymentRecord> {
    return this.claimed(service, () => this.lb.rollback(service))
  }

  deployment(id: string): Promise<DeploymentRecord> {
    return this.lb.deployment(id)
  }

  deployments(service?: string): Promise<DeploymentRecord[]> {
    return this.lb.deployments(service)
  }

  async steerDeployment(id: string, action: SteerAction): Promise<DeploymentRecord> {
    const record = await this.lb.deployment(id)
    const here = this.lb.services.has(record.service) && this.lb.services.controller(record.service).active?.id === id
    if (action === 'resume' && record.status === 'interrupted') {
      return this.claimed(record.service, () => this.lb.steerDeployment(id, action))
    }
    const claim = this.cluster.releases.claim(record.service)
    if (!here && (record.status === 'running' || record.status === 'paused') && claim !== undefined && claim.node !== this.cluster.node) {
      // Steering acts on the process that runs the release; say which one that is.
      throw new SwitchyardError('SY_ERR_DEPLOYMENT_STATE', { id, status: `${record.status} on balancer ${claim.node} (steer it there)`, action })
    }
    return this.lb.steerDeployment(id, action)
  }

  /** Runs `start` (which begins a release here) holding the service's claim; gives it back when nothing started. */
  private async claimed(service: string, start: () => DeploymentRecord | Promise<DeploymentRecord>): Promise<DeploymentRecord> {
    this.lb.services.controller(service) // an unknown service is a 404 before anything is claimed
    await this.cluster.releases.acquire(service)
    let record: DeploymentRecord
    try {
      record = await start()
    } catch (err) {
      // Not awaited: with etcd out of reach the claim is given back once it answers; the refusal answers now.
      void this.cluster.releases.release(service)
      throw err
    }
    this.cluster.releases.bind(service, record.id)
    // A release can end before it is bound (a plan that fails at once): the saved end then finds no claim to give.
    if (record.status !== 'running' && record.status !== 'paused') void this.cluster.releases.release(service)
    return record
  }

}
