import net, { type AddressInfo } from 'node:net'

/** One HTTP/1.1 response as read off the wire, before any client library interprets it. */
export interface RawReply {
  readonly status: number
  /** Header lines in arrival order, names lower-cased. */
  readonly headers: ReadonlyArray<readonly [string, string]>
  readonly body: string
  /** Everything the socket delivered. */
  readonly raw: string
}

/** Values of one header (lower-case name) in a raw reply, in order. */
export function headerValues(reply: RawReply, lowerName: string): string[] {
  return reply.headers.filter(([name]) => name === lowerName).map(([, value]) => value)
}

/** "http://127.0.0.1:1234" -> { host, port }. */
export function hostPortOf(url: string): { host: string; port: number } {
  const u = new URL(url)
  return { host: u.hostname, port: Number(u.port) }
}

/**
 * Parses the first response in `text`; undefined while it is incomplete. A response without Content-Length or
 * chunked framing is complete only when `closed` (it runs to the end of the connection).
 */
export function parseRawResponse(text: string, closed: boolean): RawReply | undefined {
  const headEnd = text.indexOf('\r\n\r\n')
  if (headEnd < 0) return undefined
  const lines = text.slice(0, headEnd).split('\r\n')
  const status = Number(lines[0]!.split(' ')[1])
  const headers = lines.slice(1).map((line): readonly [string, string] => {
    const colon = line.indexOf(':')
    return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()]
  })
  const rest = text.slice(headEnd + 4)
  const length = headers.find(([name]) => name === 'content-length')?.[1]
  const chunked = headers.some(([name, value]) => name === 'transfer-encoding' && value.toLowerCase().includes('chunked'))
  if (status === 100) {
    // The interim answer is skipped, but `raw` keeps it so that a test can tell it was sent.
    const next = parseRawResponse(rest, closed)
    return next === undefined ? undefined : { ...next, raw: text }
  }
  if (length !== undefined) {
    const n = Number(length)
    if (Buffer.byteLength(rest, 'latin1') < n) return closed ? { status, headers, body: rest, raw: text } : undefined
    return { status, headers, body: rest.slice(0, n), raw: text }
  }
  if (chunked) {
    let body = ''
    let at = 0
    for (;;) {
      const lineEnd = rest.indexOf('\r\n', at)
      if (lineEnd < 0) return closed ? { status, headers, body, raw: text } : undefined
      const size = parseInt(rest.slice(at, lineEnd), 16)
      if (size === 0) return { status, headers, body, raw: text }
      if (rest.length < lineEnd + 2 + size + 2) return closed ? { status, headers, body, raw: text } : undefined
      body += rest.slice(lineEnd + 2, lineEnd + 2 + size)
      at = lineEnd + 2 + size + 2
    }
  }
  return closed ? { status, headers, body: rest, raw: text } : undefined
}

/**
 * Writes exact bytes on a fresh TCP connection and resolves with the first complete response (the socket is
 * then closed). `parts` are written in order, `gapMs` apart. Rejects when no complete response arrived within
 * `timeoutMs`, or when the connection closed with no response at all.
 */
export function rawRequest(
  url: string,
  parts: string | Buffer | ReadonlyArray<string | Buffer>,
  options: { timeoutMs?: number; gapMs?: number } = {},
): Promise<RawReply> {
  const { host, port } = hostPortOf(url)
  const list = typeof parts === 'string' || Buffer.isBuffer(parts) ? [parts] : parts
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port })
    let text = ''
    let settled = false
    const finish = (err: Error | undefined, reply?: RawReply): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      if (err !== undefined) reject(err)
      else resolve(reply!)
    }
    const timer = setTimeout(() => finish(new Error(`no complete response within ${options.timeoutMs ?? 5000} ms; got: ${JSON.stringify(text)}`)), options.timeoutMs ?? 5000)
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => {
      text += chunk
      const reply = parseRawResponse(text, false)
      if (reply !== undefined) finish(undefined, reply)
    })
    socket.on('close', () => {
      const reply = parseRawResponse(text, true)
      if (reply !== undefined) finish(undefined, reply)
      else finish(new Error(`connection closed without a response; got: ${JSON.stringify(text)}`))
    })
    socket.on('error', () => {
      // 'close' follows and decides
    })
    socket.once('connect', () => {
      void (async () => {
        for (let i = 0; i < list.length; i++) {
          if (i > 0 && options.gapMs !== undefined) await new Promise((r) => setTimeout(r, options.gapMs))
          if (settled || socket.destroyed) return
          socket.write(list[i]!)
        }
      })()
    })
  })
}

/** A TCP port on 127.0.0.1 that nothing listens on (bound, then released). */
export async function refusedPort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}
