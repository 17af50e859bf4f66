/**
 * The release side of FakeControl: deployments kept in memory that stay `running` until a test ends them with
 * finish(), and the same refusals as the real services (unknown service or id, one release at a time, steering
 * only what a status allows, a rollback needs a previous release).
 */
import type { ServiceView } from '../src/admin/balancer-control.js'
import type { DeploymentRecord, DeploymentStatus } from '../src/deploy/deployment-record.js'
import { SwitchyardError } from '../src/errors.js'

type SteerAction = 'pause' | 'resume' | 'abort' | 'promote'

interface FakeService {
  version: string | null
  previous: string | null
}

const STRATEGIES = ['rolling', 'surge', 'bluegreen', 'canary']

/** Which statuses each action accepts, and the status it leads to. */
const STEERING: Record<SteerAction, { readonly from: readonly DeploymentStatus[]; readonly to: DeploymentStatus }> = {
  pause: { from: ['running'], to: 'paused' },
  resume: { from: ['paused', 'interrupted'], to: 'running' },
  abort: { from: ['running', 'paused'], to: 'aborted' },
  promote: { from: ['running', 'paused'], to: 'running' },
}

export class FakeDeployments {
  /** Every record, oldest first. */
  readonly records: DeploymentRecord[] = []
  /** Calls of steer(), in order, as `action id`. */
  readonly steered: string[] = []
  private readonly known = new Map<string, FakeService>()
  private clock = Date.UTC(2026, 10, 21, 21, 30, 0)

  constructor(services: Record<string, string | undefined>) {
    for (const [name, version] of Object.entries(services)) this.known.set(name, { version: version ?? null, previous: null })
  }

  services(): Omit<ServiceView, 'backend'>[] {
    return [...this.known].map(([name, s]) => {
      const active = this.active(name)
      return {
        name,
        version: s.version,
        previous: s.previous,
        rotation: null,
        deployment: active === undefined ? null : { id: active.id, status: active.status, to: active.to, strategy: active.strategy },
      }
    })
  }

  deploy(service: string, version: string, strategy = 'rolling'): DeploymentRecord {
    const s = this.service(service)
    if (!STRATEGIES.includes(strategy)) {
      throw new SwitchyardError('SY_ERR_STRATEGY_UNSUPPORTED', { reason: `strategy '${strategy}' is not supported (use ${STRATEGIES.join(', ')})` })
    }
    const running = this.active(service)
    if (running !== undefined) throw new SwitchyardError('SY_ERR_DEPLOYMENT_RUNNING', { service, id: running.id })
    this.clock += 1000
    const record: DeploymentRecord = {
      id: `${service}-${this.records.length + 1}`,
      service,
      from: s.version ?? undefined,
      to: version,
      strategy,
      status: 'running',
      started_at: this.clock,
      steps: [{ kind: 'start', detail: `start ${service}-${version}-1`, started_at: this.clock }],
      timeline: [],
    }
    this.records.push(record)
    return clone(record)
  }

  rollback(service: string): DeploymentRecord {
    const previous = this.service(service).previous
    if (previous === null) throw new SwitchyardError('SY_ERR_NO_PREVIOUS_RELEASE', { service })
    return this.deploy(service, previous)
  }

  get(id: string): DeploymentRecord {
    return clone(this.find(id))
  }

  /** Newest first. */
  list(service?: string): DeploymentRecord[] {
    if (service !== undefined) this.service(service)
    return this.records.filter((r) => service === undefined || r.service === service).reverse().map(clone)
  }

  steer(id: string, action: SteerAction): DeploymentRecord {
    const record = this.find(id)
    const rule = STEERING[action]
    if (!rule.from.includes(record.status)) throw new SwitchyardError('SY_ERR_DEPLOYMENT_STATE', { id, status: record.status, action })
    this.steered.push(`${action} ${id}`)
    record.status = rule.to
    if (rule.to === 'aborted') record.ended_at = this.clock
    return clone(record)
  }

  /** Ends a release the way the engine would; `succeeded` makes its version the service's current one. */
  finish(id: string, status: DeploymentStatus = 'succeeded'): void {
    const record = this.find(id)
    record.status = status
    record.ended_at = record.started_at + 2000
    if (status !== 'succeeded') return
    const s = this.service(record.service)
    s.previous = s.version
    s.version = record.to
  }

  private active(service: string): DeploymentRecord | undefined {
    return this.records.find((r) => r.service === service && (r.status === 'running' || r.status === 'paused'))
  }

  private service(name: string): FakeService {
    const s = this.known.get(name)
    if (s === undefined) throw new SwitchyardError('SY_ERR_UNKNOWN_SERVICE', { service: name })
    return s
  }

  private find(id: string): DeploymentRecord {
    const record = this.records.find((r) => r.id === id)
    if (record === undefined) throw new SwitchyardError('SY_ERR_UNKNOWN_DEPLOYMENT', { id })
    return record
  }
}

/** A copy, as the real control answers: a caller's later view must not change under the test. */
function clone(record: DeploymentRecord): DeploymentRecord {
  return structuredClone(record)
}
