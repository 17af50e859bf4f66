import { parseDuration } from '../config/units.js'
import { SwitchyardError } from '../errors.js'

/** How long a drain may be waited for when the request does not say. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000
/** A longer wait is almost certainly a mistake, and would pin a request (and a timer) for hours. */
export const MAX_DRAIN_TIMEOUT_MS = 3_600_000

/** Rejects query parameters a write does not know, like unknown body fields. */
export function allowOnly(query: URLSearchParams, allowed: readonly string[]): void {
  for (const key of query.keys()) {
    if (!allowed.includes(key)) {
      throw new SwitchyardError('SY_ERR_BAD_REQUEST', { reason: `unknown query parameter '${key}'` })
    }
  }
}

/** `wait=1|true|0|false`; absent means false. */
export function waitParam(query: URLSearchParams): boolean {
  const value = query.get('wait')
  if (value === null || value === '0' || value === 'false') return false
  if (value === '1' || value === 'true') return true
  throw new SwitchyardError('SY_ERR_BAD_REQUEST', { reason: `wait must be 1 or 0, got '${value}'` })
}

/** `timeout=30s` style duration in milliseconds; absent means the default. */
export function timeoutParam(query: URLSearchParams): number {
  const value = query.get('timeout')
  if (value === null) return DEFAULT_DRAIN_TIMEOUT_MS
  const ms = parseDuration(value)
  if (ms === undefined) {
    throw new SwitchyardError('SY_ERR_BAD_REQUEST', { reason: `timeout '${value}' is not a duration (write it like 500ms, 30s or 2m)` })
  }
  if (ms > MAX_DRAIN_TIMEOUT_MS) throw new SwitchyardError('SY_ERR_BAD_REQUEST', { reason: `timeout '${value}' is longer than 1h` })
  return ms
}
