import { createHash, timingSafeEqual } from 'node:crypto'
import { SwitchyardError } from '../errors.js'

const BEARER = /^Bearer +(\S+) *$/i

/**
 * Checks `Authorization: Bearer <token>` on admin writes. Only that header counts: a token in the query string
 * or a cookie is ignored (it would end up in logs and browser history, and a cookie rides along on cross-site
 * requests). Without a configured token every write is refused, so that a forgotten token never means an open API.
 */
export class BearerAuth {
  private readonly expected: Buffer | undefined

  constructor(token: string | undefined) {
    this.expected = token === undefined || token === '' ? undefined : digest(token)
  }

  /** Throws SY_ERR_UNAUTHORIZED unless the header carries the configured token. */
  check(authorization: string | undefined): void {
    if (this.expected === undefined) {
      throw new SwitchyardError('SY_ERR_UNAUTHORIZED', {}, {
        message: 'admin writes are disabled: set admin.token in the configuration to allow them',
      })
    }
    const presented = BEARER.exec(authorization ?? '')?.[1]
    // Comparing fixed-length digests keeps the time independent of where, and whether, the tokens differ.
    const matches = presented !== undefined && timingSafeEqual(digest(presented), this.expected)
    if (!matches) throw new SwitchyardError('SY_ERR_UNAUTHORIZED')
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest()
}
