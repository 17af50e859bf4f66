import { bodyOf, type ClientRequest } from './client-message.js'
import { Readable } from 'node:stream'

/**
 * The request body as the upstream request sends it. A body that fits the backend's retry buffer is read
 * whole first, so that a failed attempt can be replayed on another server (invariant 3); a larger one is
 * streamed (with backpressure) and cannot be replayed.
 */
export type RequestBody =
  | { readonly kind: 'none' }
  | { readonly kind: 'buffered'; readonly data: Buffer }
  | { readonly kind: 'stream'; readonly data: Readable }
  | { readonly kind: 'too-large' }
  | { readonly kind: 'aborted' }

/** A request without a body (shared: the value is never changed). */
export const NO_BODY: RequestBody = { kind: 'none' }
const TOO_LARGE: RequestBody = { kind: 'too-large' }
const ABORTED: RequestBody = { kind: 'aborted' }

/**
 * Reads up to `retryBuffer` bytes. `maxBody` (0 = none) bounds the whole body: a declared length above it is
 * refused at once, a chunked body that grows past it fails the stream (the caller answers 413).
 */
export function readRequestBody(request: ClientRequest, retryBuffer: number, maxBody: number): Promise<RequestBody> | RequestBody {
  if (!request.hasBody) return NO_BODY
  const req = bodyOf(request)
  const declared = request.contentLength
  if (maxBody > 0 && declared > maxBody) return TOO_LARGE
  if (declared > retryBuffer) return { kind: 'stream', data: limitStream(req, [], 0, maxBody) }

  return new Promise<RequestBody>((resolve) => {
    const chunks: Buffer[] = []
    let size = 0
    const cleanup = (): void => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onAbort)
      req.off('close', onClose)
    }
    const onData = (chunk: Buffer): void => {
      size += chunk.length
      chunks.push(chunk)
      if (maxBody > 0 && size > maxBody) {
        cleanup()
        req.pause()
        resolve(TOO_LARGE)
      } else if (size > retryBuffer) {
        cleanup()
        req.pause()
        resolve({ kind: 'stream', data: limitStream(req, chunks, size, maxBody) })
      }
    }
    const onEnd = (): void => {
      cleanup()
      resolve({ kind: 'buffered', data: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size) })
    }
    const onAbort = (): void => {
      cleanup()
      resolve(ABORTED)
    }
    const onClose = (): void => {
      if (!request.complete) onAbort()
    }
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onAbort)
    req.on('close', onClose)
  })
}

export class BodyTooLargeError extends Error {
  constructor() {
    super('request body too large')
    this.name = 'BodyTooLargeError'
  }
}

/** The already-read chunks followed by the rest of the request, failing once the total passes maxBody. */
function limitStream(req: Readable, head: Buffer[], headSize: number, maxBody: number): Readable {
  if (head.length === 0 && maxBody === 0) return req
  async function* chunks(): AsyncGenerator<Buffer> {
    yield* head
    let size = headSize
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length
      if (maxBody > 0 && size > maxBody) throw new BodyTooLargeError()
      yield chunk
    }
  }
  return Readable.from(chunks(), { objectMode: false })
}
