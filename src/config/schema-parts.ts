/** Building blocks shared by the configuration schemas: strict objects, durations, sizes, addresses, names. */
import { z } from 'zod'
import { parseHostPort, type HostPort } from './address.js'
import { didYouMean } from './did-you-mean.js'
import { parseDuration, parseSize } from './units.js'

/** An object that rejects unknown keys, with a "did you mean" hint per key (one message line per key). */
export function strict<T extends z.ZodRawShape>(shape: T) {
  const known = Object.keys(shape)
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? issue.keys.map((key) => `unknown key '${key}'${didYouMean(key, known)}`).join('\n')
        : undefined,
  })
}

export const duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const ms = typeof value === 'number' ? (value === 0 ? 0 : undefined) : parseDuration(value)
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `'${value}' is not a duration (write it like 500ms, 2s, 1m or 1h)` })
    return z.NEVER
  }
  return ms
})

export const size = z.union([z.string(), z.number().int().nonnegative()]).transform((value, ctx) => {
  const bytes = typeof value === 'number' ? value : parseSize(value)
  if (bytes === undefined) {
    ctx.addIssue({ code: 'custom', message: `'${value}' is not a size (write it like 512, 64kb or 1mb)` })
    return z.NEVER
  }
  return bytes
})

export function hostPort(defaultHost?: string) {
  return z.union([z.string(), z.number().int()]).transform((value, ctx): HostPort => {
    const parsed = parseHostPort(String(value), defaultHost === undefined ? {} : { defaultHost })
    if (typeof parsed === 'string') {
      ctx.addIssue({ code: 'custom', message: parsed })
      return z.NEVER
    }
    return parsed
  })
}

/** Names of frontends, backends, servers and services (one rule for the file, the admin API and the CLI). */
export const NAME_PATTERN = /^[\p{L}\p{N}_.-]+$/u
export const NAME_RULE = 'names may use letters, digits, "_", "." and "-"'

export const name = z.string().regex(NAME_PATTERN, NAME_RULE)
