import type http from 'node:http'
import { ConfigError } from '../config/load-config.js'
import { SwitchyardError } from '../errors.js'

/** What a handler answers: a status and a JSON body. */
export interface AdminReply {
  readonly status: number
  readonly body: unknown
  readonly headers?: Readonly<Record<string, string>>
}

export function ok(body: unknown, status = 200): AdminReply {
  return { status, body }
}

/**
 * The reply for a thrown error: a SwitchyardError keeps its code and status (a ConfigError also lists its
 * problems, so that `reload` can show FILE:LINE:COL lines); anything else is a defect and becomes
 * SY_ERR_INTERNAL without leaking its details.
 */
export function errorReply(err: unknown, headers?: Readonly<Record<string, string>>): AdminReply {
  if (err instanceof ConfigError) {
    const { error } = err.toJSON()
    // The summary only: the problems follow as data, so a client need not parse the message.
    const message = err.message.split('\n')[0] ?? error.message
    return { status: err.status, body: { error: { ...error, message, problems: err.problems } }, headers }
  }
  const known = err instanceof SwitchyardError ? err : new SwitchyardError('SY_ERR_INTERNAL', { reason: 'see the balancer log' })
  return { status: known.status, body: known.toJSON(), headers }
}

export function sendReply(res: http.ServerResponse, reply: AdminReply): void {
  if (res.destroyed || res.writableEnded) return
  const text = `${JSON.stringify(reply.body)}\n`
  res.writeHead(reply.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...reply.headers,
  })
  res.end(text)
}
