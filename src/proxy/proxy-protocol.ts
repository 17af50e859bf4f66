import { isIPv4, isIPv6, type Socket } from 'node:net'

/**
 * The PROXY protocol header (HAProxy's spec, versions 1 and 2) that a tcp frontend sends first on each server
 * connection, so that the server learns the client's address and port. Written here rather than taken from a
 * package: only the sending side is needed, the PROXY command over TCP4/TCP6 (no TLVs), which is a few
 * fixed-layout bytes; a dependency would bring parsers and options we would never use.
 */

/** The two ends of the client's connection: the client (source) and the balancer address it reached (destination). */
export interface ProxyEndpoints {
  readonly sourceAddress: string | undefined
  readonly sourcePort: number | undefined
  readonly destinationAddress: string | undefined
  readonly destinationPort: number | undefined
}

export type ProxyProtocolVersion = 'v1' | 'v2'

/** The 12 bytes that open every version 2 header. */
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a])
/** Version 2 in the high nibble, command PROXY (the connection was relayed for a client) in the low one. */
const V2_PROXY_COMMAND = 0x21
const V2_TCP4 = 0x11
const V2_TCP6 = 0x21
/** AF_UNSPEC: the receiver uses the connection's own endpoints. */
const V2_UNSPEC = 0x00

export function proxyEndpointsOf(client: Socket): ProxyEndpoints {
  return {
    sourceAddress: client.remoteAddress,
    sourcePort: client.remotePort,
    destinationAddress: client.localAddress,
    destinationPort: client.localPort,
  }
}

export function buildProxyHeader(version: ProxyProtocolVersion, endpoints: ProxyEndpoints): Buffer {
  return version === 'v1' ? Buffer.from(buildProxyV1(endpoints), 'latin1') : buildProxyV2(endpoints)
}

/** `PROXY TCP4 src dst sport dport\r\n` (or TCP6), or `PROXY UNKNOWN\r\n` when the ends are not known. */
export function buildProxyV1(endpoints: ProxyEndpoints): string {
  const ends = resolveEnds(endpoints)
  if (ends === undefined) return 'PROXY UNKNOWN\r\n'
  return `PROXY ${ends.family === 4 ? 'TCP4' : 'TCP6'} ${ends.source} ${ends.destination} ${ends.sourcePort} ${ends.destinationPort}\r\n`
}

/** Signature, version/command, family, length, then source and destination addresses and ports (network order). */
export function buildProxyV2(endpoints: ProxyEndpoints): Buffer {
  const ends = resolveEnds(endpoints)
  if (ends === undefined) {
    const header = Buffer.alloc(16)
    V2_SIGNATURE.copy(header, 0)
    header[12] = V2_PROXY_COMMAND
    header[13] = V2_UNSPEC
    header.writeUInt16BE(0, 14)
    return header
  }
  const addressLength = ends.family === 4 ? 4 : 16
  const blockLength = 2 * addressLength + 4
  const header = Buffer.alloc(16 + blockLength)
  V2_SIGNATURE.copy(header, 0)
  header[12] = V2_PROXY_COMMAND
  header[13] = ends.family === 4 ? V2_TCP4 : V2_TCP6
  header.writeUInt16BE(blockLength, 14)
  const encode = ends.family === 4 ? ipv4Bytes : ipv6Bytes
  encode(ends.source).copy(header, 16)
  encode(ends.destination).copy(header, 16 + addressLength)
  header.writeUInt16BE(ends.sourcePort, 16 + 2 * addressLength)
  header.writeUInt16BE(ends.destinationPort, 18 + 2 * addressLength)
  return header
}

interface Ends {
  readonly family: 4 | 6
  readonly source: string
  readonly destination: string
  readonly sourcePort: number
  readonly destinationPort: number
}

/**
 * Both addresses in one family: IPv4 when both are IPv4 (an IPv4-mapped IPv6 address, as a dual-stack listener
 * reports IPv4 clients, counts as IPv4), else IPv6 (an IPv4 address then written in its mapped form).
 */
function resolveEnds(e: ProxyEndpoints): Ends | undefined {
  if (e.sourceAddress === undefined || e.destinationAddress === undefined || e.sourcePort === undefined || e.destinationPort === undefined) {
    return undefined
  }
  const source = plainAddress(e.sourceAddress)
  const destination = plainAddress(e.destinationAddress)
  if (source === undefined || destination === undefined) return undefined
  const ports = { sourcePort: e.sourcePort, destinationPort: e.destinationPort }
  if (isIPv4(source) && isIPv4(destination)) return { family: 4, source, destination, ...ports }
  return { family: 6, source: asIPv6(source), destination: asIPv6(destination), ...ports }
}

/** The address without a zone (`fe80::1%eth0`), IPv4-mapped IPv6 as IPv4; undefined when it is not an IP address. */
function plainAddress(address: string): string | undefined {
  const zone = address.indexOf('%')
  const bare = zone >= 0 ? address.slice(0, zone) : address
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare)
  if (mapped !== null && isIPv4(mapped[1]!)) return mapped[1]
  if (isIPv4(bare) || isIPv6(bare)) return bare
  return undefined
}

function asIPv6(address: string): string {
  return isIPv4(address) ? `::ffff:${address}` : address
}

function ipv4Bytes(address: string): Buffer {
  return Buffer.from(address.split('.').map(Number))
}

/** 16 bytes of a valid IPv6 text address (`::` shorthand and a dotted IPv4 tail included). */
function ipv6Bytes(address: string): Buffer {
  const bytes = Buffer.alloc(16)
  let text = address
  let groupsEnd = 16
  const lastColon = text.lastIndexOf(':')
  if (text.includes('.', lastColon)) {
    // A dotted IPv4 tail (`::ffff:1.2.3.4`, `64:ff9b::1.2.3.4`) fills the last four bytes; a `::` before it stays.
    ipv4Bytes(text.slice(lastColon + 1)).copy(bytes, 12)
    text = text[lastColon - 1] === ':' ? text.slice(0, lastColon + 1) : text.slice(0, lastColon)
    groupsEnd = 12
  }
  const gap = text.indexOf('::')
  const head = gap >= 0 ? text.slice(0, gap) : text
  const rest = gap >= 0 ? text.slice(gap + 2) : ''
  const headGroups = head === '' ? [] : head.split(':')
  const restGroups = rest === '' ? [] : rest.split(':')
  headGroups.forEach((group, i) => bytes.writeUInt16BE(parseInt(group, 16), i * 2))
  restGroups.forEach((group, i) => bytes.writeUInt16BE(parseInt(group, 16), groupsEnd - (restGroups.length - i) * 2))
  return bytes
}
