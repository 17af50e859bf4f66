import { randomFillSync } from 'node:crypto'

/**
 * RFC 6455 framing, only as much as a pass-through tunnel needs: where frames begin and end in one direction of
 * a byte stream, and one frame to send itself (close). Hand-written on purpose: `ws` is a whole endpoint (it
 * performs the handshake, unmasks, reassembles messages and runs its own closing handshake), not a parser that
 * can sit in the middle of a stream whose bytes must pass unchanged; a tunnel only needs frame boundaries.
 */

/** Opcode of a close frame. */
const OP_CLOSE = 0x8

/**
 * Follows the frame boundaries of one direction of a WebSocket stream. It reads header bytes (2 to 14: FIN and
 * opcode, MASK bit and 7-bit length, a 16- or 64-bit extended length, a 4-byte masking key) and skips payloads by
 * counting: no copy, no allocation, a header split across chunks is carried over in a few counters.
 */
export class FrameTracker {
  /** Header bytes of the current frame read so far; 0 with `remaining` 0 means between two frames. */
  private headerRead = 0
  /** Length of the current frame's header, known once its second byte is read. */
  private headerLength = 2
  /** Header bytes before this offset (from 2) hold the extended payload length; the masking key follows. */
  private lengthEnd = 2
  /** The current frame's payload length, as read from its header so far. */
  private payloadLength = 0
  /** Payload bytes of the current frame still to come. */
  private remaining = 0
  /** True once a close frame began in this direction (the sender started the closing handshake). */
  closeSeen = false

  /** True when the bytes seen so far end exactly between two frames. */
  get atBoundary(): boolean {
    return this.headerRead === 0 && this.remaining === 0
  }

  /** Follows every byte of `chunk` from `start`. */
  advance(chunk: Uint8Array, start = 0): void {
    this.scan(chunk, start, false)
  }

  /**
   * Follows `chunk` from `start` up to the first frame boundary at or after `start` and returns its offset
   * (`start` itself when already between frames, `chunk.length` when a frame ends with the chunk), or -1 when
   * the chunk ends inside a frame (then every byte was followed).
   */
  nextBoundary(chunk: Uint8Array, start = 0): number {
    return this.scan(chunk, start, true)
  }

  private scan(chunk: Uint8Array, start: number, stop: boolean): number {
    let i = start
    const end = chunk.length
    for (;;) {
      if (this.remaining > 0) {
        const skip = Math.min(this.remaining, end - i)
        this.remaining -= skip
        i += skip
        if (this.remaining > 0) return -1
        if (stop) return i
        continue
      }
      if (this.headerRead === 0 && stop) return i
      if (i >= end) return -1
      // One header byte at a time; a header is at most 14 bytes, so this loop is short.
      const byte = chunk[i++]!
      const at = this.headerRead++
      if (at === 0) {
        if ((byte & 0x0f) === OP_CLOSE) this.closeSeen = true
        this.payloadLength = 0
        this.headerLength = 2
        this.lengthEnd = 2
      } else if (at === 1) {
        const len7 = byte & 0x7f
        if (len7 < 126) this.payloadLength = len7
        this.lengthEnd = len7 < 126 ? 2 : len7 === 126 ? 4 : 10
        this.headerLength = this.lengthEnd + ((byte & 0x80) !== 0 ? 4 : 0)
      } else if (at < this.lengthEnd) {
        // Big-endian; a 64-bit length beyond 2^53 loses precision, which no real frame reaches.
        this.payloadLength = this.payloadLength * 256 + byte
      }
      if (this.headerRead === this.headerLength) {
        this.headerRead = 0
        this.remaining = this.payloadLength
      }
    }
  }
}

/**
 * A close frame with `code` (2 bytes, big-endian) and a short UTF-8 `reason` (at most 123 bytes). Frames toward a
 * server must be masked (RFC 6455 section 5.3: a fresh random 4-byte key); frames toward a client must not.
 */
export function closeFrame(code: number, reason: string, masked: boolean): Buffer {
  const text = Buffer.from(reason, 'utf8')
  const length = 2 + text.length
  if (length > 125) throw new RangeError('a close reason is at most 123 bytes')
  const headerLength = masked ? 6 : 2
  const frame = Buffer.allocUnsafe(headerLength + length)
  frame[0] = 0x80 | OP_CLOSE
  frame[1] = (masked ? 0x80 : 0) | length
  frame.writeUInt16BE(code, headerLength)
  text.copy(frame, headerLength + 2)
  if (masked) {
    randomFillSync(frame, 2, 4)
    for (let i = 0; i < length; i++) frame[headerLength + i]! ^= frame[2 + (i % 4)]!
  }
  return frame
}
