/**
 * Where the `ha` commands find the balancer's state folder (for the role file and the track file): `--state-dir`,
 * else the `state_dir` of the configuration named by `-c`, resolved the way the balancer resolves it (relative
 * to the configuration file's folder).
 */
import { dirname, isAbsolute, resolve } from 'node:path'

export interface StateDirOptions {
  readonly stateDir?: string
  readonly config?: string
}

/** The rule of LoadBalancer: an absolute state_dir as is, a relative one from the configuration file's folder. */
export function stateDirOf(stateDir: string, configFile: string): string {
  return isAbsolute(stateDir) ? stateDir : resolve(dirname(resolve(configFile)), stateDir)
}

/** The absolute state folder, or undefined when neither option names one. The loader is imported only for -c. */
export async function resolveStateDir(options: StateDirOptions): Promise<string | undefined> {
  if (options.stateDir !== undefined) return resolve(options.stateDir)
  if (options.config === undefined) return undefined
  const { loadConfigFile } = await import('../config/load-config.js')
  const config = await loadConfigFile(options.config)
  return stateDirOf(config.state_dir, options.config)
}
