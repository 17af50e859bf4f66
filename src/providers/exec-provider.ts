/**
 * `exec`: any tool starts and stops instances (a cloud CLI, a container engine, ssh). `start_command` prints the new
 * instance's host:port on its last line of output; `stop_command` gets that address back. Switchyard does not
 * watch these instances: their health checks do.
 */
import type { ProviderConfig } from '../config/schema.js'
import { formatHostPort, parseHostPort } from '../config/address.js'
import { lastLines, runCommand } from './command.js'
import type { ProviderOptions } from './provider-options.js'
import type { FixedServer, InstanceRecord, Provider, StartRequest } from './provider.js'
import { renderShellCommand } from './template.js'

export type ExecProviderConfig = Extract<ProviderConfig, { type: 'exec' }>

export class ExecProvider implements Provider {
  readonly type = 'exec'
  readonly startsInstances = true

  constructor(
    private readonly service: string,
    private config: ExecProviderConfig,
    _options: ProviderOptions,
  ) {}

  async start(request: StartRequest, signal: AbortSignal): Promise<InstanceRecord> {
    const what = `start_command of ${request.id} (service ${this.service})`
    const values = { service: request.service, version: request.version, instance: request.index, id: request.id }
    const command = renderShellCommand(this.config.start_command, values, what)
    const env = {
      SWITCHYARD_SERVICE: request.service,
      SWITCHYARD_VERSION: request.version,
      SWITCHYARD_INSTANCE: String(request.index),
      SWITCHYARD_INSTANCE_ID: request.id,
    }
    const { stdout } = await runCommand(command, what, { timeoutMs: this.config.command_timeout, signal, env })
    const last = lastLines(stdout, 1)[0]?.trim()
    const address = last === undefined ? 'no output' : parseHostPort(last)
    if (typeof address === 'string' || address.port === 0) {
      throw new Error(
        `${what} must print the new instance's host:port (e.g. 10.0.0.7:8080) on its last line of output, ` +
          `but its output ended with ${last === undefined ? 'nothing' : JSON.stringify(last)}; ` +
          'an instance it may have started is not known to Switchyard',
      )
    }
    return { id: request.id, service: request.service, version: request.version, address: formatHostPort(address), started_at: Date.now() }
  }

  /** Runs stop_command; it must also succeed for an instance that is already gone (only it can tell). */
  async stop(instance: InstanceRecord): Promise<void> {
    const what = `stop_command of ${instance.id} (service ${this.service})`
    const parsed = parseHostPort(instance.address)
    const { host, port } = typeof parsed === 'string' ? { host: instance.address, port: '' } : parsed
    const values = { address: instance.address, host, port, version: instance.version, id: instance.id, service: instance.service }
    const command = renderShellCommand(this.config.stop_command, values, what)
    const env = {
      SWITCHYARD_SERVICE: instance.service,
      SWITCHYARD_VERSION: instance.version,
      SWITCHYARD_INSTANCE_ID: instance.id,
      SWITCHYARD_ADDRESS: instance.address,
      SWITCHYARD_HOST: host,
      SWITCHYARD_PORT: String(port),
    }
    await runCommand(command, what, { timeoutMs: this.config.command_timeout, env })
  }

  /** The recorded instances as they are: only their health checks can tell whether they still run. */
  async adopt(instances: readonly InstanceRecord[]): Promise<InstanceRecord[]> {
    return [...instances]
  }

  deployInPlace(_server: FixedServer, _version: string, _signal: AbortSignal): Promise<void> {
    return Promise.reject(new Error(`service ${this.service}: the exec provider starts new instances; it does not deploy in place`))
  }

  reconfigure(config: ProviderConfig): boolean {
    if (config.type !== 'exec') return false
    this.config = config
    return true
  }

  async close(): Promise<void> {}
}
