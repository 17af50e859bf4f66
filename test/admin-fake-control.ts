/**
 * An in-memory BalancerControl for the admin API's tests (our own seam): it keeps server views, validates like the
 * real one (unknown names, duplicates) and lets a test hold requests "in flight" to exercise drains.
 */
import type {
  BalancerControl,
  DrainOutcome,
  NewServer,
  ServerChange,
  ServerView,
  ServiceView,
  StateView,
} from '../src/admin/balancer-control.js'
import { ConfigError } from '../src/config/load-config.js'
import type { DeploymentRecord } from '../src/deploy/deployment-record.js'
import { SwitchyardError } from '../src/errors.js'
import { FakeDeployments } from './admin-fake-deployments.js'

type MutableView = { -readonly [K in keyof ServerView]: ServerView[K] }

export class FakeControl implements BalancerControl {
  readonly backends = new Map<string, Map<string, MutableView>>()
  reloads = 0
  /** When set, the next reload fails with these problems. */
  reloadProblems: ConfigError['problems'] | undefined
  /** Releases of the services given to the constructor (none by default). */
  readonly releases: FakeDeployments
  private readonly idle = new Map<string, (() => void)[]>()

  constructor(servers: Record<string, string[]>, services: Record<string, string | undefined> = {}) {
    this.releases = new FakeDeployments(services)
    for (const [backend, names] of Object.entries(servers)) {
      this.backends.set(backend, new Map())
      names.forEach((name, i) => this.put(backend, { name, address: `127.0.0.1:${40000 + i}` }))
    }
  }

  state(): StateView {
    return {
      frontends: [{ name: 'web', mode: 'http', listen: ['127.0.0.1:8080'], active: 0 }],
      backends: [...this.backends].map(([name, servers]) => ({
        name,
        balance: 'roundrobin',
        queue: { current: 0, max: 0, limit: 1000 },
        retries: 2,
        servers: [...servers.values()].map((s) => ({ ...s })),
      })),
      services: this.releases.services().map((s): ServiceView => ({ ...s, backend: s.name })),
    }
  }

  server(backend: string, server: string): ServerView {
    return { ...this.find(backend, server) }
  }

  changeServer(backend: string, server: string, change: ServerChange): ServerView {
    const view = this.find(backend, server)
    if (change.admin !== undefined) {
      view.admin = change.admin
      view.state = change.admin === 'ready' ? 'UP' : change.admin === 'drain' ? 'DRAIN' : 'MAINT'
    }
    if (change.weight !== undefined) view.weight = view.effective_weight = change.weight
    return { ...view }
  }

  async waitDrained(backend: string, server: string, timeoutMs: number): Promise<DrainOutcome> {
    const view = this.find(backend, server)
    const started = Date.now()
    if (view.active > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs)
        const key = `${backend}/${server}`
        this.idle.set(key, [...(this.idle.get(key) ?? []), () => (clearTimeout(timer), resolve())])
      })
    }
    return { drained: view.active === 0, active: view.active, waited_ms: Date.now() - started }
  }

  addServer(backend: string, server: NewServer): ServerView {
    const servers = this.backends.get(backend)
    if (servers === undefined) throw new SwitchyardError('SY_ERR_UNKNOWN_BACKEND', { backend })
    if (servers.has(server.name)) throw new SwitchyardError('SY_ERR_SERVER_EXISTS', { backend, server: server.name })
    return { ...this.put(backend, server, 'STARTING') }
  }

  async removeServer(backend: string, server: string, timeoutMs: number): Promise<DrainOutcome> {
    this.changeServer(backend, server, { admin: 'drain' })
    const outcome = await this.waitDrained(backend, server, timeoutMs)
    this.backends.get(backend)!.delete(server)
    return outcome
  }

  async reload(): Promise<void> {
    const problems = this.reloadProblems
    this.reloadProblems = undefined
    if (problems !== undefined) throw new ConfigError(problems)
    this.reloads++
  }

  deploy(service: string, version: string, strategy?: string): DeploymentRecord {
    return this.releases.deploy(service, version, strategy)
  }

  rollback(service: string): DeploymentRecord {
    return this.releases.rollback(service)
  }

  async deployment(id: string): Promise<DeploymentRecord> {
    return this.releases.get(id)
  }

  async deployments(service?: string): Promise<DeploymentRecord[]> {
    return this.releases.list(service)
  }

  async steerDeployment(id: string, action: 'pause' | 'resume' | 'abort' | 'promote'): Promise<DeploymentRecord> {
    return this.releases.steer(id, action)
  }

  /** Puts `n` requests in flight on a server. */
  hold(backend: string, server: string, n: number): void {
    this.find(backend, server).active = n
  }

  /** Finishes every request in flight on a server. */
  finish(backend: string, server: string): void {
    this.find(backend, server).active = 0
    const key = `${backend}/${server}`
    for (const wake of this.idle.get(key) ?? []) wake()
    this.idle.delete(key)
  }

  private find(backend: string, server: string): MutableView {
    const servers = this.backends.get(backend)
    if (servers === undefined) throw new SwitchyardError('SY_ERR_UNKNOWN_BACKEND', { backend })
    const view = servers.get(server)
    if (view === undefined) throw new SwitchyardError('SY_ERR_UNKNOWN_SERVER', { backend, server })
    return view
  }

  private put(backend: string, server: NewServer, state: ServerView['state'] = 'UP'): MutableView {
    const weight = server.weight ?? 1
    const view: MutableView = {
      name: server.name,
      backend,
      address: server.address,
      weight,
      effective_weight: weight,
      backup: server.backup ?? false,
      admin: 'ready',
      health: state === 'UP' ? 'up' : 'unchecked',
      state,
      active: 0,
      requests: 0,
      failures: 0,
      max_connections: server.max_connections ?? 0,
      last_change: Date.now(),
      last_check: null,
      release: null,
    }
    this.backends.get(backend)!.set(server.name, view)
    return view
  }
}
