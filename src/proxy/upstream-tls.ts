import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import type { ConnectionOptions } from 'node:tls'
import type { UpstreamTlsConfig } from '../config/schema.js'

const cache = new WeakMap<UpstreamTlsConfig, ConnectionOptions>()

/**
 * Node's TLS client options for a backend's `tls:` section: certificates are verified (against `ca` when given,
 * else the system's store) unless `verify: false`; SNI is the configured name, else the server's host when it is
 * a name. The CA file is read once per configuration snapshot (it was checked when the file was loaded).
 */
export function upstreamTlsOptions(config: UpstreamTlsConfig): ConnectionOptions {
  let options = cache.get(config)
  if (options === undefined) {
    options = {
      rejectUnauthorized: config.verify,
      ...(config.ca === undefined ? {} : { ca: readFileSync(config.ca) }),
      ...(config.sni === undefined ? {} : { servername: config.sni }),
      ALPNProtocols: ['http/1.1'],
    }
    cache.set(config, options)
  }
  return options
}

/** The SNI to send to `host` when none is configured: host names only ('' tells node to send none). */
export function defaultServerName(host: string): string {
  return isIP(host) === 0 ? host : ''
}
