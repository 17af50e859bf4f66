import assert from 'node:assert/strict'
import { once } from 'node:events'
import http from 'node:http'
import net, { type AddressInfo, type Socket } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { WebSocket, WebSocketServer, type RawData } from 'ws'
import { startBalancer } from './helpers/balancer.js'
import { headerValues, rawRequest } from './helpers/raw-http.js'
import { waitFor, within } from './helpers/wait.js'

type Balancer = Awaited<ReturnType<typeof startBalancer>>

interface Addresses {
  readonly echo: string
  readonly refusing: string
  readonly raw: string
  readonly silent: string
}

function config(a: Addresses): string {
  return `
admin: { listen: 127.0.0.1:0 }
access_log: false
frontends:
  web:
    listen: 127.0.0.1:0
    routes:
      - match: { path_prefix: /refuse }
        backend: refusing
      - match: { path_prefix: /raw }
        backend: raw
      - match: { path_prefix: /silent }
        backend: silent
    default_backend: echo
backends:
  echo:
    servers:
      s1: { address: ${a.echo} }
  refusing:
    servers:
      s1: { address: ${a.refusing} }
  raw:
    servers:
      s1: { address: ${a.raw} }
  silent:
    timeouts: { server: 300ms }
    servers:
      s1: { address: ${a.silent} }
`
}

/** Size of the stream the raw upgrade server sends before it closes. */
const RAW_STREAM_BYTES = 8 * 1024 * 1024
const RAW_101 = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: raw-stream\r\nConnection: Upgrade\r\n\r\n'

/**
 * An upgrade-capable server: "raw" answers 101, writes RAW_STREAM_BYTES and ends the connection at once;
 * "silent" accepts the upgrade request and never answers. Sockets are remembered for the cleanup.
 */
async function startUpgradeServer(kind: 'raw' | 'silent'): Promise<{ address: string; urls: string[]; close: () => Promise<void> }> {
  const sockets = new Set<Socket>()
  const urls: string[] = []
  const server = http.createServer((_req, res) => res.end())
  server.on('upgrade', (req: http.IncomingMessage, socket: Socket) => {
    urls.push(req.url ?? '')
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => undefined)
    if (kind === 'silent') return
    socket.write(RAW_101)
    socket.write(Buffer.alloc(RAW_STREAM_BYTES, 'd'))
    socket.end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    urls,
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/**
 * Sends an upgrade request on a raw socket and reads everything until the connection closes, slowly (a pause
 * of `pauseMs` after every `pauseEvery` bytes); resolves with the bytes received after the response head.
 */
function readUpgradedStream(url: string, path: string, pauseEvery: number, pauseMs: number): Promise<{ head: string; bodyBytes: number }> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: hostname, port: Number(port) }, () =>
      socket.write(`GET ${path} HTTP/1.1\r\nHost: raw.test\r\nConnection: Upgrade\r\nUpgrade: raw-stream\r\n\r\n`),
    )
    let received = Buffer.alloc(0)
    let total = 0
    let sinceBreak = 0
    socket.on('data', (chunk: Buffer) => {
      total += chunk.length
      if (received.length < 1024) received = Buffer.concat([received, chunk.subarray(0, 1024)])
      sinceBreak += chunk.length
      if (sinceBreak >= pauseEvery) {
        sinceBreak = 0
        socket.pause()
        setTimeout(() => socket.resume(), pauseMs)
      }
    })
    socket.on('error', reject)
    socket.on('close', () => {
      const text = received.toString('latin1')
      const headEnd = text.indexOf('\r\n\r\n')
      if (headEnd < 0) return reject(new Error(`no response head: ${JSON.stringify(text)}`))
      resolve({ head: text.slice(0, headEnd + 4), bodyBytes: total - (headEnd + 4) })
    })
  })
}

/** A received message as the echo test compares it. */
interface Message {
  readonly binary: boolean
  readonly data: Buffer
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data
  if (Array.isArray(data)) return Buffer.concat(data)
  return Buffer.from(data)
}

/** Collects the next `count` messages of a socket. */
function nextMessages(ws: WebSocket, count: number): Promise<Message[]> {
  return new Promise((resolve) => {
    const got: Message[] = []
    const onMessage = (data: RawData, binary: boolean): void => {
      got.push({ binary, data: toBuffer(data) })
      if (got.length === count) {
        ws.off('message', onMessage)
        resolve(got)
      }
    }
    ws.on('message', onMessage)
  })
}

