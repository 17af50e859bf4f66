import type { ServiceConfig } from '../config/schema.js'

/** The sticky cookie and tester header of a service's canary, as its backend applies them to a split. */
export function splitOptions(config: ServiceConfig): { cookie: string | undefined; forceHeader: string | undefined } {
  return { cookie: config.strategy.sticky?.cookie, forceHeader: config.strategy.force_header?.toLowerCase() }
}
