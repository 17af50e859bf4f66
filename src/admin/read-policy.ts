import { isIP } from 'node:net'

/**
 * Whether reads (the state, the stats data, events, metrics) need the token too. `admin.stats_public` decides
 * when it is set; unset, reads are open only on a loopback listener, where only this machine can reach them.
 */
export function readsNeedToken(statsPublic: boolean | undefined, listenHost: string): boolean {
  if (statsPublic !== undefined) return !statsPublic
  return !isLoopback(listenHost)
}

export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase()
  if (bare === 'localhost' || bare === '::1') return true
  if (bare.startsWith('::ffff:')) return isLoopback(bare.slice('::ffff:'.length))
  return isIP(bare) === 4 && bare.startsWith('127.')
}
