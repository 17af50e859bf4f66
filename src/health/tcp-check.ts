import net from 'node:net'
import { attempt, describeError } from './check-attempt.js'
import type { CheckResult, CheckTarget, HealthCheck } from './health-check.js'

/** Passes when a TCP connection can be opened. Only proves that something listens (see HttpCheck for more). */
export class TcpCheck implements HealthCheck {
  constructor(private readonly timeoutMs: number) {}

  run(target: CheckTarget, signal: AbortSignal): Promise<CheckResult> {
    return attempt(this.timeoutMs, signal, (settle) => {
      const socket = net.connect({ host: target.host, port: target.port })
      socket.once('connect', () => settle(true, 'connected'))
      socket.on('error', (err) => settle(false, describeError(err)))
      return () => socket.destroy()
    })
  }
}
