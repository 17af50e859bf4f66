import { ExecCheck } from './exec-check.js'
import type { CheckTarget, HealthCheck } from './health-check.js'
import type { HealthSettings } from './health-defaults.js'
import { HttpCheck } from './http-check.js'
import { TcpCheck } from './tcp-check.js'
import { TlsCheck } from './tls-check.js'

/** The check described by `settings`, or undefined for type 'none' (no active checks). */
export function createHealthCheck(settings: HealthSettings): HealthCheck | undefined {
  const check = baseCheck(settings)
  if (check === undefined || settings.port === undefined) return check
  const port = settings.port
  return { run: (target: CheckTarget, signal: AbortSignal) => check.run({ ...target, port }, signal) }
}

function baseCheck(settings: HealthSettings): HealthCheck | undefined {
  switch (settings.type) {
    case 'none':
      return undefined
    case 'tcp':
      return new TcpCheck(settings.timeout)
    case 'http':
      return new HttpCheck({ timeoutMs: settings.timeout, http: settings.http })
    case 'tls':
      return new TlsCheck(settings.timeout, settings.tls, settings.http)
    case 'exec':
      return new ExecCheck(settings.timeout, settings.command)
  }
}
