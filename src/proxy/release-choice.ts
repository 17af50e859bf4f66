import { randomBytes } from 'node:crypto'
import type { ClientRequest } from './client-message.js'
import { hash32 } from '../balance/hash-function.js'
import type { Backend } from '../runtime/backend.js'
import { cookieValue } from './request-keys.js'

/** The version a request prefers under a release split, and the cookie to set for a new sticky client. */
export interface ReleaseChoice {
  readonly preferred: string | undefined
  readonly setCookie: string | undefined
}

const NONE: ReleaseChoice = { preferred: undefined, setCookie: undefined }

/**
 * A tester's header forces a version; otherwise, with sticky assignment, the client's random key (from its
 * cookie, or a new one) falls at a point of [0, 100) and the split's ranges decide, so a client keeps its version
 * while weights only grow toward the new one.
 */
export function chooseRelease(backend: Backend, req: ClientRequest): ReleaseChoice {
  const split = backend.split
  if (split === undefined) return NONE
  const { cookie, forceHeader } = backend.splitOptions
  if (forceHeader !== undefined) {
    const forced = req.headers[forceHeader]
    if (typeof forced === 'string' && split.entries.some((e) => e.release === forced)) return { preferred: forced, setCookie: undefined }
  }
  if (cookie === undefined) return NONE
  let key = cookieValue(req.headers.cookie, cookie)
  let setCookie: string | undefined
  if (key === undefined || key.length === 0) {
    key = randomBytes(8).toString('hex')
    setCookie = `${cookie}=${key}; Path=/; HttpOnly; SameSite=Lax`
  }
  return { preferred: split.releaseAt((hash32(key) % 10_000) / 100), setCookie }
}
