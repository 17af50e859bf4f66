import type { Readable } from 'node:stream'

/** A request body as the upstream client sends it: none, bytes known in full, or a stream read with backpressure. */
export type UpstreamBody = Buffer | Readable | null

/**
 * The request in flight on a connection, as its handler may act on it. Both methods name the handler: a call
 * from a handler whose request is over (the connection may serve another one by then) does nothing.
 */
export interface UpstreamLink {
  /** Gives up on the request: the connection is destroyed and onError follows (with `err`, else an abort error). */
  abort(handler: UpstreamHandler, err?: Error): void
  /** Reads the response again after onHeaders or onData returned false. */
  resume(handler: UpstreamHandler): void
}

/**
 * What the upstream client tells about one request, in this order: onConnect (a connection is about to carry it),
 * onHeaders, onData (any number), then exactly one of onComplete and onError. onError may come at any point,
 * onConnect included; nothing comes after onComplete or onError.
 */
export interface UpstreamHandler {
  onConnect(link: UpstreamLink): void
  /**
   * The final response head: `headers` is the server's flat [name, value, ...] list (latin1 strings, hop-by-hop
   * fields included); `connection` the values of its Connection fields, joined (undefined when none).
   * Returning false pauses the response until link.resume().
   */
  onHeaders(status: number, reason: string, headers: string[], connection: string | undefined): boolean
  /** A piece of the response body (framing removed). Returning false pauses the response until link.resume(). */
  onData(chunk: Buffer): boolean
  onComplete(): void
  onError(err: Error): void
}
