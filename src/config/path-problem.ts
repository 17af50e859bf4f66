/**
 * A configuration problem located by its path in the parsed document rather than by line and column.
 * Checks that run on the plain JavaScript object (schema issues, cross-references, unsupported features)
 * produce these; load-config.ts turns the path into a position in the YAML source.
 */
export type PathSegment = string | number

export interface PathProblem {
  readonly path: readonly PathSegment[]
  /** 'key' points at the key of the last path segment (`weigth:`), 'value' at its value. */
  readonly at: 'key' | 'value'
  readonly message: string
}

/** "backends.app.servers.s1" or "frontends.web.routes[0].backend", as used in messages. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = ''
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`
    else out += out === '' ? segment : `.${segment}`
  }
  return out
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
