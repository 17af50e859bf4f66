import type { Server } from './server.js'

/** How many steps a ramp takes (weights are small integers: finer steps would change nothing). */
const STEPS = 20

/**
 * Slow start: a server that becomes UP gets a share of its weight that grows linearly from 1/STEPS to the
 * whole over `durationMs`, so that a cold server is not flooded at once. `onChange` lets the backend rebuild
 * what depends on weights.
 */
export class SlowStart {
  private readonly ramps = new Map<Server, NodeJS.Timeout>()

  constructor(
    private readonly durationMs: number,
    private readonly onChange: () => void,
  ) {}

  isRamping(server: Server): boolean {
    return this.ramps.has(server)
  }

  start(server: Server): void {
    this.stop(server)
    const started = Date.now()
    const step = (): void => {
      const share = Math.min(1, (Date.now() - started) / this.durationMs)
      server.effectiveWeight = share >= 1 ? server.configuredWeight : rampWeight(server.configuredWeight, share)
      this.onChange()
      if (share >= 1) this.ramps.delete(server)
    }
    server.effectiveWeight = rampWeight(server.configuredWeight, 1 / STEPS)
    const timer = setInterval(() => {
      step()
      if (!this.ramps.has(server)) clearInterval(timer)
    }, Math.max(50, this.durationMs / STEPS))
    timer.unref()
    this.ramps.set(server, timer)
  }

  stop(server: Server): void {
    const timer = this.ramps.get(server)
    if (timer === undefined) return
    clearInterval(timer)
    this.ramps.delete(server)
    server.effectiveWeight = server.configuredWeight
  }

  stopAll(): void {
    for (const server of [...this.ramps.keys()]) this.stop(server)
  }
}

function rampWeight(weight: number, share: number): number {
  return weight === 0 ? 0 : Math.max(1, Math.ceil(weight * share))
}
