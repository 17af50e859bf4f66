/**
 * `static`: the backend's fixed servers stay; a release runs `deploy_command` once per server, in place (e.g. an
 * ssh line). The strategy drains a server before and health-checks it after.
 */
import type { ProviderConfig } from '../config/schema.js'
import { runCommand } from './command.js'
import type { ProviderOptions } from './provider-options.js'
import type { FixedServer, InstanceRecord, Provider, StartRequest } from './provider.js'
import { renderShellCommand } from './template.js'

export type StaticProviderConfig = Extract<ProviderConfig, { type: 'static' }>

export class StaticProvider implements Provider {
  readonly type = 'static'
  readonly startsInstances = false

  constructor(
    private readonly service: string,
    private config: StaticProviderConfig,
    _options: ProviderOptions,
  ) {}

  start(request: StartRequest, _signal: AbortSignal): Promise<InstanceRecord> {
    return Promise.reject(
      new Error(
        `service ${this.service} uses the static provider, which does not start instances (asked for ${request.id}): ` +
          "it deploys in place on the backend's servers with deploy_command",
      ),
    )
  }

  /** Nothing to stop: the fixed servers are not Switchyard's to end. */
  async stop(_instance: InstanceRecord): Promise<void> {}

  /** It starts no instances, so none are its to adopt. */
  async adopt(_instances: readonly InstanceRecord[]): Promise<InstanceRecord[]> {
    return []
  }

  async deployInPlace(server: FixedServer, version: string, signal: AbortSignal): Promise<void> {
    const what = `deploy_command for server ${server.name} (service ${this.service}, version ${version})`
    const values = { server: server.name, host: server.host, port: server.port, version, service: this.service }
    const command = renderShellCommand(this.config.deploy_command, values, what)
    const env = {
      SWITCHYARD_SERVICE: this.service,
      SWITCHYARD_SERVER: server.name,
      SWITCHYARD_HOST: server.host,
      SWITCHYARD_PORT: String(server.port),
      SWITCHYARD_VERSION: version,
    }
    await runCommand(command, what, { timeoutMs: this.config.command_timeout, signal, env })
  }

  reconfigure(config: ProviderConfig): boolean {
    if (config.type !== 'static') return false
    this.config = config
    return true
  }

  async close(): Promise<void> {}
}
