/**
 * One active health check: given a server address, says whether the server is fit for traffic.
 * Implementations (tcp, http, tls, exec) share one contract (test/health-contract.test.ts).
 */

/** The server being checked. `name` is "backend/server" and is only used for reporting (and exec's environment). */
export interface CheckTarget {
  readonly host: string
  readonly port: number
  readonly name: string
}

/** The outcome of one check. `detail` says why, e.g. "HTTP 500 (expected 2xx)", "ECONNREFUSED", "timeout after 1000ms", "exit 1". */
export interface CheckResult {
  readonly ok: boolean
  readonly durationMs: number
  readonly detail: string
  /** The HTTP status or the exit code, when there was one. */
  readonly code?: number
}

export interface HealthCheck {
  /** Never rejects: every failure, the timeout and an abort end in a failed result, after the check's resources are released. */
  run(target: CheckTarget, signal: AbortSignal): Promise<CheckResult>
}
