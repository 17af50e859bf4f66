import type http from 'node:http'
import { SwitchyardError } from '../errors.js'

/** Admin bodies are a few fields; anything near this size is a mistake or an attack. */
export const ADMIN_BODY_LIMIT = 64 * 1024

/**
 * Reads a request body of at most `limit` bytes and parses it as JSON; an empty body is `undefined`.
 * Throws SY_ERR_BODY_TOO_LARGE (keeping nothing of the rest) or SY_ERR_INVALID_BODY.
 */
export async function readJsonBody(req: http.IncomingMessage, limit = ADMIN_BODY_LIMIT): Promise<unknown> {
  const text = await readText(req, limit)
  if (text.trim() === '') return undefined
  try {
    return JSON.parse(text) as unknown
  } catch (err) {
    throw new SwitchyardError('SY_ERR_INVALID_BODY', { reason: `not valid JSON (${err instanceof Error ? err.message : String(err)})` })
  }
}

function readText(req: http.IncomingMessage, limit: number): Promise<string> {
  const tooLarge = new SwitchyardError('SY_ERR_BODY_TOO_LARGE', { limit })
  if (Number(req.headers['content-length'] ?? 0) > limit) return Promise.reject(tooLarge)
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const onData = (chunk: Buffer): void => {
      size += chunk.length
      if (size <= limit) {
        chunks.push(chunk)
        return
      }
      // Keep consuming (and discarding) so that the 413 can still be written; the reply closes the connection.
      req.off('data', onData)
      req.resume()
      reject(tooLarge)
    }
    req.on('data', onData)
    req.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.once('error', reject)
  })
}
