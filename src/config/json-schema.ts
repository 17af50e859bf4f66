/**
 * The JSON Schema of the configuration file, for editors (yaml-language-server). Generated from the same zod
 * schema that validates the file, so the two cannot drift. The input side is described: what may be written
 * (`2s`, `host:port`), not the normalised values parsing produces.
 */
import { z } from 'zod'
import { configSchema } from './schema.js'

export const CONFIG_SCHEMA_ID = 'https://switchyard.dev/schemas/config.json'

export function configJsonSchema(): Record<string, unknown> {
  // Transforms (durations, addresses) cannot be described on the output side; on the input side they are plain.
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any', target: 'draft-7' }) as Record<string, unknown>
  return { ...schema, $id: CONFIG_SCHEMA_ID, title: 'Switchyard configuration' }
}
