import assert from 'node:assert/strict'
import { once } from 'node:events'
import { writeFileSync } from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import { createRequire } from 'node:module'
import net, { type AddressInfo, type Socket } from 'node:net'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import { WebSocket, WebSocketServer, type RawData } from 'ws'
import { sampleServiceConfig } from '../src/demo/sample-service.js'
import { closeFrame, FrameTracker } from '../src/proxy/websocket-frames.js'
import { startBalancer, tempDir } from './helpers/balancer.js'
import { cleanups } from './helpers/cleanup.js'
import { makeSelfSigned } from './helpers/self-signed.js'
import { startReleaseBalancer } from './helpers/release.js'
import { waitFor, within } from './helpers/wait.js'

const require = createRequire(import.meta.url)
const TOKEN = 'drain-token'
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

// ---- frame tracker ----

/** One frame as bytes: FIN set, `opcode`, payload `length` bytes of 'x', masked with a fixed key when asked. */
function frame(opcode: number, length: number, masked: boolean): Buffer {
  const lengthBytes = length < 126 ? 0 : length < 65536 ? 2 : 8
  const header = Buffer.alloc(2 + lengthBytes + (masked ? 4 : 0))
  header[0] = 0x80 | opcode
  header[1] = (masked ? 0x80 : 0) | (lengthBytes === 0 ? length : lengthBytes === 2 ? 126 : 127)
  if (lengthBytes === 2) header.writeUInt16BE(length, 2)
  if (lengthBytes === 8) header.writeBigUInt64BE(BigInt(length), 2)
  if (masked) header.set([0x11, 0x22, 0x33, 0x44], 2 + lengthBytes)
  return Buffer.concat([header, Buffer.alloc(length, 'x')])
}

/** A stream of frames and the offsets between two of them (0 and the end included). */
function stream(frames: Buffer[]): { bytes: Buffer; boundaries: Set<number> } {
  const boundaries = new Set([0])
  let offset = 0
  for (const f of frames) boundaries.add((offset += f.length))
  return { bytes: Buffer.concat(frames), boundaries }
}

const SAMPLE_FRAMES = [
  frame(0x1, 5, false), // text, 7-bit length
  frame(0x2, 0, true), // empty binary, masked
  frame(0x9, 0, false), // ping without payload
  frame(0x1, 125, true), // the largest 7-bit length
  frame(0x2, 126, false), // the smallest 16-bit length
  frame(0x2, 300, true), // 16-bit, masked
  frame(0x0, 65535, false), // the largest 16-bit length (a continuation frame)
  frame(0x2, 65536, true), // the smallest 64-bit length, masked
  frame(0x2, 70_000, false), // 64-bit
  frame(0x8, 2, true), // close
]

interface ReceiverLike {
  on(event: 'conclude', listener: (code: number, reason: Buffer) => void): void
  on(event: 'error', listener: (err: Error) => void): void
  write(chunk: Buffer): boolean
}

/** ws's own frame parser (not in its type definitions): the reference our close frames are checked against. */
const { Receiver } = require('ws') as { Receiver: new (options: { isServer: boolean }) => ReceiverLike }

function parseClose(bytes: Buffer, isServer: boolean): Promise<{ code: number; reason: string }> {
  const receiver = new Receiver({ isServer })
  return new Promise((resolve, reject) => {
    receiver.on('conclude', (code, reason) => resolve({ code, reason: reason.toString() }))
    receiver.on('error', reject)
    receiver.write(bytes)
  })
}

