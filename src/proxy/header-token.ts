/**
 * Header field names as RFC 9110 section 5.1 defines them (tokens), and a comparison with a lower-case name
 * that allocates nothing (a `toLowerCase()` per header is a string per header per request).
 */

/** 1 for the bytes allowed in a token (tchar, RFC 9110 section 5.6.2), else 0. */
export const TOKEN_CHARS = new Uint8Array(256)
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TOKEN_CHARS[c.charCodeAt(0)] = 1

/**
 * True when `name` equals `lower` (lower-case letters, digits and '-') ignoring case. Setting bit 0x20 maps only
 * 'A'-'Z' onto 'a'-'z' among token characters, so for a token `name` the answer is exact.
 */
export function equalsToken(name: string, lower: string): boolean {
  if (name.length !== lower.length) return false
  for (let i = 0; i < name.length; i++) {
    if ((name.charCodeAt(i) | 0x20) !== lower.charCodeAt(i)) return false
  }
  return true
}
