import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { hash32 } from '../src/balance/hash-function.js'

/** Straightforward MurmurHash3 x86_32 over a byte buffer, as in the reference implementation. */
function referenceMurmur3(bytes: Uint8Array, seed: number): number {
  const c1 = 0xcc9e2d51
  const c2 = 0x1b873593
  let h = seed | 0
  const blocks = bytes.length - (bytes.length % 4)
  for (let i = 0; i < blocks; i += 4) {
    let k = bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24)
    k = Math.imul(k, c1)
    k = (k << 15) | (k >>> 17)
    h ^= Math.imul(k, c2)
    h = (h << 13) | (h >>> 19)
    h = (Math.imul(h, 5) + 0xe6546b64) | 0
  }
  let k = 0
  for (let i = bytes.length - 1; i >= blocks; i--) k = (k << 8) | bytes[i]
  if (bytes.length > blocks) {
    k = Math.imul(k, c1)
    k = (k << 15) | (k >>> 17)
    h ^= Math.imul(k, c2)
  }
  h ^= bytes.length
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

describe('hash32', () => {
  it('matches the published MurmurHash3 x86_32 test vectors (these values must never change)', () => {
    assert.equal(hash32(''), 0)
    assert.equal(hash32('', 1), 0x514e28b7)
    assert.equal(hash32('', 0xffffffff), 0x81f16f39)
    assert.equal(hash32('test'), 0xba6bd213)
    assert.equal(hash32('Hello, world!', 1234), 0xfaf6cdb3)
    assert.equal(hash32('The quick brown fox jumps over the lazy dog'), 0x2e4ff723)
    assert.equal(hash32('aaaa', 0x9747b28c), 0x5a97808a)
    assert.equal(hash32('abc', 0x9747b28c), 0xc84a62dd)
  })

  it('hashes the UTF-8 bytes of any string, lone surrogates included', () => {
    const samples = ['é', 'naïve café', '€100', '日本語のキー', '😀 emoji 🚀', 'a\u{10ffff}b', '\ud800', 'x\udc00y', '\udbff\ud800']
    for (const text of samples) {
      for (const seed of [0, 42]) {
        assert.equal(hash32(text, seed), referenceMurmur3(Buffer.from(text, 'utf8'), seed), JSON.stringify(text))
      }
    }
  })

  it('changes about half the output bits when one input bit changes', () => {
    let flippedBits = 0
    let samples = 0
    for (let i = 0; i < 2000; i++) {
      const base = `session-${i}`
      const changed = base.slice(0, -1) + String.fromCharCode(base.charCodeAt(base.length - 1) ^ 1)
      let diff = hash32(base) ^ hash32(changed)
      for (; diff !== 0; diff &= diff - 1) flippedBits++
      samples++
    }
    const average = flippedBits / samples
    assert.ok(average > 15 && average < 17, `average ${average} bits flipped`)
  })
})
