/**
 * The admin API's request bodies. Strict: an unknown field is an error rather than silently ignored, so that a
 * typo ("wieght") never looks like a successful change.
 */
import { NAME_PATTERN, NAME_RULE } from '../config/schema.js'
import { z } from 'zod'
import { parseHostPort } from '../config/address.js'
import { readableMessage } from '../config/zod-issues.js'
import { SwitchyardError } from '../errors.js'
import type { NewServer, ServerChange } from './balancer-control.js'

const weight = z.number().int().min(0).max(256)

/** The same rule as names in the configuration file; a "/" would make `backend/server` on the CLI ambiguous. */
const serverName = z
  .string()
  .min(1)
  .max(200)
  .regex(NAME_PATTERN, NAME_RULE)

const address = z.string().refine((text) => typeof parseHostPort(text) !== 'string', {
  error: (issue) => {
    const reason = parseHostPort(String(issue.input))
    return typeof reason === 'string' ? reason : 'is not host:port'
  },
})

export const serverChangeBody = z
  .strictObject({
    admin: z.enum(['ready', 'drain', 'maint']).optional(),
    weight: weight.optional(),
  })
  .refine((change) => change.admin !== undefined || change.weight !== undefined, 'give "admin" and/or "weight"') satisfies z.ZodType<ServerChange>

export const newServerBody = z.strictObject({
  name: serverName,
  address,
  weight: weight.optional(),
  backup: z.boolean().optional(),
  max_connections: z.number().int().min(0).optional(),
}) satisfies z.ZodType<NewServer>

/** Same rule as a name in the configuration file: versions end up in server names and log paths. */
const releaseName = z.string().min(1).max(200).regex(NAME_PATTERN, 'a version may use letters, digits, "_", "." and "-"')

/**
 * `strategy` is any name here: which strategies a release supports is the engine's knowledge, and it answers an
 * unsupported one with SY_ERR_STRATEGY_UNSUPPORTED.
 */
export const deployBody = z.strictObject({
  service: z.string().min(1).max(200),
  version: releaseName,
  strategy: z.string().min(1).max(50).optional(),
})

/** An empty body or `{}`: for actions that take no input. */
export const emptyBody = z.strictObject({}).optional()

/** Validates a parsed body; throws SY_ERR_INVALID_BODY naming every wrong field. */
export function validateBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body, { error: bodyMessage })
  if (parsed.success) return parsed.data
  const reason = parsed.error.issues
    .map((issue) => (issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message))
    .join('; ')
  throw new SwitchyardError('SY_ERR_INVALID_BODY', { reason })
}

const bodyMessage: z.core.$ZodErrorMap = (issue) => {
  if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => `unknown field '${key}'`).join(', ')
  if (issue.code === 'invalid_type' && (issue.path ?? []).length === 0) return 'expected a JSON object'
  if (issue.code === 'invalid_type' && issue.input === undefined) return 'is required'
  return readableMessage(issue)
}