describe('WebSocket frame tracker', () => {
  it('knows the boundaries of frames fed one byte at a time (7-, 16- and 64-bit lengths, masked and not)', () => {
    const { bytes, boundaries } = stream(SAMPLE_FRAMES)
    const tracker = new FrameTracker()
    assert.equal(tracker.atBoundary, true)
    for (let i = 0; i < bytes.length; i++) {
      tracker.advance(bytes.subarray(i, i + 1))
      if (tracker.atBoundary !== boundaries.has(i + 1)) assert.fail(`after byte ${i + 1}: atBoundary ${tracker.atBoundary}`)
    }
    assert.equal(tracker.closeSeen, true, 'the close frame was seen')
  })

  it('ends between frames whatever byte the stream is split at', () => {
    const { bytes, boundaries } = stream(SAMPLE_FRAMES)
    for (let split = 0; split <= bytes.length; split++) {
      const tracker = new FrameTracker()
      tracker.advance(bytes.subarray(0, split))
      if (tracker.atBoundary !== boundaries.has(split)) assert.fail(`split at ${split}: atBoundary ${tracker.atBoundary}`)
      tracker.advance(bytes.subarray(split))
      if (!tracker.atBoundary) assert.fail(`split at ${split}: not between frames at the end`)
    }
  })

  it('finds the next boundary in a chunk, from any split point', () => {
    const { bytes, boundaries } = stream(SAMPLE_FRAMES)
    const sorted = [...boundaries].sort((a, b) => a - b)
    // A header split at every one of its bytes, and payloads split inside.
    for (let split = 1; split < bytes.length; split += split < 400 ? 1 : 997) {
      const tracker = new FrameTracker()
      const first = tracker.nextBoundary(bytes.subarray(0, split))
      assert.equal(first, 0, 'at the start of the stream, the boundary is right there')
      tracker.advance(bytes.subarray(0, split))
      const rest = bytes.subarray(split)
      const cut = tracker.nextBoundary(rest)
      const expected = sorted.find((b) => b >= split)! - split
      assert.equal(cut, expected, `split at ${split}`)
      assert.equal(tracker.atBoundary, true)
    }
    // A chunk that ends inside a frame has no boundary.
    const tracker = new FrameTracker()
    tracker.advance(bytes.subarray(0, 3))
    assert.equal(tracker.nextBoundary(bytes.subarray(3, 6)), -1)
  })

  it('follows frames produced by ws, both directions', async () => {
    // Real frames: what a ws client sends (masked) and receives (unmasked), captured at its socket.
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' })
    await once(wss, 'listening')
    const { port } = wss.address() as AddressInfo
    wss.on('connection', (ws) => ws.on('message', (data, binary) => ws.send(data as Buffer, { binary })))
    const ws = new WebSocket(`ws://127.0.0.1:${port}`)
    await once(ws, 'open')
    const received: Buffer[] = []
    const sent: Buffer[] = []
    const socket = (ws as unknown as { _socket: Socket })._socket
    socket.on('data', (c: Buffer) => received.push(c))
    const write = socket.write.bind(socket) as (chunk: Buffer, ...rest: unknown[]) => boolean
    ;(socket as unknown as { write: typeof write }).write = (chunk, ...rest) => {
      sent.push(Buffer.from(chunk))
      return write(chunk, ...rest)
    }
    const sizes = [0, 1, 125, 126, 65535, 65536, 100_000]
    let echoes = 0
    ws.on('message', () => echoes++)
    for (const size of sizes) ws.send(Buffer.alloc(size, 1))
    ws.ping()
    await waitFor('the echoes', () => (echoes === sizes.length ? true : undefined))
    await sleep(50)
    for (const [what, chunks] of [['sent', sent], ['received', received]] as const) {
      const tracker = new FrameTracker()
      for (const chunk of chunks) tracker.advance(chunk)
      assert.equal(tracker.atBoundary, true, `${what}: between frames`)
      // Split anywhere: the same.
      const all = Buffer.concat(chunks)
      for (let split = 1; split < all.length; split += 7919) {
        const t2 = new FrameTracker()
        t2.advance(all.subarray(0, split))
        t2.advance(all.subarray(split))
        assert.equal(t2.atBoundary, true, `${what}, split at ${split}`)
      }
    }
    ws.terminate()
    wss.close()
  })

  it('builds close frames that ws reads: masked toward a server, unmasked toward a client', async () => {
    const masked = closeFrame(1001, 'server going away', true)
    assert.equal(masked[0], 0x88)
    assert.equal(masked[1], 0x80 | 19)
    assert.equal(masked.length, 2 + 4 + 19)
    assert.deepEqual(await parseClose(masked, true), { code: 1001, reason: 'server going away' })
    const plain = closeFrame(1001, 'server going away', false)
    assert.deepEqual([...plain.subarray(0, 4)], [0x88, 19, 0x03, 0xe9])
    assert.equal(plain.subarray(4).toString(), 'server going away')
    assert.deepEqual(await parseClose(plain, false), { code: 1001, reason: 'server going away' })
    // Every frame gets its own masking key.
    assert.notDeepEqual(closeFrame(1001, 'x', true).subarray(2, 6), closeFrame(1001, 'x', true).subarray(2, 6))
    assert.throws(() => closeFrame(1001, 'r'.repeat(124), false), RangeError)
  })
})

