import type { ProviderObserver } from './provider.js'

/** A structured log line: fields first, then the message (the shape of pino's `logger.info(obj, msg)`). */
export type ProviderLog = (event: Record<string, unknown>, msg: string) => void

/** What every provider gets besides its config. */
export interface ProviderOptions {
  /** The balancer's state_dir; the process provider keeps instance logs under `logs/`. */
  readonly stateDir: string
  readonly observer?: ProviderObserver | undefined
  readonly log?: ProviderLog | undefined
}
