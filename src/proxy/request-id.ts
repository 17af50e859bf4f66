import { randomBytes } from 'node:crypto'

/**
 * Request ids: a random per-process prefix and a counter, e.g. "3f9a1c2e-1k2". Unique across processes and
 * restarts in practice, and cheaper per request than a UUID.
 */
const prefix = randomBytes(4).toString('hex')
let counter = 0

export function nextRequestId(): string {
  counter = (counter + 1) % Number.MAX_SAFE_INTEGER
  return `${prefix}-${counter.toString(36)}`
}

/** A client-sent id is kept only when the frontend trusts it and it is short, visible ASCII. */
export function isAcceptableRequestId(value: string): boolean {
  return value.length > 0 && value.length <= 128 && /^[\x21-\x7e]+$/.test(value)
}
