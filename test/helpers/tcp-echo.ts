import net, { type AddressInfo, type Socket } from 'node:net'
import { Duplex } from 'node:stream'
import tls from 'node:tls'
import { within } from './wait.js'

/** A PROXY protocol header as an echo server read it (version 1 text or version 2 binary). */
export interface ReceivedProxyHeader {
  readonly version: 1 | 2
  readonly family: 'TCP4' | 'TCP6' | 'UNKNOWN'
  readonly source: string
  readonly destination: string
  readonly sourcePort: number
  readonly destinationPort: number
}

export interface TcpEcho {
  readonly name: string
  readonly port: number
  readonly address: string
  /** Connections accepted so far. */
  readonly accepted: () => number
  /** Connections open now. */
  readonly open: () => number
  /** PROXY headers received, in order (with `proxyProtocol: true`). */
  readonly proxyHeaders: ReceivedProxyHeader[]
  /** Stops listening and waits for the open connections to close (the clients close them). */
  close(): Promise<void>
  /** Stops listening and resets every open connection (a crashed server). */
  kill(): Promise<void>
}

export interface TcpEchoOptions {
  /** Serve TLS with this certificate (the greeting and echo run inside TLS). */
  readonly tls?: { readonly key: Buffer; readonly cert: Buffer }
  /** Read a PROXY protocol header (v1 or v2) first, before TLS if any. */
  readonly proxyProtocol?: boolean
}

/**
 * A TCP echo server on 127.0.0.1 and a free port. Each connection is greeted with the server's name and a
 * newline, then every byte is echoed; a FIN from the client is answered, after the echo, with a FIN
 * (half-close works: a client may end its side and still read).
 */
export async function startTcpEcho(name: string, options: TcpEchoOptions = {}): Promise<TcpEcho> {
  const sockets = new Set<Socket>()
  const proxyHeaders: ReceivedProxyHeader[] = []
  let accepted = 0
  const serve = (socket: Socket): void => {
    socket.on('error', () => socket.destroy())
    socket.write(`${name}\n`)
    socket.on('data', (chunk: Buffer) => socket.write(chunk))
    socket.on('end', () => socket.end())
  }
  const secure = (socket: Socket, stream: Duplex = socket): void => {
    if (options.tls === undefined) return serve(socket)
    const tlsSocket = new tls.TLSSocket(stream as Socket, { isServer: true, key: options.tls.key, cert: options.tls.cert })
    tlsSocket.on('error', () => socket.destroy())
    tlsSocket.once('secure', () => serve(tlsSocket))
  }
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    accepted++
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => socket.destroy())
    if (options.proxyProtocol !== true) return secure(socket)
    readProxyHeader(socket, (header, rest) => {
      if (header === undefined) return void socket.destroy()
      proxyHeaders.push(header)
      if (options.tls === undefined) {
        if (rest.length > 0) socket.unshift(rest)
        socket.resume()
        return serve(socket)
      }
      // TLS over a socket takes its handle and would miss bytes already read: it gets a stream fed from here.
      secure(socket, relay(socket, rest))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    name,
    port,
    address: `127.0.0.1:${port}`,
    accepted: () => accepted,
    open: () => sockets.size,
    proxyHeaders,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    kill: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      for (const s of sockets) s.resetAndDestroy()
      await closed
    },
  }
}

const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a])

/** Reads a v1 or v2 header off `socket` (then paused); `rest` holds the bytes read after it. */
function readProxyHeader(socket: Socket, done: (header: ReceivedProxyHeader | undefined, rest: Buffer) => void): void {
  let buffered = Buffer.alloc(0)
  const onData = (chunk: Buffer): void => {
    buffered = Buffer.concat([buffered, chunk])
    const parsed = parseProxyHeader(buffered)
    if (parsed === 'more') return
    socket.removeListener('data', onData)
    socket.pause()
    if (parsed === undefined) return done(undefined, Buffer.alloc(0))
    done(parsed.header, buffered.subarray(parsed.length))
  }
  socket.on('data', onData)
}

/** A duplex stream over `socket` whose reading starts with `first`. */
function relay(socket: Socket, first: Buffer): Duplex {
  const duplex = new Duplex({
    read: () => void socket.resume(),
    write: (chunk: Buffer, _encoding, callback) => void socket.write(chunk, callback),
    final: (callback) => {
      socket.end()
      callback()
    },
    destroy: (err, callback) => {
      socket.destroy()
      callback(err)
    },
  })
  if (first.length > 0) duplex.push(first)
  socket.on('data', (chunk: Buffer) => {
    if (!duplex.push(chunk)) socket.pause()
  })
  socket.on('end', () => duplex.push(null))
  socket.on('close', () => duplex.destroy())
  return duplex
}

/** A header at the start of `data`, 'more' when incomplete, undefined when it is not a valid header. */
export function parseProxyHeader(data: Buffer): { header: ReceivedProxyHeader; length: number } | 'more' | undefined {
  if (data.length < 16) return data.length >= 6 && data.subarray(0, 6).toString('latin1') === 'PROXY ' && data.includes('\r\n') ? parseV1(data) : 'more'
  if (data.subarray(0, 12).equals(V2_SIGNATURE)) return parseV2(data)
  if (data.subarray(0, 6).toString('latin1') === 'PROXY ') return parseV1(data)
  return undefined
}

