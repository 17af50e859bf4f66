/** A conversion as Switchyard YAML, its notes as comments at the top so that they travel with the file. */
import { stringify } from 'yaml'
import type { Conversion } from './convert-haproxy.js'

export function renderYaml(conversion: Conversion, source: string): string {
  const header = [`# Converted from ${source} by \`switchyard import haproxy\`.`]
  for (const note of conversion.notes) header.push(`# line ${note.line}: ${note.message}`)
  for (const u of conversion.untranslated) header.push(`# line ${u.line} NOT TRANSLATED: ${u.text} (${u.reason})`)
  return `${header.join('\n')}\n${stringify(conversion.config, { lineWidth: 0 })}`
}
