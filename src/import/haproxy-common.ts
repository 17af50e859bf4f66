/** Types and small helpers shared by the HAProxy converters. */
import type { z } from 'zod'
import type { configSchema } from '../config/schema.js'
import type { HaproxyLine } from './parse-haproxy.js'

export type ConfigInput = z.input<typeof configSchema>
export type FrontendInput = ConfigInput['frontends'][string]
export type BackendInput = ConfigInput['backends'][string]
export type ServerInput = NonNullable<BackendInput['servers']>[string]
export type HealthInput = NonNullable<BackendInput['health']>
export type RouteInput = NonNullable<FrontendInput['routes']>[number]

/** A line of the haproxy.cfg that the import did not translate. */
export interface Untranslated {
  readonly line: number
  readonly text: string
  readonly reason: string
}

/**
 * What a converter did with one line: `done` translated (or nothing to translate), undefined not its concern
 * (e.g. `timeout client` seen by a backend), or a reason it cannot be translated.
 */
export type LineResult = 'done' | undefined | { readonly reason: string }

export function unsupported(reason: string): LineResult {
  return { reason }
}

/** Context a converter reports notes to: things that translate but behave a little differently. */
export interface NoteSink {
  note(line: HaproxyLine, message: string): void
}

const UNITS: Readonly<Record<string, number>> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** An HAProxy duration (a bare number is milliseconds) as a Switchyard duration string, or undefined. */
export function haproxyDuration(text: string | undefined): string | undefined {
  const m = /^(\d+)(us|ms|s|m|h|d)?$/.exec(text ?? '')
  if (m === null) return undefined
  const ms = Math.ceil(Number(m[1]) * UNITS[m[2] ?? 'ms']!)
  if (ms === 0) return '0'
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`
  if (ms % 60_000 === 0) return `${ms / 60_000}m`
  if (ms % 1000 === 0) return `${ms / 1000}s`
  return `${ms}ms`
}

/** A whole number within bounds, or undefined. */
export function wholeNumber(text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined || !/^\d+$/.test(text)) return undefined
  const n = Number(text)
  return n >= min && n <= max ? n : undefined
}

/** An HAProxy bind or server address as Switchyard's host:port, or undefined when it has no plain form. */
export function haproxyAddress(text: string | undefined, wildcardHost: string | undefined): string | undefined {
  if (text === undefined || text.includes('@') || text.includes(',')) return undefined
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(text)
  if (bracketed !== null) return `[${bracketed[1]}]:${bracketed[2]}`
  const m = /^(.*):(\d+)$/.exec(text)
  if (m === null) return undefined
  const host = m[1]!
  if (host === '' || host === '*') return wildcardHost === undefined ? undefined : `${wildcardHost}:${m[2]}`
  // HAProxy writes IPv6 without brackets (`:::80`, `::1:8080`); Switchyard needs them.
  if (host.includes(':')) return `[${host}]:${m[2]}`
  return `${host}:${m[2]}`
}

/** Switchyard names allow letters, digits, `_`, `.` and `-`; HAProxy also allows `:`. */
export function switchyardName(name: string): string {
  return name.replace(/[^\p{L}\p{N}_.-]/gu, '_')
}
