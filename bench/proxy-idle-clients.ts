/**
 * Child process of bench/proxy's memory scenario: opens --count keep-alive connections to 127.0.0.1:--port,
 * sends one GET on each (so that each is a real client connection that went through the proxy, with its
 * parser and state), reads the answer, then leaves the connection idle. A separate process, so that 10,000
 * sockets cost the bench nothing and the fd limit can be raised for it alone.
 * Protocol: prints one JSON line {"event":"ready",...} when all are open; on a "report" line on stdin prints
 * {"event":"report","open":N} (how many are still open); exits when stdin closes.
 */
import { connect, type Socket } from 'node:net'
import { createInterface } from 'node:readline'

function option(name: string, fallback: number | string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1]! : String(fallback)
}

const port = Number(option('port', 0))
const count = Number(option('count', 10_000))
// Requests in flight at once while opening: keeps the proxies' upstream pools small, so that what grows is the
// cost of the client connections themselves.
const concurrency = Number(option('concurrency', 100))
const path = option('path', '/small')

const sockets: Socket[] = []
let open = 0
let failed = 0

/** Opens one connection and completes one request on it; resolves true when the answer arrived whole. */
function openOne(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    let received = Buffer.alloc(0)
    let settled = false
    let counted = false
    const settle = (ok: boolean): void => {
      if (settled) return
      settled = true
      socket.removeAllListeners('data')
      if (ok) {
        counted = true
        open++
      } else failed++
      resolve(ok)
    }
    socket.on('connect', () => socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`))
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk])
      const end = received.indexOf('\r\n\r\n')
      if (end < 0) return
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(received.subarray(0, end).toString('latin1'))
      if (length === null || received.length >= end + 4 + Number(length[1])) settle(/^HTTP\/1\.1 200/.test(received.toString('latin1', 0, 12)))
    })
    socket.on('error', () => settle(false))
    socket.on('close', () => {
      // An answered connection closed later: the proxy dropped an idle client.
      if (counted) open--
      counted = false
      settle(false)
    })
    sockets.push(socket)
  })
}

const started = Date.now()
let next = 0
async function worker(): Promise<void> {
  while (next < count) {
    next++
    await openOne()
  }
}
await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
process.stdout.write(`${JSON.stringify({ event: 'ready', open, failed, ms: Date.now() - started })}\n`)

const lines = createInterface({ input: process.stdin })
lines.on('line', (line) => {
  if (line.trim() === 'report') process.stdout.write(`${JSON.stringify({ event: 'report', open })}\n`)
})
lines.on('close', () => {
  for (const s of sockets) s.destroy()
  process.exit(0)
})
