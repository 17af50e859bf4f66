/**
 * Keys the schema accepts but this version does not act on yet. Reporting them keeps a user from believing that,
 * say, health checks run when they do not. When a feature lands, delete its entry here (and from the list in
 * docs/configuration.md).
 *
 * An entry is a dotted path where `*` stands for any name; `path: value` matches only that value.
 */
import { isRecord, type PathProblem, type PathSegment } from './path-problem.js'

export const NOT_YET_SUPPORTED: readonly string[] = []

/** One problem, at the key, for every place in the raw configuration that uses a not-yet-supported feature. */
export function findNotYetSupported(raw: unknown, entries: readonly string[] = NOT_YET_SUPPORTED): PathProblem[] {
  const problems: PathProblem[] = []
  for (const entry of entries) {
    const colon = entry.indexOf(': ')
    const pattern = (colon < 0 ? entry : entry.slice(0, colon)).split('.')
    const value = colon < 0 ? undefined : entry.slice(colon + 2)
    for (const path of matchPaths(raw, pattern, value)) {
      const dotted = path.join('.')
      const what = value === undefined ? dotted : `${dotted}: ${value}`
      problems.push({ path, at: 'key', message: `'${what}' is not supported by this version of Switchyard yet` })
    }
  }
  return problems
}

function matchPaths(node: unknown, pattern: readonly string[], value: string | undefined): PathSegment[][] {
  const [head, ...rest] = pattern
  if (head === undefined || !isRecord(node)) return []
  const keys = head === '*' ? Object.keys(node) : Object.hasOwn(node, head) ? [head] : []
  const found: PathSegment[][] = []
  for (const key of keys) {
    if (rest.length > 0) {
      for (const tail of matchPaths(node[key], rest, value)) found.push([key, ...tail])
    } else if (value === undefined || String(node[key]) === value) {
      found.push([key])
    }
  }
  return found
}
