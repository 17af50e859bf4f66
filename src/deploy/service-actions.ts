import http from 'node:http'
import { formatHostPort, parseHostPort } from '../config/address.js'
import type { ServiceConfig } from '../config/schema.js'
import type { Logger } from '../log.js'
import { runCommand } from '../providers/command.js'
import type { InstanceRecord, Provider } from '../providers/provider.js'
import { renderShellCommand } from '../providers/template.js'
import type { Backend } from '../runtime/backend.js'
import type { EventBus } from '../runtime/event-bus.js'
import type { ServiceState } from '../runtime/runtime-state.js'
import type { Server } from '../runtime/server.js'
import type { ReleaseActions } from './release-executor.js'
import { splitOptions } from '../runtime/split-options.js'
import { watchCanary } from './canary-watch.js'
import type { ReleaseTraffic } from './release-traffic.js'
import type { Wakeup } from './wakeup.js'

/** How long WebSocket and TCP connections of an instance about to stop may take to close properly. */
const LONG_LIVED_CLOSE_MS = 2500

/** What a service needs from the balancer that hosts it. */
export interface ServiceHost {
  /** The service's backend in the current runtime (a reload replaces it). */
  backend(): Backend | undefined
  state(): ServiceState
  /** Changes the service's persisted state (saved atomically). */
  update(change: (state: ServiceState) => ServiceState): void
  readonly log: Logger
  readonly events: EventBus
}

/**
 * The effects of release steps for one service: instances through its provider, servers through its backend,
 * and the persisted service state (instances, rotation, versions) kept in step with both.
 */
export class ServiceActions implements ReleaseActions {
  private retireTimer: NodeJS.Timeout | undefined
  /** Told once the warm previous release is gone or taken back (a blue/green record then closes its cost). */
  private retireListener: (() => void) | undefined
  private retiring: readonly string[] = []

  constructor(
    private readonly name: string,
    private readonly config: () => ServiceConfig,
    private readonly provider: Provider,
    private readonly host: ServiceHost,
    private readonly traffic: ReleaseTraffic,
  ) {}

  private backend(): Backend {
    const backend = this.host.backend()
    if (backend === undefined) throw new Error(`backend '${this.config().backend}' of service '${this.name}' does not exist`)
    return backend
  }

  private server(name: string): Server {
    const server = this.backend().serverNamed(name)
    if (server === undefined) throw new Error(`server '${name}' is not in backend '${this.config().backend}'`)
    return server
  }

  async startInstance(version: string, signal: AbortSignal): Promise<string> {
    const taken = new Set([...this.backend().servers.map((s) => s.name), ...this.host.state().instances.map((i) => i.id)])
    let index = 1
    while (taken.has(`${this.name}-${version}-${index}`)) index++
    const id = `${this.name}-${version}-${index}`
    const instance = await this.provider.start({ service: this.name, version, index, id }, signal)
    this.host.update((s) => ({ ...s, instances: [...s.instances, instance] }))
    this.addServer(instance)
    this.host.log.info({ event: 'instance.started', service: this.name, instance: id, address: instance.address, version }, `started ${id}`)
    return id
  }

  /** Puts an instance into the backend; without active checks it is probed until it accepts connections. */
  addServer(instance: InstanceRecord): void {
    const backend = this.backend()
    const address = parseHostPort(instance.address)
    if (typeof address === 'string') throw new Error(`instance ${instance.id} has a bad address: ${address}`)
    const server = backend.createServer(instance.id, { address, weight: 1, backup: false, release: instance.version })
    backend.addServers([server])
    this.traffic.noteInstances()
    if (!backend.checked) server.markDown('starting')
  }

  health(name: string): { up: boolean; detail: string } {
    const backend = this.backend()
    const server = backend.serverNamed(name)
    if (server === undefined) return { up: false, detail: 'gone' }
    const last = backend.checkStatus(server)?.last
    return { up: server.health === 'up' && !server.ejected, detail: `${server.state}${last === undefined ? '' : `: ${last.detail}`}` }
  }

  async drain(names: readonly string[], timeoutMs: number): Promise<void> {
    const backend = this.backend()
    const servers = names.map((n) => backend.serverNamed(n)).filter((s): s is Server => s !== undefined)
    for (const server of servers) backend.setAdmin(server, 'drain')
    await Promise.all(servers.map((s) => waitIdle(s, timeoutMs)))
  }

  async stop(names: readonly string[]): Promise<void> {
    const backend = this.backend()
    await closeLongLived(backend, names)
    for (const name of names) {
      const server = backend.serverNamed(name)
      if (server !== undefined) {
        this.traffic.noteInstances()
        this.traffic.retire(server)
        backend.detachServer(server)
        void server.close()
      }
      const instance = this.host.state().instances.find((i) => i.id === name)
      if (instance !== undefined) await this.provider.stop(instance)
      this.host.update((s) => ({ ...s, instances: s.instances.filter((i) => i.id !== name) }))
      this.host.log.info({ event: 'instance.stopped', service: this.name, instance: name }, `stopped ${name}`)
    }
  }

  async deployInPlace(names: readonly string[], version: string, signal: AbortSignal): Promise<void> {
    const backend = this.backend()
    await closeLongLived(backend, names)
    for (const name of names) {
      const server = this.server(name)
      await this.provider.deployInPlace({ name, host: server.address.host, port: server.address.port }, version, signal)
      server.release = version
      this.host.update((s) => ({ ...s, server_versions: { ...s.server_versions, [name]: version } }))
      // The new version must pass its checks before it returns to rotation.
      backend.recheck(server)
    }
  }