async function connect(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url)
  ws.on('error', () => undefined)
  await within('the WebSocket to open', once(ws, 'open'))
  return ws
}

describe('proxy WebSocket tunnel', () => {
  /** An echo server that remembers its server-side sockets (newest last). */
  const serverSide: WebSocket[] = []
  let echoHttp: http.Server
  let echo: WebSocketServer
  /** Answers every upgrade with a plain 403 and a body. */
  let refusing: http.Server
  const refusingSockets = new Set<Socket>()
  let raw: Awaited<ReturnType<typeof startUpgradeServer>>
  let silent: Awaited<ReturnType<typeof startUpgradeServer>>
  let lb: Balancer
  let wsUrl: string

  before(async () => {
    echoHttp = http.createServer((_req, res) => res.end('not a websocket request'))
    echo = new WebSocketServer({ server: echoHttp })
    echo.on('connection', (ws) => {
      serverSide.push(ws)
      ws.on('error', () => undefined)
      ws.on('message', (data, binary) => ws.send(toBuffer(data), { binary }))
    })
    await new Promise<void>((resolve) => echoHttp.listen(0, '127.0.0.1', resolve))

    refusing = http.createServer((_req, res) => res.end())
    refusing.on('upgrade', (_req: http.IncomingMessage, socket: Socket) => {
      refusingSockets.add(socket)
      socket.on('close', () => refusingSockets.delete(socket))
      socket.on('error', () => undefined)
      const body = 'upgrade refused\n'
      socket.end(`HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nX-Refused-By: backend\r\nContent-Length: ${body.length}\r\n\r\n${body}`)
    })
    await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve))

    const echoPort = (echoHttp.address() as AddressInfo).port
    const refusingPort = (refusing.address() as AddressInfo).port
    raw = await startUpgradeServer('raw')
    silent = await startUpgradeServer('silent')
    lb = await startBalancer(config({ echo: `127.0.0.1:${echoPort}`, refusing: `127.0.0.1:${refusingPort}`, raw: raw.address, silent: silent.address }))
    wsUrl = lb.url().replace('http://', 'ws://')
  })

  after(async () => {
    await lb?.stop(0)
    for (const ws of serverSide) ws.terminate()
    echo?.close()
    if (echoHttp !== undefined) {
      echoHttp.closeAllConnections()
      await new Promise<void>((resolve) => echoHttp.close(() => resolve()))
    }
    for (const s of refusingSockets) s.destroy()
    if (refusing !== undefined) await new Promise<void>((resolve) => refusing.close(() => resolve()))
    await raw?.close()
    await silent?.close()
  })

  /** The server side of the next connection the echo server accepts after `known` connections. */
  function serverSocketAfter(known: number): Promise<WebSocket> {
    return waitFor('the server-side socket', () => (serverSide.length > known ? serverSide[known] : undefined))
  }

  /** Requests and tunnels the web frontend has in flight. */
  function inFlight(): number {
    return lb.frontends.get('web')!.activeRequests
  }

  it('carries several text and binary messages both ways', async () => {
    const ws = await connect(`${wsUrl}/chat`)
    try {
      const sent: Message[] = [
        { binary: false, data: Buffer.from('hello') },
        { binary: true, data: Buffer.from([0, 1, 2, 254, 255]) },
        { binary: false, data: Buffer.from('héllo wörld ✓') },
        { binary: true, data: Buffer.alloc(256 * 1024, 7) },
        { binary: false, data: Buffer.from('last') },
      ]
      const replies = nextMessages(ws, sent.length)
      for (const m of sent) ws.send(m.data, { binary: m.binary })
      const got = await within('the echoes', replies)
      assert.equal(got.length, sent.length)
      for (let i = 0; i < sent.length; i++) {
        assert.equal(got[i]!.binary, sent[i]!.binary, `message ${i} keeps its type`)
        assert.ok(got[i]!.data.equals(sent[i]!.data), `message ${i} arrives intact`)
      }
    } finally {
      ws.terminate()
    }
  })

  it('closes the server side with the close code when the client closes', async () => {
    const known = serverSide.length
    const ws = await connect(`${wsUrl}/client-closes`)
    try {
      const server = await serverSocketAfter(known)
      const serverClosed = once(server, 'close') as Promise<[number, Buffer]>
      const clientClosed = once(ws, 'close')
      ws.close(4000, 'client says bye')
      const [code, reason] = await within('the server side to close', serverClosed)
      assert.equal(code, 4000)
      assert.equal(reason.toString(), 'client says bye')
      await within('the client side to close', clientClosed)
      await waitFor('the tunnel to end', () => (inFlight() === 0 ? true : undefined))
    } finally {
      ws.terminate()
    }
  })

  it('closes the client with the close code when the server closes', async () => {
    const known = serverSide.length
    const ws = await connect(`${wsUrl}/server-closes`)
    try {
      const server = await serverSocketAfter(known)
      const clientClosed = once(ws, 'close') as Promise<[number, Buffer]>
      server.close(4001, 'server says bye')
      const [code, reason] = await within('the client to close', clientClosed)
      assert.equal(code, 4001)
      assert.equal(reason.toString(), 'server says bye')
      await waitFor('the tunnel to end', () => (inFlight() === 0 ? true : undefined))
    } finally {
      ws.terminate()
    }
  })

  it('ends the tunnel when the server drops the TCP connection without a close frame', async () => {
    const known = serverSide.length
    const ws = await connect(`${wsUrl}/server-drops`)
    try {
      const server = await serverSocketAfter(known)
      const clientClosed = once(ws, 'close') as Promise<[number, Buffer]>
      server.terminate()
      const [code] = await within('the client to close', clientClosed)
      assert.equal(code, 1006, 'an abnormal closure')
      await waitFor('the tunnel to end', () => (inFlight() === 0 ? true : undefined))
    } finally {
      ws.terminate()
    }
  })

  it('passes a non-101 answer to an upgrade request to the client as the server sent it', async () => {
    const ws = new WebSocket(`${wsUrl}/refuse`)
    ws.on('error', () => undefined)
    try {
      const [, res] = (await within('the unexpected response', once(ws, 'unexpected-response'))) as [http.ClientRequest, http.IncomingMessage]
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => (body += c))
      await within('the refusal body', once(res, 'end'))
      assert.equal(res.statusCode, 403)
      assert.equal(res.headers['x-refused-by'], 'backend')
      assert.equal(body, 'upgrade refused\n')
    } finally {
      ws.terminate()
    }
  })
  it('delivers the whole stream to a slow client when the server ends an upgraded connection right after writing', async () => {
    // The server's end reaches the balancer while the client still has bytes queued towards it: they must
    // still arrive before the client's connection ends. Several runs, as the queueing depends on timing.
    for (let run = 0; run < 4; run++) {
      const { head, bodyBytes } = await within('the raw stream', readUpgradedStream(lb.url(), '/raw', 256 * 1024, 10), 20_000)
      assert.match(head, /^HTTP\/1\.1 101 /)
      assert.equal(bodyBytes, RAW_STREAM_BYTES, `run ${run}: every byte the server sent arrived`)
    }
    await waitFor('the tunnels to end', () => (inFlight() === 0 ? true : undefined))
  })

  it('answers 504 SY_ERR_UPSTREAM_TIMEOUT when the server accepts an upgrade request and never answers', async () => {
    const reply = await rawRequest(
      lb.url(),
      'GET /silent HTTP/1.1\r\nHost: ws.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      { timeoutMs: 5000 },
    )
    assert.equal(reply.status, 504, reply.raw)
    assert.match(reply.body, /SY_ERR_UPSTREAM_TIMEOUT/)
    const id = headerValues(reply, 'x-request-id')[0]
    assert.ok(id !== undefined && reply.body.includes(id), 'the body names the request id')
    await waitFor('the tunnel to end', () => (inFlight() === 0 ? true : undefined))
  })
  it('answers 400 SY_ERR_BAD_REQUEST to an upgrade request with two Host headers', async () => {
    const reply = await rawRequest(
      lb.url(),
      'GET /raw HTTP/1.1\r\nHost: a.example.com\r\nHost: b.example.com\r\nConnection: Upgrade\r\nUpgrade: raw-stream\r\n\r\n',
    )
    assert.equal(reply.status, 400, reply.raw.slice(0, 300))
    assert.match(reply.body, /SY_ERR_BAD_REQUEST/)
  })

  it('routes an absolute-form upgrade request by its path and sends it to the server in origin form', async () => {
    const reply = await rawRequest(
      lb.url(),
      'GET http://raw.test/raw/absolute?x=1 HTTP/1.1\r\nHost: raw.test\r\nConnection: Upgrade\r\nUpgrade: raw-stream\r\n\r\n',
      { timeoutMs: 5000 },
    )
    assert.equal(reply.status, 101, reply.raw.slice(0, 300))
    assert.ok(raw.urls.includes('/raw/absolute?x=1'), `the server got the origin form: ${JSON.stringify(raw.urls)}`)
  })
})
