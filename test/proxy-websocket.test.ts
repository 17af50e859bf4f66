import assert from 'node:assert/strict'
import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { WebSocket, WebSocketServer, type RawData } from 'ws'
import { startBalancer } from './helpers/balancer.js'
import { waitFor, within } from './helpers/wait.js'

type Balancer = Awaited<ReturnType<typeof startBalancer>>

function config(echoAddress: string, refusingAddress: string): string {
  return `
admin: { listen: 127.0.0.1:0 }
access_log: false
frontends:
  web:
    listen: 127.0.0.1:0
    routes:
      - match: { path_prefix: /refuse }
        backend: refusing
    default_backend: echo
backends:
  echo:
    servers:
      s1: { address: ${echoAddress} }
  refusing:
    servers:
      s1: { address: ${refusingAddress} }
`
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
    lb = await startBalancer(config(`127.0.0.1:${echoPort}`, `127.0.0.1:${refusingPort}`))
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
  })

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
    const ws = await connect(`${wsUrl}/client-closes`)
    try {
      const server = await waitFor('the server-side socket', () => serverSide.at(-1))
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
    const before = serverSide.length
    const ws = await connect(`${wsUrl}/server-closes`)
    try {
      const server = await waitFor('the server-side socket', () => (serverSide.length > before ? serverSide.at(-1) : undefined))
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
    const before = serverSide.length
    const ws = await connect(`${wsUrl}/server-drops`)
    try {
      const server = await waitFor('the server-side socket', () => (serverSide.length > before ? serverSide.at(-1) : undefined))
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
})
