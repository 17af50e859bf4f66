import type { DrainOutcome } from '../admin/balancer-control.js'
import type { Server } from './server.js'

/** Resolves when the server has no request in flight, or after `timeoutMs`, with what was seen. */
export async function drainOutcome(server: Server, timeoutMs: number): Promise<DrainOutcome> {
  const started = Date.now()
  let timer: NodeJS.Timeout | undefined
  const drained = await Promise.race([
    server.whenIdle().then(() => true),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs)
      timer.unref()
    }),
  ])
  clearTimeout(timer)
  return { drained, active: server.active, waited_ms: Date.now() - started }
}
