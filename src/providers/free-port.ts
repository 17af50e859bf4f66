import net, { type AddressInfo } from 'node:net'

/**
 * A port that is free on `host` right now: bind port 0, read the port, close. Another process may take it before
 * the instance binds it; the caller keeps that window short (it spawns at once) and retries when it happens.
 */
export function pickFreePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.once('error', reject)
    server.listen({ port: 0, host, exclusive: true }, () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })
}

/** The address to reach a server listening on `host`: a wildcard host is reached through the loopback. */
export function reachableHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1'
  if (host === '::' || host === '[::]') return '::1'
  return host
}
