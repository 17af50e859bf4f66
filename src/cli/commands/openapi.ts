/** `switchyard openapi` prints the OpenAPI description of the admin API (the same as GET /api/v1/openapi.json). */
import { openApiDocument } from '../../admin/openapi.js'

export function openApiCommand(): number {
  process.stdout.write(`${JSON.stringify(openApiDocument(), null, 2)}\n`)
  return 0
}
