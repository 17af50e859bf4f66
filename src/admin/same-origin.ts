import type { IncomingHttpHeaders } from 'node:http'
import type { AdminReply } from './admin-reply.js'
import { SwitchyardError } from '../errors.js'

/**
 * Why a write looks cross-site, or undefined when it does not. Browsers send `Origin` with every cross-origin
 * write; it must name this listener as the browser reached it (the `Host` header), by http or https (a TLS proxy
 * in front). Without `Origin` (curl, the CLI) a `Sec-Fetch-Site` other than same-origin still gives a browser away.
 *
 * This is half of the CSRF protection: the other half is that the token is read only from the `Authorization`
 * header, which an HTML form cannot set and a cross-site script cannot send without a CORS preflight we never
 * answer.
 */
export function crossSiteReason(headers: IncomingHttpHeaders): string | undefined {
  const origin = headers.origin
  if (origin !== undefined) {
    const host = headers.host?.toLowerCase()
    const own = host === undefined ? [] : [`http://${host}`, `https://${host}`]
    return own.includes(origin.toLowerCase()) ? undefined : `origin '${origin}' is not this admin listener (${own[0] ?? 'no Host header'})`
  }
  const site = headers['sec-fetch-site']
  if (site === 'cross-site' || site === 'same-site') return `the browser marked it ${site}`
  return undefined
}

/** 403 with the admin API's error shape. */
export function crossSiteReply(reason: string): AdminReply {
  const err = new SwitchyardError('SY_ERR_CROSS_SITE', { reason })
  return { status: err.status, body: err.toJSON() }
}
