/**
 * MurmurHash3 (x86, 32-bit) of a string's UTF-8 bytes.
 *
 * Written by hand rather than taken from a package or node:crypto because it is tiny, it runs on every hashed
 * request (so it must not allocate: the UTF-8 bytes are produced on the fly, never into a buffer), and its value
 * must never change across versions, platforms or processes - it decides which server a user sticks to, and a
 * different value after an upgrade would move every user at once. The output equals the reference
 * implementation's `MurmurHash3_x86_32(utf8Bytes, length, seed)`, so it can be checked against any other one.
 */
export function hash32(text: string, seed = 0): number {
  // ASCII fast path: each character is one byte, so four characters make one block. Kept small so that V8 can
  // inline it into the caller, which also spares boxing the 32-bit result.
  const length = text.length
  const blocksEnd = length & ~3
  let hash = seed | 0
  let i = 0
  for (; i < blocksEnd; i += 4) {
    const c0 = text.charCodeAt(i)
    const c1 = text.charCodeAt(i + 1)
    const c2 = text.charCodeAt(i + 2)
    const c3 = text.charCodeAt(i + 3)
    if ((c0 | c1 | c2 | c3) >= 0x80) return hashUtf8(text, seed)
    hash = mixBlock(hash, c0 | (c1 << 8) | (c2 << 16) | (c3 << 24))
  }
  let tail = 0
  for (let shift = 0; i < length; i++, shift += 8) {
    const code = text.charCodeAt(i)
    if (code >= 0x80) return hashUtf8(text, seed)
    tail |= code << shift
  }
  if (length > blocksEnd) hash ^= scrambleBlock(tail)
  return finalize(hash ^ length)
}

/** The general path: encodes UTF-8 on the fly, without a buffer. */
function hashUtf8(text: string, seed: number): number {
  let hash = seed | 0
  let block = 0 // up to 4 pending bytes, little-endian
  let blockBytes = 0
  let byteLength = 0

  for (let i = 0; i < text.length; i++) {
    let codePoint = text.charCodeAt(i)
    if (codePoint >= 0xd800 && codePoint <= 0xdfff) {
      const low = i + 1 < text.length ? text.charCodeAt(i + 1) : 0
      if (codePoint <= 0xdbff && low >= 0xdc00 && low <= 0xdfff) {
        codePoint = 0x10000 + ((codePoint - 0xd800) << 10) + (low - 0xdc00)
        i++
      } else {
        codePoint = 0xfffd // a lone surrogate encodes as U+FFFD, as Buffer and TextEncoder do
      }
    }

    // The code point's UTF-8 bytes, packed little-endian into one integer.
    let bytes: number
    let count: number
    if (codePoint < 0x80) {
      bytes = codePoint
      count = 1
    } else if (codePoint < 0x800) {
      bytes = (0xc0 | (codePoint >>> 6)) | ((0x80 | (codePoint & 0x3f)) << 8)
      count = 2
    } else if (codePoint < 0x10000) {
      bytes = (0xe0 | (codePoint >>> 12)) | ((0x80 | ((codePoint >>> 6) & 0x3f)) << 8) |
        ((0x80 | (codePoint & 0x3f)) << 16)
      count = 3
    } else {
      bytes = (0xf0 | (codePoint >>> 18)) | ((0x80 | ((codePoint >>> 12) & 0x3f)) << 8) |
        ((0x80 | ((codePoint >>> 6) & 0x3f)) << 16) | ((0x80 | (codePoint & 0x3f)) << 24)
      count = 4
    }

    for (let b = 0; b < count; b++) {
      block |= ((bytes >>> (8 * b)) & 0xff) << (8 * blockBytes)
      if (++blockBytes === 4) {
        hash = mixBlock(hash, block)
        block = 0
        blockBytes = 0
      }
    }
    byteLength += count
  }

  if (blockBytes > 0) hash ^= scrambleBlock(block)
  return finalize(hash ^ byteLength)
}

function scrambleBlock(block: number): number {
  let k = Math.imul(block, 0xcc9e2d51)
  k = (k << 15) | (k >>> 17)
  return Math.imul(k, 0x1b873593)
}

function mixBlock(hash: number, block: number): number {
  let h = hash ^ scrambleBlock(block)
  h = (h << 13) | (h >>> 19)
  return (Math.imul(h, 5) + 0xe6546b64) | 0
}

/** The murmur3 finalizer ("fmix32"): spreads every input bit over the whole output. */
function finalize(hash: number): number {
  let h = hash ^ (hash >>> 16)
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}
