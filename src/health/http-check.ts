import http from 'node:http'
import https from 'node:https'
import net from 'node:net'
import { attempt, describeError, type Settle } from './check-attempt.js'
import type { CheckResult, CheckTarget, HealthCheck } from './health-check.js'
import type { HttpCheckSettings, TlsCheckSettings } from './health-defaults.js'
import { bodyMatches, statusMatches } from './http-expectation.js'

/** Only this much of a body is read: a health endpoint that streams megabytes must not cost the balancer memory. */
export const MAX_CHECK_BODY = 64 * 1024

export interface HttpCheckOptions {
  readonly timeoutMs: number
  readonly http: HttpCheckSettings
  /** When set, the request goes over TLS (a `tls` check with a path). */
  readonly tls?: TlsCheckSettings | undefined
}

/**
 * One HTTP request on a fresh connection (no agent, `Connection: close`: a check must see the server as a new
 * client would, and must not keep sockets open). Passes when the status and, if asked, the body match.
 */
export class HttpCheck implements HealthCheck {
  constructor(private readonly options: HttpCheckOptions) {}

  run(target: CheckTarget, signal: AbortSignal): Promise<CheckResult> {
    const { http: expect, tls } = this.options
    return attempt(this.options.timeoutMs, signal, (settle) => {
      const hostHeader = expect.host ?? tls?.sni ?? formatAddress(target)
      const common: http.RequestOptions = {
        host: target.host,
        port: target.port,
        method: expect.method,
        path: expect.path,
        headers: { host: hostHeader, 'user-agent': 'switchyard-health-check', connection: 'close' },
        agent: false,
      }
      const req =
        tls === undefined
          ? http.request(common)
          : https.request({ ...common, servername: serverName(tls.sni ?? hostOf(hostHeader)), rejectUnauthorized: tls.verify, ca: tls.ca })
      req.once('response', (res) => this.judge(res, settle))
      req.on('error', (err) => settle(false, describeError(err)))
      req.end()
      return () => req.destroy()
    })
  }

  private judge(res: http.IncomingMessage, settle: Settle): void {
    const { expectStatus, expectBody } = this.options.http
    const status = res.statusCode ?? 0
    if (!statusMatches(expectStatus, status)) return settle(false, `HTTP ${status} (expected ${expectStatus.text})`, status)
    if (expectBody === undefined) return settle(true, `HTTP ${status}`, status)

    const chunks: Buffer[] = []
    let size = 0
    const decide = (): void => {
      const body = Buffer.concat(chunks).toString('utf8')
      if (bodyMatches(expectBody, body)) settle(true, `HTTP ${status}`, status)
      else settle(false, `HTTP ${status}, body does not ${expectBody.kind === 'regex' ? 'match' : 'contain'} ${expectBody.text}`, status)
    }
    res.on('data', (chunk: Buffer) => {
      const room = MAX_CHECK_BODY - size
      chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk)
      size += Math.min(chunk.length, room)
      if (size >= MAX_CHECK_BODY) decide()
    })
    res.once('end', decide)
    res.on('error', (err) => settle(false, describeError(err)))
  }
}

function formatAddress(target: CheckTarget): string {
  return net.isIPv6(target.host) ? `[${target.host}]:${target.port}` : `${target.host}:${target.port}`
}

function hostOf(hostHeader: string): string {
  const bracketed = /^\[([^\]]+)\]/.exec(hostHeader)
  if (bracketed !== null) return bracketed[1]!
  const colon = hostHeader.lastIndexOf(':')
  return colon < 0 ? hostHeader : hostHeader.slice(0, colon)
}

/** SNI carries host names only; '' tells node not to send one (for an IP address). */
export function serverName(host: string): string {
  return net.isIP(host) === 0 ? host : ''
}
