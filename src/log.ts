import { pino, type Logger } from 'pino'

export type { Logger }

/**
 * The balancer's own log: JSON lines on stdout (pino writes asynchronously, off the request path).
 * Events carry an `event` field (e.g. "server.down") so that they can be filtered.
 */
export function createLogger(options: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const level = options.level ?? process.env.SWITCHYARD_LOG_LEVEL ?? 'info'
  return pino(
    { level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  )
}

/** A logger that drops everything (library use and tests that do not read logs). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' })
}
