import { loadConfigFile } from '../../config/load-config.js'
import { isSwitchyardError } from '../../errors.js'
import { createLogger, type Logger } from '../../log.js'
import { LoadBalancer } from '../../load-balancer.js'

/** How long in-flight requests may take to finish after SIGTERM/SIGINT. */
const STOP_GRACE_MS = 30_000

function flushLog(log: Logger): Promise<void> {
  return new Promise((resolve) => log.flush(() => resolve()))
}

/** `switchyard run`: serve until SIGTERM or SIGINT, then stop gracefully; exit code 0 after a clean stop. */
export async function runCommand(opts: { config: string }): Promise<number> {
  const log = createLogger()
  let lb: LoadBalancer
  try {
    const config = await loadConfigFile(opts.config)
    lb = await LoadBalancer.start(config, { log, configFile: opts.config })
  } catch (err) {
    const text = isSwitchyardError(err) && 'format' in err && typeof err.format === 'function' ? String(err.format()) : err instanceof Error ? err.message : String(err)
    process.stderr.write(`${text}\n`)
    log.error({ event: 'start.failed', code: isSwitchyardError(err) ? err.code : undefined }, text)
    await flushLog(log)
    return 1
  }
  const grace = Number(process.env.SWITCHYARD_STOP_GRACE_MS ?? STOP_GRACE_MS)
  return new Promise<number>((resolve) => {
    let stopping = false
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) return
      stopping = true
      log.info({ event: 'signal', signal }, `received ${signal}`)
      lb.stop(grace).then(
        () => flushLog(log).then(() => resolve(0)),
        (err: unknown) => {
          log.error({ event: 'stop.failed', err }, 'stop failed')
          resolve(1)
        },
      )
    }
    process.on('SIGTERM', stop)
    process.on('SIGINT', stop)
    process.on('SIGHUP', () => {
      lb.reload().catch((err: unknown) => {
        const text = err instanceof Error ? err.message : String(err)
        log.error({ event: 'reload.failed', code: isSwitchyardError(err) ? err.code : undefined }, `reload failed, the running configuration stays: ${text}`)
      })
    })
  })
}
