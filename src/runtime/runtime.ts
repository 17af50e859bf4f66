import type { Config } from '../config/schema.js'
import type { Logger } from '../log.js'
import { Backend } from './backend.js'

/**
 * The live graph built from one configuration snapshot: backends with their servers, balancers and queues.
 * Frontends read it per request; nothing here is shared with another runtime.
 */
export class Runtime {
  readonly config: Config
  readonly backends: ReadonlyMap<string, Backend>

  constructor(config: Config, log: Logger) {
    this.config = config
    this.backends = new Map(Object.entries(config.backends).map(([name, backend]) => [name, new Backend(name, backend, log)]))
  }

  async close(): Promise<void> {
    await Promise.all([...this.backends.values()].map((b) => b.close()))
  }
}