// ---- long-lived connections leaving rotation ----

interface EchoServer {
  readonly address: string
  /** Server-side sockets, in order of connection, with the close code each got (undefined while open). */
  readonly sockets: { ws: WebSocket; closeCode?: number }[]
  close(): Promise<void>
}

/** A WebSocket echo server that answers "NAME:message". */
async function startEcho(t: TestContext, name: string): Promise<EchoServer> {
  const httpServer = http.createServer((_req, res) => res.end(name))
  const wss = new WebSocketServer({ server: httpServer })
  const sockets: EchoServer['sockets'] = []
  wss.on('connection', (ws) => {
    const entry: EchoServer['sockets'][number] = { ws }
    sockets.push(entry)
    ws.on('error', () => undefined)
    ws.on('close', (code) => (entry.closeCode = code))
    ws.on('message', (data) => ws.send(`${name}:${String(data)}`))
  })
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve))
  const close = async (): Promise<void> => {
    for (const { ws } of sockets) ws.terminate()
    wss.close()
    httpServer.closeAllConnections()
    await new Promise<void>((resolve) => httpServer.close(() => resolve()))
  }
  cleanups(t)(close)
  return { address: `127.0.0.1:${(httpServer.address() as AddressInfo).port}`, sockets, close }
}

interface Client {
  readonly ws: WebSocket
  /** Resolves with the close code (1006: the connection was cut without a close frame). */
  readonly closed: Promise<number>
  echo(text: string): Promise<string>
}

async function openClient(url: string): Promise<Client> {
  const ws = new WebSocket(url)
  ws.on('error', () => undefined)
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)))
  await within('the WebSocket to open', once(ws, 'open'))
  return {
    ws,
    closed,
    echo: (text) => {
      const reply = new Promise<string>((resolve) => ws.once('message', (data: RawData) => resolve(String(data))))
      ws.send(text)
      return within(`the echo of ${text}`, reply)
    },
  }
}

function yaml(servers: Record<string, string>, drainTimeout = '1s'): string {
  return `
admin: { listen: 127.0.0.1:0, token: ${TOKEN} }
access_log: false
frontends:
  web: { listen: 127.0.0.1:0, default_backend: app }
backends:
  app:
    drain_timeout: ${drainTimeout}
    servers:
${Object.entries(servers).map(([name, address]) => `      ${name}: { address: ${address} }`).join('\n')}
`
}

type Lb = Awaited<ReturnType<typeof startBalancer>>