  ready(names: readonly string[]): void {
    const backend = this.backend()
    for (const name of names) backend.setAdmin(this.server(name), 'ready')
  }

  rotate(releases: readonly string[] | null): void {
    const rotation = releases === null ? undefined : [...releases]
    this.backend().setRotation(rotation)
    this.host.update((s) => ({ ...s, rotation }))
  }

  switchTo(version: string): void {
    const backend = this.backend()
    backend.setRotation([version])
    backend.preview = undefined
    // All traffic at once: a canary split ends here too.
    backend.setSplit(undefined)
    this.host.update((s) => ({ ...s, rotation: [version], split: undefined, previous: s.version !== version ? s.version : s.previous, version }))
    this.host.log.info({ event: 'release.switched', service: this.name, version }, `${this.name}: all traffic to ${version}`)
  }

  /** Blue/green preview: requests with the header set to `version` reach it before the switch. */
  preview(version: string | undefined): void {
    const header = this.config().strategy.preview_header
    this.backend().preview = version === undefined || header === undefined ? undefined : { header: header.toLowerCase(), version }
  }

  async smoke(version: string, signal: AbortSignal): Promise<void> {
    const config = this.config()
    for (const check of config.strategy.smoke) {
      if (check.command !== undefined) {
        await runCommand(renderShellCommand(check.command, { version, service: this.name }, 'smoke command'), 'smoke command', {
          timeoutMs: config.strategy.healthy_deadline,
          signal,
          env: { SWITCHYARD_SERVICE: this.name, SWITCHYARD_VERSION: version, SWITCHYARD_PREVIEW_HEADER: config.strategy.preview_header ?? '' },
        })
      }
      if (check.path !== undefined) {
        for (const server of this.backend().servers.filter((s) => s.release === version)) {
          const status = await getStatus(`http://${formatHostPort(server.address)}${check.path}`, config.strategy.healthy_deadline, signal)
          if (status !== check.expect_status) throw new Error(`smoke ${check.path} on ${server.name}: expected ${check.expect_status}, got ${status}`)
        }
      }
    }
  }

  setSplit(weights: readonly { readonly release: string; readonly weight: number }[] | null): void {
    const split = weights === null ? undefined : weights.map((w) => ({ release: w.release, weight: w.weight }))
    this.backend().setSplit(split, splitOptions(this.config()))
    this.host.update((s) => ({ ...s, split }))
  }

  analyze(to: string, until: () => boolean, signal: AbortSignal, wakeup: Wakeup): Promise<string> {
    return watchCanary(
      this.traffic,
      to,
      this.config().strategy,
      until,
      signal,
      (verdict) =>
        this.host.log.info({ event: 'canary.window', service: this.name, version: to, verdict: verdict.kind, detail: verdict.kind === 'fail' ? verdict.reasons : verdict.summary }, `canary ${to}: ${verdict.kind}`),
      wakeup,
    )
  }

  retireLater(names: readonly string[]): void {
    this.cancelRetire()
    this.retiring = names
    this.retireListener = undefined
    this.retireTimer = setTimeout(() => void this.retireNow(), this.config().strategy.keep_previous)
    this.retireTimer.unref()
  }

  /** Servers kept warm by a blue/green release (a rollback takes them back). */
  get warm(): readonly string[] {
    return this.retiring
  }

  /** `listener` runs once when the warm servers leave: retired, or taken back by a rollback. */
  onWarmEnded(listener: () => void): void {
    this.retireListener = listener
  }

  cancelRetire(): void {
    clearTimeout(this.retireTimer)
    this.retireTimer = undefined
    this.retiring = []
    const listener = this.retireListener
    this.retireListener = undefined
    listener?.()
  }

  /** Stops the warm previous release now (keep_previous passed, or a new release begins). */
  async retireNow(): Promise<void> {
    const names = this.retiring.filter((n) => this.backend().serverNamed(n) !== undefined)
    const listener = this.retireListener
    this.retireListener = undefined
    this.cancelRetire()
    if (names.length > 0) {
      await this.drain(names, this.config().strategy.drain_timeout)
      await this.stop(names)
      this.host.update((s) => ({ ...s, rotation: undefined }))
      this.backend().setRotation(undefined)
    }
    listener?.()
  }
}

/**
 * Servers about to stop (or be redeployed in place), after their drain: WebSocket and TCP connections still open
 * are asked to go away and get a moment to close properly (a WebSocket client sees 1001, not a cut connection).
 */
async function closeLongLived(backend: Backend, names: readonly string[]): Promise<void> {
  const servers = names.map((n) => backend.serverNamed(n)).filter((s): s is Server => s !== undefined && s.longLivedCount > 0)
  for (const server of servers) server.goAwayNow()
  await Promise.all(servers.map((s) => s.whenLongLivedClosed(LONG_LIVED_CLOSE_MS)))
}

function waitIdle(server: Server, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs)
    timer.unref()
    void server.whenIdle().then(() => {
      clearTimeout(timer)
      resolve()
    })
  })
}

function getStatus(url: string, timeoutMs: number, signal: AbortSignal): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, signal, timeout: timeoutMs }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)))
    req.on('error', reject)
  })
}
