/**
 * Finds where a path of the parsed configuration was written in the YAML source, as a character offset.
 * Keys are compared as text because the plain object (and so every issue path) has string keys even where
 * the YAML key was a number.
 */
import { isAlias, isMap, isNode, isScalar, isSeq, type Document, type Node } from 'yaml'
import type { PathSegment } from './path-problem.js'

export function keyText(key: unknown): string {
  if (isScalar(key)) return String(key.value)
  return String(key)
}

/**
 * The offset of the key or value at `path`. When the path does not exist (a missing required key), this is the
 * key of the nearest existing ancestor, so the report points at the map that lacks it.
 */
export function locate(doc: Document, path: readonly PathSegment[], at: 'key' | 'value'): number {
  let node: unknown = doc.contents
  let keyNode: Node | undefined
  let found = true
  for (const segment of path) {
    if (isAlias(node)) node = node.resolve(doc)
    let next: unknown
    let nextKey: Node | undefined
    if (isMap(node)) {
      // The last of duplicate keys wins in the plain object, so it is the one an issue is about.
      const pair = node.items.findLast((item) => keyText(item.key) === String(segment))
      if (pair !== undefined) {
        next = pair.value ?? undefined
        nextKey = isNode(pair.key) ? pair.key : undefined
      }
    } else if (isSeq(node) && typeof segment === 'number') {
      next = node.items[segment]
      nextKey = isNode(next) ? next : undefined
    }
    if (next === undefined && nextKey === undefined) {
      found = false
      break
    }
    node = next
    keyNode = nextKey
  }
  const valueNode = isNode(node) ? node : undefined
  const target = found && at === 'value' ? (valueNode ?? keyNode) : (keyNode ?? valueNode)
  return target?.range?.[0] ?? 0
}