async function adminCall(lb: Lb, method: string, path: string, body?: unknown): Promise<number> {
  const a = lb.adminListen!
  const res = await fetch(`http://${a.host}:${a.port}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  await res.text()
  return res.status
}

async function setAdmin(lb: Lb, server: string, admin: string): Promise<void> {
  assert.equal(await adminCall(lb, 'POST', `/api/v1/backends/app/servers/${server}`, { admin }), 200)
}

/** Rewrites the balancer's file and reloads it through the admin API. */
async function reloadWith(lb: Lb, text: string): Promise<void> {
  writeFileSync(lb.configFile!, text)
  assert.equal(await adminCall(lb, 'POST', '/api/v1/reload'), 200)
}

function wsUrl(lb: Lb): string {
  return lb.url().replace('http://', 'ws://')
}

describe('WebSockets of a server leaving rotation', () => {
  it('drain: the WebSocket stays open (across a reload) until drain_timeout, then both sides get 1001', async (t) => {
    const a = await startEcho(t, 'a')
    const b = await startEcho(t, 'b')
    const lb = await startBalancer(yaml({ a: a.address }))
    cleanups(t)(() => lb.stop(0))
    const client = await openClient(wsUrl(lb))
    assert.equal(await client.echo('1'), 'a:1')
    let closedAt = 0
    void client.closed.then(() => (closedAt = Date.now()))

    const drainedAt = Date.now()
    await setAdmin(lb, 'a', 'drain')
    assert.equal(await client.echo('2'), 'a:2', 'a drained server keeps its WebSocket')
    // A reload (a server added) keeps the drained server, its WebSocket and its pending close.
    await reloadWith(lb, yaml({ a: a.address, b: b.address }))
    assert.equal(await client.echo('3'), 'a:3', 'the reload did not touch the WebSocket')
    assert.equal(lb.state().backends[0]!.servers.find((s) => s.name === 'a')!.admin, 'drain')

    const code = await within('the close after drain_timeout', client.closed)
    assert.equal(code, 1001, 'Going Away')
    assert.ok(closedAt - drainedAt >= 950, `closed ${closedAt - drainedAt} ms after the drain, not before drain_timeout (1 s)`)
    await waitFor('the server side to close', () => a.sockets[0]!.closeCode)
    assert.equal(a.sockets[0]!.closeCode, 1001, 'the server got a close frame 1001 too')
    await waitFor('the tunnel to end', () => (lb.frontends.get('web')!.activeRequests === 0 ? true : undefined))
    // New WebSockets go to the server in rotation.
    const next = await openClient(wsUrl(lb))
    assert.equal(await next.echo('4'), 'b:4')
    next.ws.terminate()
  })

  it('a server set back to ready before drain_timeout keeps its WebSocket', async (t) => {
    const a = await startEcho(t, 'a')
    const lb = await startBalancer(yaml({ a: a.address }))
    cleanups(t)(() => lb.stop(0))
    const client = await openClient(wsUrl(lb))
    let code: number | undefined
    void client.closed.then((c) => (code = c))
    await setAdmin(lb, 'a', 'maint')
    await sleep(300)
    await setAdmin(lb, 'a', 'ready')
    // Well past drain_timeout (1 s) since it left rotation.
    await sleep(1500)
    assert.equal(code, undefined, 'still open')
    assert.equal(await client.echo('still'), 'a:still')
    client.ws.terminate()
  })

  it('a server removed by a reload: its WebSocket gets 1001 after drain_timeout', async (t) => {
    const a = await startEcho(t, 'a')
    const b = await startEcho(t, 'b')
    const lb = await startBalancer(yaml({ a: a.address }))
    cleanups(t)(() => lb.stop(0))
    const client = await openClient(wsUrl(lb))
    assert.equal(await client.echo('1'), 'a:1')
    let closedAt = 0
    void client.closed.then(() => (closedAt = Date.now()))
    const reloadedAt = Date.now()
    await reloadWith(lb, yaml({ b: b.address }))
    assert.equal(await client.echo('2'), 'a:2', 'open right after the reload')
    assert.equal(await within('the close', client.closed), 1001)
    assert.ok(closedAt - reloadedAt >= 950, `closed ${closedAt - reloadedAt} ms after the reload`)
    await waitFor('the server side to close', () => a.sockets[0]!.closeCode)
    assert.equal(a.sockets[0]!.closeCode, 1001)
  })

  it('a server removed through the admin API: its WebSocket gets 1001 after drain_timeout', async (t) => {
    const a = await startEcho(t, 'a')
    const b = await startEcho(t, 'b')
    const lb = await startBalancer(yaml({ a: a.address, b: b.address }, '500ms'))
    cleanups(t)(() => lb.stop(0))
    // Round robin: the first WebSocket goes to a.
    const client = await openClient(wsUrl(lb))
    const first = await client.echo('1')
    const server = first.startsWith('a:') ? 'a' : 'b'
    const removed = adminCall(lb, 'DELETE', `/api/v1/backends/app/servers/${server}`)
    assert.equal(await within('the close', client.closed), 1001)
    assert.equal(await within('the removal', removed), 200)
  })

  it('a WebSocket to a TLS server (backend tls:) works and is closed with 1001 the same way', async (t) => {
    const cert = makeSelfSigned()
    const add = cleanups(t)
    add(() => cert.remove())
    const httpsServer = https.createServer({ key: cert.key, cert: cert.cert })
    const wss = new WebSocketServer({ server: httpsServer })
    let serverCode: number | undefined
    wss.on('connection', (ws) => {
      ws.on('message', (data) => ws.send(`tls:${String(data)}`))
      ws.on('close', (code) => (serverCode = code))
    })
    await new Promise<void>((resolve) => httpsServer.listen(0, '127.0.0.1', resolve))
    add(async () => {
      for (const ws of wss.clients) ws.terminate()
      wss.close()
      httpsServer.closeAllConnections()
      await new Promise<void>((resolve) => httpsServer.close(() => resolve()))
    })
    const address = `127.0.0.1:${(httpsServer.address() as AddressInfo).port}`
    const lb = await startBalancer(yaml({ a: address }, '300ms').replace('    drain_timeout:', '    tls: { verify: false }\n    drain_timeout:'))
    add(() => lb.stop(0))
    const client = await openClient(wsUrl(lb))
    assert.equal(await client.echo('1'), 'tls:1')
    await setAdmin(lb, 'a', 'drain')
    assert.equal(await within('the close', client.closed), 1001)
    assert.equal(await waitFor('the server side to close', () => serverCode), 1001)
  })

  it('graceful stop: an open WebSocket gets 1001 at the end of the grace period, and so does its server', async (t) => {
    const a = await startEcho(t, 'a')
    const lb = await startBalancer(yaml({ a: a.address }, '30s'))
    const client = await openClient(wsUrl(lb))
    assert.equal(await client.echo('1'), 'a:1')
    let closedAt = 0
    void client.closed.then(() => (closedAt = Date.now()))
    const started = Date.now()
    const stopped = lb.stop(500)
    // During the grace period the WebSocket still works.
    assert.equal(await client.echo('2'), 'a:2')
    assert.equal(await within('the close', client.closed), 1001)
    assert.ok(closedAt - started >= 450, `closed ${closedAt - started} ms into a 500 ms grace period`)
    await within('the stop', stopped)
    assert.ok(Date.now() - started < 3000, `the stop took ${Date.now() - started} ms`)
    await waitFor('the server side to close', () => a.sockets[0]!.closeCode)
    assert.equal(a.sockets[0]!.closeCode, 1001)
  })

  it('graceful stop: an upgraded stream that is not a WebSocket is ended (FIN both ways), not reset', async (t) => {
    const add = cleanups(t)
    const serverEnded: boolean[] = []
    const raw = net.createServer((socket) => {
      socket.on('error', () => undefined)
      socket.once('data', () => socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: raw-stream\r\nConnection: Upgrade\r\n\r\nhello'))
      socket.on('end', () => {
        serverEnded.push(true)
        socket.end()
      })
    })
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve))
    add(() => new Promise<void>((resolve) => raw.close(() => resolve())))
    const lb = await startBalancer(yaml({ a: `127.0.0.1:${(raw.address() as AddressInfo).port}` }, '30s'))
    const { port } = lb.addresses('web')[0]!
    const client = net.connect({ host: '127.0.0.1', port })
    add(() => client.destroy())
    let received = ''
    let error: Error | undefined
    client.on('data', (c: Buffer) => (received += c.toString('latin1')))
    client.on('error', (err) => (error = err))
    client.write('GET /raw HTTP/1.1\r\nHost: raw.test\r\nConnection: Upgrade\r\nUpgrade: raw-stream\r\n\r\n')
    await waitFor('the upgraded stream', () => (received.endsWith('hello') ? true : undefined))
    const ended = once(client, 'end')
    await within('the stop', lb.stop(0))
    await within('the FIN', ended)
    assert.equal(error, undefined)
    await waitFor('the server side to get a FIN', () => serverEnded[0])
  })

  it('graceful stop: a WebSocket in the middle of a large message is closed after that message', async (t) => {
    const a = await startEcho(t, 'a')
    const lb = await startBalancer(yaml({ a: a.address }, '30s'))
    const client = await openClient(wsUrl(lb))
    const big = 'y'.repeat(4 * 1024 * 1024)
    const server = await waitFor('the server side', () => a.sockets[0])
    const messages: number[] = []
    client.ws.on('message', (data: RawData) => messages.push((data as Buffer).length))
    // The client stops reading: the balancer holds the rest of the first message when the stop begins.
    client.ws.pause()
    server.ws.send(big)
    server.ws.send(big)
    await sleep(200)
    const stopped = lb.stop(0)
    await sleep(300)
    assert.equal(messages.length, 0)
    client.ws.resume()
    assert.equal(await within('the close', client.closed, 8000), 1001, 'a clean close, not a cut in mid-message')
    assert.ok(messages.length >= 1 && messages.every((n) => n === big.length), `only whole messages arrived: ${JSON.stringify(messages)}`)
    await within('the stop', stopped, 8000)
  })
})

// ---- releases ----

/** A service instance that serves WebSockets (echo with its version) and exits at once on SIGTERM. */
function writeWsApp(dir: string): string {
  const file = join(dir, 'ws-app.cjs')
  writeFileSync(
    file,
    `const http = require('node:http')
const { WebSocketServer } = require(${JSON.stringify(require.resolve('ws'))})
const version = process.env.SWITCHYARD_VERSION || 'dev'
const server = http.createServer((req, res) => res.end(JSON.stringify({ version })))
const wss = new WebSocketServer({ server })
wss.on('connection', (ws) => ws.on('message', (data) => ws.send(version + ':' + String(data))))
// No graceful close of its own: a WebSocket still open when it stops is cut.
process.on('SIGTERM', () => process.exit(0))
server.listen(Number(process.env.PORT), '127.0.0.1')
`,
  )
  return file
}

describe('WebSockets across a release', () => {
  it('rolling v1 -> v2: the WebSocket of the old release gets 1001, not a cut (1006)', async (t) => {
    const dir = tempDir()
    const app = writeWsApp(dir)
    const config = sampleServiceConfig({
      strategy: 'rolling',
      instances: 1,
      startDelayMs: 0,
      command: `exec "${process.execPath}" "${app}"`,
      health: '{ type: http, path: /healthz, interval: 300ms, fast_interval: 100ms, rise: 1, fall: 2, timeout: 500ms }',
      admin_token: TOKEN,
      provider_lines: ['stop_timeout: 3s'],
      // The backend's drain_timeout (30 s) does not pass: the release itself closes the WebSocket.
      strategy_lines: ['healthy_deadline: 10s', 'drain_timeout: 500ms'],
    })
    const { lb, url } = await startReleaseBalancer(config, dir)
    cleanups(t)(() => lb.stop(0))
    const client = await openClient(url.replace('http://', 'ws://'))
    assert.equal(await client.echo('1'), 'v1:1')
    const record = lb.deploy('app', 'v2')
    await within('the release', lb.services.settled(), 20_000)
    const final = await lb.deployment(record.id)
    assert.equal(final.status, 'succeeded', final.error ?? '')
    assert.equal(await within('the close', client.closed), 1001)
    const next = await openClient(url.replace('http://', 'ws://'))
    assert.equal(await next.echo('2'), 'v2:2')
    next.ws.terminate()
  })
})
