/** YAML parser errors and warnings as problems with readable messages. */
import { isMap, isNode, visit, type Document, type YAMLError } from 'yaml'
import type { OffsetProblem } from './interpolate-env.js'
import { keyText } from './yaml-locate.js'

export function yamlProblems(doc: Document, offsetToLine: (offset: number) => number): OffsetProblem[] {
  return [...doc.errors, ...doc.warnings].map((error) => ({
    offset: error.pos[0],
    message: describeYamlError(doc, error, offsetToLine),
  }))
}

/** Parse errors other than duplicate keys leave the document's shape unreliable; validating it would mislead. */
export function hasSyntaxErrors(doc: Document): boolean {
  return doc.errors.some((error) => error.code !== 'DUPLICATE_KEY')
}

function describeYamlError(doc: Document, error: YAMLError, offsetToLine: (offset: number) => number): string {
  switch (error.code) {
    case 'DUPLICATE_KEY': {
      const duplicate = findDuplicate(doc, error.pos[0])
      if (duplicate === undefined) return 'duplicate key'
      return `duplicate key '${duplicate.key}' (first defined on line ${offsetToLine(duplicate.firstOffset)})`
    }
    case 'MULTIPLE_DOCS':
      return "the file holds more than one YAML document; a configuration is a single document (remove the '---')"
    default:
      return `invalid YAML: ${error.message}`
  }
}

/** The text of the duplicate key that starts at `offset`, and where the first key equal to it starts. */
function findDuplicate(doc: Document, offset: number): { key: string; firstOffset: number } | undefined {
  let found: { key: string; firstOffset: number } | undefined
  visit(doc, {
    Map(_, map) {
      if (!isMap(map)) return undefined
      const duplicate = map.items.find((pair) => isNode(pair.key) && pair.key.range?.[0] === offset)
      if (duplicate === undefined) return undefined
      const key = keyText(duplicate.key)
      const first = map.items.find((pair) => keyText(pair.key) === key)
      found = { key, firstOffset: (isNode(first?.key) ? first.key.range?.[0] : undefined) ?? offset }
      return visit.BREAK
    },
  })
  return found
}
