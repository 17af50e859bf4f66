import { appendFileSync } from 'node:fs'

/**
 * One row of the resilience summary: what was done to the balancer, under which load, and what it cost.
 * `npm test` (scripts/run-tests.mjs) prints every row of the run as a table at the end.
 */
export interface ResilienceCase {
  /** What happened, e.g. "server kill -9 under load". */
  readonly case: string
  /** The traffic during the case, e.g. "250 req/s GET, 6 s" or "1 raw connection". */
  readonly load: string
  /** Requests that failed where the promise says none may (or, for hostile input, vectors that were forwarded). */
  readonly failed: number
  /** Balancer processes that crashed or stopped answering. */
  readonly crashes: number
  /** Anything else worth a column: "502 with body, server ejected", "p99 12 ms". */
  readonly note?: string
}

/** Adds a row to the summary file named by SWITCHYARD_RESILIENCE_SUMMARY (a no-op when run outside the runner). */
export function recordCase(row: ResilienceCase): void {
  const file = process.env.SWITCHYARD_RESILIENCE_SUMMARY
  if (file === undefined || file === '') return
  appendFileSync(file, `${JSON.stringify(row)}\n`)
}

/** True under `npm run soak`: cases then run longer and with more load than in `npm test`. */
export const SOAK = process.env.SWITCHYARD_SOAK === '1'

/** `fast` in `npm test`, `long` under `npm run soak`. */
export function soak<T>(fast: T, long: T): T {
  return SOAK ? long : fast
}
