import tls from 'node:tls'
import { attempt, describeError } from './check-attempt.js'
import type { CheckResult, CheckTarget, HealthCheck } from './health-check.js'
import type { HttpCheckSettings, TlsCheckSettings } from './health-defaults.js'
import { HttpCheck, serverName } from './http-check.js'

/**
 * Passes when a TLS handshake completes (with certificate verification unless `verify` is false). With HTTP
 * settings (a `path` in the configuration) it is an HTTP check over TLS instead, e.g. `GET /healthz` expecting 200.
 */
export class TlsCheck implements HealthCheck {
  private readonly overHttp: HttpCheck | undefined

  constructor(
    private readonly timeoutMs: number,
    private readonly tls: TlsCheckSettings,
    http?: HttpCheckSettings,
  ) {
    this.overHttp = http === undefined ? undefined : new HttpCheck({ timeoutMs, http, tls })
  }

  run(target: CheckTarget, signal: AbortSignal): Promise<CheckResult> {
    if (this.overHttp !== undefined) return this.overHttp.run(target, signal)
    return attempt(this.timeoutMs, signal, (settle) => {
      const socket = tls.connect({
        host: target.host,
        port: target.port,
        servername: serverName(this.tls.sni ?? target.host),
        rejectUnauthorized: this.tls.verify,
        ca: this.tls.ca,
      })
      let handshakeDone = false
      socket.once('secureConnect', () => {
        handshakeDone = true
        settle(true, `TLS handshake ok (${socket.getProtocol() ?? 'unknown protocol'})`)
      })
      socket.on('error', (err) => settle(false, describeError(err)))
      return () => {
        if (!handshakeDone) return socket.destroy()
        // A graceful end lets our last handshake message and close_notify reach the server, which would otherwise
        // log a failed handshake for every check (TLS 1.3 completes the client side first).
        socket.setTimeout(this.timeoutMs, () => socket.destroy())
        socket.end()
      }
    })
  }
}
