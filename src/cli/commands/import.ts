/**
 * `switchyard import haproxy FILE [--partial]` prints a Switchyard configuration for an haproxy.cfg;
 * `switchyard import schema` prints the configuration's JSON Schema (for editors).
 */
import { readFile } from 'node:fs/promises'
import { configJsonSchema } from '../../config/json-schema.js'
import { importHaproxy } from '../../import/import-haproxy.js'

export async function importCommand(format: string, file: string | undefined, opts: { partial?: boolean }): Promise<number> {
  if (format === 'schema') {
    process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`)
    return 0
  }
  if (file === undefined) {
    process.stderr.write('switchyard import haproxy: give the haproxy.cfg to translate\n')
    return 1
  }
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    process.stderr.write(`${file}: cannot read: ${err instanceof Error ? err.message : String(err)}\n`)
    return 1
  }
  const result = importHaproxy(text, file)
  process.stdout.write(result.yaml)
  for (const u of result.untranslated) process.stderr.write(`${file}:${u.line}: not translated: ${u.text} (${u.reason})\n`)
  if (result.untranslated.length === 0) return 0
  process.stderr.write(`${result.untranslated.length} line(s) not translated${opts.partial ? ' (--partial: the rest is printed)' : ''}\n`)
  return opts.partial ? 0 : 1
}
