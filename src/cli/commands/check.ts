/** `switchyard check`: validates a configuration file without starting anything. */
import { isSwitchyardError } from '../../errors.js'
import { ConfigError, loadConfigFile } from '../../config/load-config.js'

export async function checkCommand(opts: { config: string }): Promise<number> {
  try {
    const config = await loadConfigFile(opts.config)
    const backends = Object.values(config.backends)
    const servers = backends.reduce((sum, backend) => sum + Object.keys(backend.servers).length, 0)
    const summary = [
      count(Object.keys(config.frontends).length, 'frontend'),
      count(backends.length, 'backend'),
      count(servers, 'server'),
    ].join(', ')
    process.stdout.write(`${opts.config}: ok (${summary})\n`)
    return 0
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.format()}\n`)
      return 1
    }
    if (isSwitchyardError(err, 'SY_ERR_CONFIG_READ')) {
      process.stderr.write(`${opts.config}: cannot read the configuration file: ${String(err.params.reason)}\n`)
      return 1
    }
    throw err
  }
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`
}
