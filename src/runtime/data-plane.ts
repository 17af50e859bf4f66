import { formatHostPort, type HostPort } from '../config/address.js'
import type { Config, FrontendConfig } from '../config/schema.js'
import { SwitchyardError } from '../errors.js'
import type { Logger } from '../log.js'
import { listenerChange, type Frontend } from '../proxy/frontend.js'
import { tlsSetupFor } from '../proxy/tls-setup.js'
import type { Backend, ControlLink } from './backend.js'
import { drainOutcome } from './drain-outcome.js'
import type { EventBus } from './event-bus.js'
import type { RuntimeState } from './runtime-state.js'
import { Runtime } from './runtime.js'
import type { Server } from './server.js'

/** How long a server removed by a reload may take to finish its requests before its pool is closed. */
export const REMOVED_SERVER_DRAIN_MS = 30_000

export interface DataPlaneOptions {
  readonly log: Logger
  readonly events: EventBus
  /** Builds a frontend (a real one, or the control plane's view of one that workers serve). */
  readonly createFrontend: (name: string, config: FrontendConfig, runtime: Runtime) => Frontend
  /** In a data-plane worker: where its backends send what they see (they decide nothing themselves). */
  readonly control?: ControlLink
}

/**
 * The runtime and the frontends serving it, and the swap a reload makes: listeners are kept (or opened/closed
 * when frontends change), unchanged servers keep health, counters and pools, queued requests move to the new
 * backends, removed servers drain. The balancer's own process and each data-plane worker hold one.
 */
export class DataPlane {
  runtime: Runtime
  readonly frontends = new Map<string, Frontend>()
  private readonly options: DataPlaneOptions

  constructor(config: Config, state: RuntimeState, options: DataPlaneOptions) {
    this.options = options
    this.runtime = new Runtime(config, options.log, state, options.events, undefined, options.control)
    for (const [name, fe] of Object.entries(config.frontends)) this.frontends.set(name, options.createFrontend(name, fe, this.runtime))
  }

  async listen(): Promise<void> {
    for (const frontend of this.frontends.values()) await frontend.listen()
  }

  /**
   * Swaps in `next`. Nothing changes when a kept listener would have to speak another protocol, a certificate
   * went bad or a new listener cannot bind. `beforeRetire` runs once the new runtime serves, before the previous
   * one stops its checks. Returns the servers left behind (draining).
   */
  async swap(next: Config, state: RuntimeState, beforeRetire: () => Promise<void> = async () => undefined): Promise<Server[]> {
    const previous = this.runtime
    for (const [name, fe] of Object.entries(next.frontends)) {
      const current = this.frontends.get(name)
      if (current === undefined || !sameListen(current.config.listen, fe.listen)) continue
      const change = listenerChange(current.config, fe)
      if (change !== undefined) throw new SwitchyardError('SY_ERR_RELOAD_NEEDS_RESTART', { frontend: name, change })
    }
    // Certificates are read before anything changes: a file that went bad since it was checked fails the reload.
    for (const fe of Object.values(next.frontends)) if (fe.tls !== undefined) tlsSetupFor(fe.tls)
    const runtime = new Runtime(next, this.options.log, state, this.options.events, previous, this.options.control)
    // New listeners first: if one cannot bind, nothing has changed yet.
    const opened = new Map<string, Frontend>()
    try {
      for (const [name, fe] of Object.entries(next.frontends)) {
        const current = this.frontends.get(name)
        if (current !== undefined && sameListen(current.config.listen, fe.listen)) continue
        const frontend = this.options.createFrontend(name, fe, runtime)
        await frontend.listen()
        opened.set(name, frontend)
      }
    } catch (err) {
      await Promise.all([...opened.values()].map((fe) => fe.close(0)))
      runtime.retire()
      throw err
    }
    for (const [name, fe] of Object.entries(next.frontends)) this.frontends.get(name)?.useConfig(fe, runtime)
    this.runtime = runtime
    for (const [name, backend] of runtime.backends) {
      const old = previous.backends.get(name)
      if (old !== undefined) backend.queue.adopt(old.queue, (waiter) => (waiter as { rebind?: (b: Backend) => void }).rebind?.(backend))
    }
    for (const [name, frontend] of [...this.frontends]) {
      const replacement = opened.get(name)
      if (replacement === undefined && next.frontends[name] !== undefined) continue
      this.frontends.delete(name)
      void frontend.close(REMOVED_SERVER_DRAIN_MS)
    }
    for (const [name, frontend] of opened) this.frontends.set(name, frontend)
    await beforeRetire()
    previous.retire()
    for (const backend of previous.backends.values()) if (!runtime.backends.has(backend.name)) backend.queue.expireAll()
    const leftBehind = runtime.leftBehind(previous)
    for (const server of leftBehind) {
      // Long-lived connections (WebSocket, TCP) get the backend's drain_timeout (the new file's when the backend
      // stays), then a proper close; the pool closes once requests in flight are done.
      server.goAwayAfter((runtime.backends.get(server.backendName) ?? previous.backends.get(server.backendName))!.config.drain_timeout)
      void drainOutcome(server, REMOVED_SERVER_DRAIN_MS).then(() => server.close())
    }
    return leftBehind
  }

  /** Graceful stop of the frontends: stop accepting, let what is in flight finish for up to `graceMs`. */
  async closeFrontends(graceMs: number): Promise<void> {
    await Promise.all([...this.frontends.values()].map((fe) => fe.close(graceMs)))
  }
}

function sameListen(a: readonly HostPort[], b: readonly HostPort[]): boolean {
  return a.map(formatHostPort).join(',') === b.map(formatHostPort).join(',')
}
