/** A host and port as written in `listen:` and `address:` ("127.0.0.1:8080", "[::1]:80", ":8080", "8080"). */
export interface HostPort {
  readonly host: string
  readonly port: number
}

/** Parses "host:port"; a missing host means all interfaces (0.0.0.0). Returns a reason string when invalid. */
export function parseHostPort(text: string, options: { defaultHost?: string } = {}): HostPort | string {
  const input = text.trim()
  let host: string
  let portText: string
  if (input.startsWith('[')) {
    const end = input.indexOf(']')
    if (end < 0 || input[end + 1] !== ':') return `'${text}' is not host:port (IPv6 hosts look like [::1]:8080)`
    host = input.slice(1, end)
    portText = input.slice(end + 2)
  } else {
    const colon = input.lastIndexOf(':')
    if (colon < 0) {
      host = options.defaultHost ?? ''
      portText = input
    } else {
      host = input.slice(0, colon)
      portText = input.slice(colon + 1)
      if (host.includes(':')) return `'${text}' is not host:port (write IPv6 hosts in brackets: [::1]:8080)`
    }
  }
  if (host === '') {
    if (options.defaultHost === undefined) return `'${text}' has no host`
    host = options.defaultHost
  }
  if (!/^\d{1,5}$/.test(portText)) return `'${text}' has no valid port`
  const port = Number(portText)
  if (port > 65535) return `port ${port} in '${text}' is out of range (0-65535)`
  return { host, port }
}

export function formatHostPort(hp: HostPort): string {
  return hp.host.includes(':') ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`
}
