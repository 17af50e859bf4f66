/** Text of an haproxy.cfg -> Switchyard YAML and what did not translate: the parse, convert and render steps. */
import { convertHaproxy, type Conversion } from './convert-haproxy.js'
import { parseHaproxy } from './parse-haproxy.js'
import { renderYaml } from './render-yaml.js'

export interface ImportResult extends Conversion {
  readonly yaml: string
}

export function importHaproxy(text: string, source: string): ImportResult {
  const conversion = convertHaproxy(parseHaproxy(text))
  return { ...conversion, yaml: renderYaml(conversion, source) }
}
