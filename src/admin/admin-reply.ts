import type http from 'node:http'
import { ConfigError } from '../config/load-config.js'
import { SwitchyardError } from '../errors.js'

/** What a handler answers: a status and a JSON body, or a text body, or a stream. */
export interface AdminReply {
  readonly status: number
  readonly body: unknown
  readonly headers?: Readonly<Record<string, string>>
  /** Sent as is instead of the JSON body (the stats page, CSV, Prometheus text). */
  readonly text?: { readonly contentType: string; readonly body: string }
  /** Takes the response over after the status and headers are sent (server-sent events). */
  readonly stream?: (res: http.ServerResponse) => void
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

export function textReply(contentType: string, body: string, headers?: Readonly<Record<string, string>>): AdminReply {
  return { status: 200, body: null, text: { contentType, body }, headers }
}

export function sendReply(res: http.ServerResponse, reply: AdminReply, method = 'GET'): void {
  if (res.destroyed || res.writableEnded) return
  if (reply.stream !== undefined) {
    res.writeHead(reply.status, { 'cache-control': 'no-store', ...reply.headers })
    // A HEAD request gets the headers only; the stream would otherwise never end.
    if (method === 'HEAD') res.end()
    else reply.stream(res)
    return
  }
  const text = reply.text?.body ?? `${JSON.stringify(reply.body)}\n`
  res.writeHead(reply.status, {
    'content-type': reply.text?.contentType ?? 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...reply.headers,
  })
  res.end(text)
}
