/**
 * Turns zod's issues into problems a user can act on: readable messages prefixed with the field's dotted path,
 * one problem per unknown key, a missing key reported at the map that lacks it, and a failed union reduced to
 * the branch that explains the failure best.
 */
import type { z } from 'zod'
import { formatPath, isRecord, type PathProblem, type PathSegment } from './path-problem.js'

type Issue = z.core.$ZodIssue

/** Per-parse error map: readable defaults for zod's built-in checks. Messages written in schema.ts take precedence. */
export const readableMessage: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.expected === 'int' && typeof issue.input === 'number') return `expected a whole number, got ${issue.input}`
      return `expected ${expectedName(issue.expected)}, got ${describe(issue.input)}`
    case 'invalid_value':
      return issue.values.length === 1
        ? `must be ${String(issue.values[0])}`
        : `must be one of: ${issue.values.map(String).join(', ')}`
    case 'too_small':
      return bound(issue.origin, Number(issue.minimum), issue.inclusive !== false, 'small')
    case 'too_big':
      return bound(issue.origin, Number(issue.maximum), issue.inclusive !== false, 'big')
    case 'invalid_format':
      return issue.format === 'regex' ? 'does not have the expected form' : `is not a valid ${issue.format}`
    case 'not_multiple_of':
      return `must be a multiple of ${issue.divisor}`
    default:
      return undefined
  }
}

export function issuesToProblems(issues: readonly Issue[], raw: unknown): PathProblem[] {
  return issues.flatMap((issue) => leaves(issue, [], raw)).flatMap((leaf) => toProblems(leaf, raw))
}

interface Leaf {
  readonly issue: Issue
  readonly path: readonly PathSegment[]
  readonly message: string
  /** The value had the wrong type (possibly in every branch of a union); a missing key is reported as such. */
  readonly typeMismatch: boolean
}

function leaves(issue: Issue, base: readonly PathSegment[], raw: unknown): Leaf[] {
  const path = [...base, ...issue.path.map(toSegment)]
  if (issue.code !== 'invalid_union' || issue.errors.length === 0) {
    return [{ issue, path, message: issue.message, typeMismatch: issue.code === 'invalid_type' }]
  }
  const informative = issue.errors.filter((branch) => !isTypeMismatch(branch))
  if (informative.length === 0) {
    const expected = [...new Set(issue.errors.flatMap(expectedTypes))].map(expectedName)
    const message = `expected ${listWithOr(expected)}, got ${describe(lookup(raw, path))}`
    return [{ issue, path, message, typeMismatch: true }]
  }
  const onlyValues = informative.every((b) => b.length === 1 && b[0]!.code === 'invalid_value' && b[0]!.path.length === 0)
  if (onlyValues) {
    const values = [...new Set(informative.flatMap((b) => (b[0]!.code === 'invalid_value' ? b[0]!.values : [])))]
    return [{ issue, path, message: `must be one of: ${values.map(String).join(', ')}`, typeMismatch: false }]
  }
  const best = informative.reduce((a, b) => (rank(b) > rank(a) ? b : a))
  return best.flatMap((inner) => leaves(inner, path, raw))
}

/** Branches that ran a check written for this field (custom, format) explain more than a list of allowed values. */
function rank(branch: readonly Issue[]): number {
  const score = (issue: Issue): number =>
    issue.code === 'custom' ? 3 : issue.code === 'invalid_format' ? 2 : issue.code === 'invalid_value' ? 0 : 1
  return Math.max(...branch.map(score))
}

function isTypeMismatch(branch: readonly Issue[]): boolean {
  return (
    branch.length > 0 &&
    branch.every(
      (issue) =>
        issue.path.length === 0 &&
        (issue.code === 'invalid_type' ||
          (issue.code === 'invalid_union' && issue.errors.length > 0 && issue.errors.every(isTypeMismatch))),
    )
  )
}

function expectedTypes(branch: readonly Issue[]): string[] {
  return branch.flatMap((issue) =>
    issue.code === 'invalid_type' ? [issue.expected] : issue.code === 'invalid_union' ? issue.errors.flatMap(expectedTypes) : [],
  )
}

function toProblems(leaf: Leaf, raw: unknown): PathProblem[] {
  const { issue, path } = leaf
  const parent = path.slice(0, -1)
  const last = path[path.length - 1]
  if (leaf.typeMismatch && last !== undefined && lookup(raw, path) === undefined && isRecord(lookup(raw, parent))) {
    return [{ path: parent, at: 'key', message: `${prefix(parent)}missing required key '${String(last)}'` }]
  }
  if (issue.code === 'unrecognized_keys') {
    const lines = issue.message.split('\n')
    return issue.keys.map((key, i) => ({
      path: [...path, key],
      at: 'key' as const,
      message: prefix(path) + (lines[i] ?? `unknown key '${key}'`),
    }))
  }
  if (issue.code === 'invalid_key' && last !== undefined) {
    const reason = issue.issues.map((inner) => inner.message).join('; ')
    return [{ path, at: 'key', message: `${prefix(parent)}'${String(last)}' is not a valid name: ${reason}` }]
  }
  return [{ path, at: 'value', message: prefix(path) + leaf.message }]
}

function prefix(path: readonly PathSegment[]): string {
  return path.length > 0 ? `${formatPath(path)}: ` : ''
}

function toSegment(key: PropertyKey): PathSegment {
  return typeof key === 'number' ? key : String(key)
}

function lookup(raw: unknown, path: readonly PathSegment[]): unknown {
  let node = raw
  for (const segment of path) {
    if (Array.isArray(node) && typeof segment === 'number') node = node[segment]
    else if (isRecord(node)) node = Object.hasOwn(node, segment) ? node[segment] : undefined
    else return undefined
  }
  return node
}

const EXPECTED_NAMES: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'a map',
  record: 'a map',
  array: 'a list',
}

function expectedName(expected: string): string {
  return EXPECTED_NAMES[expected] ?? expected
}

function listWithOr(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? 'something else') : `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return 'an empty value'
  if (Array.isArray(value)) return 'a list'
  if (typeof value === 'object') return 'a map'
  if (typeof value === 'string') return `a string ('${value.length > 40 ? `${value.slice(0, 40)}...` : value}')`
  return `a ${typeof value} (${String(value)})`
}

function bound(origin: string, limit: number, inclusive: boolean, side: 'small' | 'big'): string {
  const least = side === 'small'
  if (origin === 'string') {
    if (least && limit === 1 && inclusive) return 'must not be empty'
    return `must be at ${least ? 'least' : 'most'} ${limit} characters long`
  }
  if (origin === 'array' || origin === 'set') {
    return `needs at ${least ? 'least' : 'most'} ${limit} ${limit === 1 ? 'item' : 'items'}`
  }
  if (inclusive) return `must be at ${least ? 'least' : 'most'} ${limit}`
  return `must be ${least ? 'greater' : 'less'} than ${limit}`
}
