/**
 * `${NAME}` and `${NAME:-default}` in scalar values, replaced from the environment in the parsed YAML document
 * before validation, so that every node keeps its source position. Keys are never interpolated. `$${` stands for
 * a literal `${`. As in a shell, `:-` also applies when the variable is set but empty.
 */
import { isMap, isScalar, isSeq, type Document, type Scalar } from 'yaml'
import { keyText } from './yaml-locate.js'
import { formatPath, type PathSegment } from './path-problem.js'

export interface OffsetProblem {
  readonly offset: number
  readonly message: string
}

export interface InterpolationResult {
  readonly problems: OffsetProblem[]
  /** Values left unreplaced because of a problem; other checks skip them so as not to report it twice. */
  readonly failedPaths: PathSegment[][]
}

const REFERENCE = /\$\$\{|\$\{([^}]*)\}|\$\{/g
const NAME_AND_DEFAULT = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s

export function interpolateEnv(doc: Document, env: NodeJS.ProcessEnv): InterpolationResult {
  const problems: OffsetProblem[] = []
  const failedPaths: PathSegment[][] = []
  walk(doc.contents, [], (scalar, path) => {
    const prefix = path.length > 0 ? `${formatPath(path)}: ` : ''
    const result = substitute(String(scalar.value), env)
    for (const message of result.problems) problems.push({ offset: scalar.range?.[0] ?? 0, message: prefix + message })
    if (result.problems.length > 0) failedPaths.push(path)
    else if (result.changed) scalar.value = scalar.type === 'PLAIN' ? retype(result.text) : result.text
  })
  return { problems, failedPaths }
}

interface Substitution {
  readonly text: string
  readonly changed: boolean
  readonly problems: string[]
}

export function substitute(input: string, env: NodeJS.ProcessEnv): Substitution {
  const problems: string[] = []
  let changed = false
  const text = input.replace(REFERENCE, (whole, inner: string | undefined) => {
    changed = true
    if (whole === '$${') return '${'
    if (inner === undefined) {
      problems.push("'${' is not closed with '}' (write $${ for a literal '${')")
      return whole
    }
    const m = NAME_AND_DEFAULT.exec(inner)
    if (m === null) {
      problems.push(`'${whole}' is not a valid reference (write \${NAME} or \${NAME:-default})`)
      return whole
    }
    const name = m[1]!
    const fallback = m[2]
    const value = env[name]
    if (fallback !== undefined) return value === undefined || value === '' ? fallback : value
    if (value === undefined) {
      problems.push(`environment variable ${name} is not set`)
      return whole
    }
    return value
  })
  return { text, changed, problems }
}

/** An unquoted `${PORT}` becomes a number (or true/false) when it reads as one, as if written literally. */
function retype(text: string): string | number | boolean {
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text)
  if (text === 'true' || text === 'false') return text === 'true'
  return text
}

function walk(node: unknown, path: PathSegment[], visit: (scalar: Scalar, path: PathSegment[]) => void): void {
  if (isMap(node)) {
    for (const pair of node.items) walk(pair.value, [...path, keyText(pair.key)], visit)
  } else if (isSeq(node)) {
    node.items.forEach((item, index) => walk(item, [...path, index], visit))
  } else if (isScalar(node) && typeof node.value === 'string') {
    visit(node, path)
  }
}
