import { X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import tls, { type SecureContext, type SecureContextOptions } from 'node:tls'
import type { FrontendTlsConfig } from '../config/schema.js'

/**
 * A TLS frontend's certificates, ready for a listener: the default certificate's options and, for SNI, one secure
 * context per other certificate, found by exact name or by a one-label wildcard (`*.example.com` matches
 * `a.example.com`, not `a.b.example.com` nor `example.com`), as RFC 6125 section 6.4.3 describes.
 */
export interface TlsSetup {
  /** Options for the listener's default context: certificate, key and protocol floor. */
  readonly defaults: SecureContextOptions
  /** The context for a client's SNI name, or undefined for the default certificate. */
  contextFor(servername: string): SecureContext | undefined
}

const cache = new WeakMap<FrontendTlsConfig, TlsSetup>()

/**
 * Reads the certificate files of a `tls:` section (once per configuration snapshot) and builds its contexts.
 * Throws when a file cannot be read or a key does not match its certificate: a reload calls this before it
 * changes anything, so a broken file leaves the running certificates in place.
 */
export function tlsSetupFor(config: FrontendTlsConfig): TlsSetup {
  let setup = cache.get(config)
  if (setup === undefined) {
    setup = buildTlsSetup(config)
    cache.set(config, setup)
  }
  return setup
}

function buildTlsSetup(config: FrontendTlsConfig): TlsSetup {
  const minVersion = config.min_version
  const defaults: SecureContextOptions = { cert: readFileSync(config.cert), key: readFileSync(config.key), minVersion }
  // Checks the default pair now (a mismatch throws here, not at the first handshake).
  tls.createSecureContext(defaults)
  const exact = new Map<string, SecureContext>()
  const wildcard = new Map<string, SecureContext>()
  for (const entry of config.certificates) {
    const cert = readFileSync(entry.cert)
    const context = tls.createSecureContext({ cert, key: readFileSync(entry.key), minVersion })
    for (const name of entry.sni ?? certificateNames(cert)) {
      const lower = name.toLowerCase()
      // The first certificate listed for a name wins, as in the file's order.
      const table = lower.startsWith('*.') ? wildcard : exact
      const key = lower.startsWith('*.') ? lower.slice(2) : lower
      if (!table.has(key)) table.set(key, context)
    }
  }
  return {
    defaults,
    contextFor(servername: string): SecureContext | undefined {
      const name = servername.toLowerCase()
      const found = exact.get(name)
      if (found !== undefined) return found
      const dot = name.indexOf('.')
      return dot < 0 ? undefined : wildcard.get(name.slice(dot + 1))
    },
  }
}

/** DNS names of a certificate (the first one in a PEM chain): its subjectAltName entries, else its CN. */
export function certificateNames(pem: Buffer): string[] {
  const cert = new X509Certificate(pem)
  const names: string[] = []
  for (const part of (cert.subjectAltName ?? '').split(',')) {
    const entry = part.trim()
    if (entry.startsWith('DNS:')) names.push(entry.slice(4))
  }
  if (names.length > 0) return names
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1]
  return cn === undefined ? [] : [cn.trim()]
}
