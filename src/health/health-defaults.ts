/**
 * Every default of active health checking, in one place, and the resolved settings the checks and the monitor use.
 * The values follow HAProxy's (inter 2s, fastinter/downinter, rise 2, fall 3) so that operators' habits carry over.
 */
import { readFileSync } from 'node:fs'
import type { HealthConfig } from '../config/schema.js'
import {
  parseBodyExpectation,
  parseStatusExpectation,
  type BodyExpectation,
  type StatusExpectation,
} from './http-expectation.js'

export const HEALTH_DEFAULTS = {
  /** Time between two checks of a server that is stably up. */
  interval: 2000,
  /** fast_interval = interval / 4 ... */
  fastIntervalDivisor: 4,
  /**
   * ... but at least 250ms (and never more than interval): used while a server is transitional or STARTING.
   * down_interval (between checks of a server that is stably down) defaults to interval.
   */
  fastIntervalMin: 250,
  /** Time one check may take; a slower answer is a failure. */
  timeout: 1000,
  /** Consecutive passes that bring a down or unchecked server up. */
  rise: 2,
  /** Consecutive failures that take an up (or unchecked) server down. */
  fall: 3,
  /** HTTP request of an http check (and of a tls check with a path). */
  method: 'GET',
  path: '/',
  /** Any 2xx answer passes. */
  expectStatus: '2xx',
  /** TLS certificates are verified unless `verify: false`. */
  verify: true,
} as const

export type HealthCheckType = HealthConfig['type']

export interface HttpCheckSettings {
  readonly method: string
  readonly path: string
  /** Host header; when unset, the sni (for TLS) or the checked address. */
  readonly host: string | undefined
  readonly expectStatus: StatusExpectation
  readonly expectBody: BodyExpectation | undefined
}

export interface TlsCheckSettings {
  readonly sni: string | undefined
  readonly verify: boolean
  /** CA certificates to trust instead of the system's (PEM, read once when the settings are resolved). */
  readonly ca: Buffer | undefined
}

interface Timing {
  readonly interval: number
  readonly fastInterval: number
  readonly downInterval: number
  readonly timeout: number
  readonly rise: number
  readonly fall: number
  /** Checks go to this port instead of the server's own. */
  readonly port: number | undefined
}

/** Resolved health settings: all durations in milliseconds, every default applied. */
export type HealthSettings = Timing &
  (
    | { readonly type: 'none' }
    | { readonly type: 'tcp' }
    | { readonly type: 'http'; readonly http: HttpCheckSettings }
    /** With `http`, the HTTP check runs over the TLS connection. */
    | { readonly type: 'tls'; readonly tls: TlsCheckSettings; readonly http: HttpCheckSettings | undefined }
    | { readonly type: 'exec'; readonly command: string }
  )

/**
 * Applies the defaults to a backend's `health:` section (already parsed: durations in ms). No section means no
 * active checks (type 'none'). Throws a TypeError for values the schema lets through but that cannot work
 * (a bad expect_status or expect_body, an exec check without a command).
 */
export function resolveHealthSettings(config: HealthConfig | undefined): HealthSettings {
  const interval = config?.interval ?? HEALTH_DEFAULTS.interval
  const timing: Timing = {
    interval,
    fastInterval:
      config?.fast_interval ??
      Math.min(interval, Math.max(HEALTH_DEFAULTS.fastIntervalMin, interval / HEALTH_DEFAULTS.fastIntervalDivisor)),
    downInterval: config?.down_interval ?? interval,
    timeout: config?.timeout ?? HEALTH_DEFAULTS.timeout,
    rise: config?.rise ?? HEALTH_DEFAULTS.rise,
    fall: config?.fall ?? HEALTH_DEFAULTS.fall,
    port: config?.port,
  }
  switch (config?.type ?? 'none') {
    case 'none':
      return Object.freeze({ ...timing, type: 'none' })
    case 'tcp':
      return Object.freeze({ ...timing, type: 'tcp' })
    case 'http':
      return Object.freeze({ ...timing, type: 'http', http: httpSettings(config) })
    case 'tls': {
      const tls = { sni: config?.sni, verify: config?.verify ?? HEALTH_DEFAULTS.verify, ca: readCa(config?.ca) }
      const http = config?.path === undefined ? undefined : httpSettings(config)
      return Object.freeze({ ...timing, type: 'tls', tls, http })
    }
    case 'exec': {
      const command = config?.command
      if (command === undefined || command.trim() === '') throw new TypeError("a health check of type 'exec' needs a command")
      return Object.freeze({ ...timing, type: 'exec', command })
    }
  }
}

function readCa(file: string | undefined): Buffer | undefined {
  if (file === undefined) return undefined
  try {
    return readFileSync(file)
  } catch (err) {
    throw new TypeError(`cannot read the CA file ${file}: ${err instanceof Error ? err.message : String(err)}`)
  }
}

function httpSettings(config: HealthConfig | undefined): HttpCheckSettings {
  return {
    method: (config?.method ?? HEALTH_DEFAULTS.method).toUpperCase(),
    path: config?.path ?? HEALTH_DEFAULTS.path,
    host: config?.host,
    expectStatus: parseStatusExpectation(config?.expect_status ?? HEALTH_DEFAULTS.expectStatus),
    expectBody: config?.expect_body === undefined ? undefined : parseBodyExpectation(config.expect_body),
  }
}
