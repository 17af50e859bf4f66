import { performance } from 'node:perf_hooks'
import type { CheckResult } from './health-check.js'

export type Settle = (ok: boolean, detail: string, code?: number) => void

/**
 * The shared skeleton of every check, so that each one honours the same promise: `start` begins the work and calls
 * `settle` once; the attempt also fails at `timeoutMs` or when `signal` aborts. Only the first outcome counts, and
 * the cleanup returned by `start` (close the socket, kill the process) runs exactly once, whatever ended the attempt.
 * A throwing `start` is a failed result, never a rejection.
 */
export function attempt(timeoutMs: number, signal: AbortSignal, start: (settle: Settle) => () => void): Promise<CheckResult> {
  const began = performance.now()
  const result = (ok: boolean, detail: string, code?: number): CheckResult => {
    const durationMs = Math.round((performance.now() - began) * 100) / 100
    return code === undefined ? { ok, durationMs, detail } : { ok, durationMs, detail, code }
  }
  if (signal.aborted) return Promise.resolve(result(false, 'aborted'))

  return new Promise<CheckResult>((resolve) => {
    let settled = false
    let cleanup: (() => void) | undefined
    let cleaned = false
    const runCleanup = (): void => {
      if (cleanup === undefined || cleaned) return
      cleaned = true
      try {
        cleanup()
      } catch {
        // Releasing an already broken socket or process may throw; the outcome is already decided.
      }
    }
    const onAbort = (): void => settle(false, 'aborted')
    const timer = setTimeout(() => settle(false, `timeout after ${timeoutMs}ms`), timeoutMs)
    const settle: Settle = (ok, detail, code) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      signal.removeEventListener('abort', onAbort)
      runCleanup()
      resolve(result(ok, detail, code))
    }
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      cleanup = start(settle)
    } catch (err) {
      settle(false, describeError(err))
    }
    // `start` may have settled synchronously, before its cleanup was known.
    if (settled) runCleanup()
  })
}

/**
 * "ECONNREFUSED"; "CODE: message" when the message adds something (certificate errors); OpenSSL errors give their
 * short `reason` instead of the library's multi-line text.
 */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  const { code, reason } = err as NodeJS.ErrnoException & { reason?: unknown }
  const message = typeof reason === 'string' && reason !== '' ? reason : (err.message.split('\n')[0] ?? '').trim()
  if (typeof code !== 'string' || code === '') return message
  return message === '' || message.includes(code) ? code : `${code}: ${message}`
}