function parseV1(data: Buffer): { header: ReceivedProxyHeader; length: number } | 'more' | undefined {
  const end = data.indexOf('\r\n')
  if (end < 0) return data.length > 107 ? undefined : 'more'
  const parts = data.subarray(0, end).toString('latin1').split(' ')
  const length = end + 2
  if (parts[1] === 'UNKNOWN') return { header: { version: 1, family: 'UNKNOWN', source: '', destination: '', sourcePort: 0, destinationPort: 0 }, length }
  if (parts.length !== 6 || (parts[1] !== 'TCP4' && parts[1] !== 'TCP6')) return undefined
  return {
    header: { version: 1, family: parts[1], source: parts[2]!, destination: parts[3]!, sourcePort: Number(parts[4]), destinationPort: Number(parts[5]) },
    length,
  }
}

function parseV2(data: Buffer): { header: ReceivedProxyHeader; length: number } | 'more' | undefined {
  if (data[12] !== 0x21) return undefined
  const blockLength = data.readUInt16BE(14)
  if (data.length < 16 + blockLength) return 'more'
  const length = 16 + blockLength
  const family = data[13]
  if (family === 0x00) return { header: { version: 2, family: 'UNKNOWN', source: '', destination: '', sourcePort: 0, destinationPort: 0 }, length }
  const size = family === 0x11 ? 4 : family === 0x21 ? 16 : 0
  if (size === 0 || blockLength < 2 * size + 4) return undefined
  const text = size === 4 ? ipv4Text : ipv6Text
  return {
    header: {
      version: 2,
      family: size === 4 ? 'TCP4' : 'TCP6',
      source: text(data.subarray(16, 16 + size)),
      destination: text(data.subarray(16 + size, 16 + 2 * size)),
      sourcePort: data.readUInt16BE(16 + 2 * size),
      destinationPort: data.readUInt16BE(18 + 2 * size),
    },
    length,
  }
}

function ipv4Text(bytes: Buffer): string {
  return [...bytes].join('.')
}

/** Full form, groups without leading zeros (e.g. `0:0:0:0:0:ffff:102:304`): tests compare bytes, not spelling. */
function ipv6Text(bytes: Buffer): string {
  const groups: string[] = []
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16))
  return groups.join(':')
}

/**
 * A client of an echo server through the balancer: reads lines, and sees the end and the close. It answers a FIN
 * with a FIN (the default of node's sockets), as most clients do. `localAddress` (e.g. 127.0.0.2, any address of
 * 127.0.0.0/8 on Linux) makes it connect from another source address.
 */
export interface TcpClient {
  readonly socket: Socket
  /** The next line received (waits for it; fails after a few seconds). */
  line(): Promise<string>
  /** Writes `text` and a newline, and returns the next line received (the echo). */
  roundTrip(text: string): Promise<string>
  /** Everything received so far. */
  received(): string
  /** Resolves when the other side sent a FIN. */
  readonly ended: Promise<void>
  /** Resolves when the socket closed; true when it closed with an error (a reset). */
  readonly closed: Promise<boolean>
}

export async function connectClient(port: number, options: { tls?: tls.ConnectionOptions; localAddress?: string } = {}): Promise<TcpClient> {
  const from = options.localAddress === undefined ? {} : { localAddress: options.localAddress }
  const socket =
    options.tls === undefined
      ? net.connect({ host: '127.0.0.1', port, ...from })
      : tls.connect({ host: '127.0.0.1', port, ...from, ...options.tls })
  let text = ''
  let read = 0
  let waiter: (() => void) | undefined
  socket.setEncoding('utf8')
  socket.on('data', (chunk: string) => {
    text += chunk
    waiter?.()
  })
  socket.on('error', () => undefined)
  const ended = new Promise<void>((resolve) => socket.once('end', () => resolve()))
  const closed = new Promise<boolean>((resolve) => socket.once('close', (hadError) => resolve(hadError)))
  await within('the client connection', new Promise<void>((resolve, reject) => {
    socket.once(options.tls === undefined ? 'connect' : 'secureConnect', () => resolve())
    socket.once('error', reject)
  }))
  const line = (): Promise<string> =>
    within(
      'a line',
      new Promise<string>((resolve, reject) => {
        const check = (): void => {
          const end = text.indexOf('\n', read)
          if (end >= 0) {
            settle()
            const value = text.slice(read, end)
            read = end + 1
            return resolve(value)
          }
          if (socket.readableEnded || socket.destroyed) {
            settle()
            reject(new Error(`connection ended before a line; received ${JSON.stringify(text)}`))
          }
        }
        const settle = (): void => {
          waiter = undefined
          socket.removeListener('end', check)
          socket.removeListener('close', check)
        }
        waiter = check
        socket.on('end', check)
        socket.on('close', check)
        check()
      }),
      5000,
    )
  return {
    socket,
    line,
    roundTrip: (value) => {
      socket.write(`${value}\n`)
      return line()
    },
    received: () => text,
    ended,
    closed,
  }
}
