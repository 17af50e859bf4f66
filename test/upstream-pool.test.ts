import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import net, { type AddressInfo, type Socket } from 'node:net'
import { Readable } from 'node:stream'
import { describe, it, type TestContext } from 'node:test'
import { classify } from '../src/proxy/http-exchange.js'
import { BodyTooLargeError } from '../src/proxy/request-body.js'
import type { UpstreamBody, UpstreamHandler, UpstreamLink } from '../src/proxy/upstream-handler.js'
import { UpstreamPool } from '../src/proxy/upstream-pool.js'
import type { HeaderSection } from '../src/proxy/request-head.js'
import { cleanups } from './helpers/cleanup.js'
import { waitFor, within } from './helpers/wait.js'

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** One request as a raw server read it: the head (text) and the body bytes as they came (framing included). */
interface SeenRequest {
  readonly head: string
  readonly body: string
  readonly connection: number
}

interface RawServer {
  readonly port: number
  readonly requests: SeenRequest[]
  /** Connections accepted so far. */
  accepted(): number
  /** Connections open now. */
  open(): number
  close(): Promise<void>
}

type Answer = (socket: Socket, request: SeenRequest) => void

/**
 * A TCP server that reads HTTP/1.1 requests (Content-Length or chunked bodies) and lets `answer` write whatever
 * bytes it likes: the misbehaviours are ours to craft.
 */
async function rawServer(answer: Answer): Promise<RawServer> {
  const requests: SeenRequest[] = []
  const sockets = new Set<Socket>()
  let accepted = 0
  const server = net.createServer((socket) => {
    const connection = ++accepted
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => undefined)
    let text = ''
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1')
      for (;;) {
        const headEnd = text.indexOf('\r\n\r\n')
        if (headEnd < 0) return
        const head = text.slice(0, headEnd + 4)
        const length = /\r\ncontent-length: *(\d+)/i.exec(head)
        let end: number
        if (length !== null) end = headEnd + 4 + Number(length[1])
        else if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
          const last = text.indexOf('\r\n0\r\n\r\n', headEnd + 2)
          if (last < 0) return
          end = last + 7
        } else end = headEnd + 4
        if (text.length < end) return
        const request = { head, body: text.slice(headEnd + 4, end), connection }
        text = text.slice(end)
        requests.push(request)
        answer(socket, request)
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    accepted: () => accepted,
    open: () => sockets.size,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      for (const s of sockets) s.destroy()
      await closed
    },
  }
}

const ok = (body = 'ok', extra = ''): string => `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n${extra}\r\n${body}`

/** What the client told a handler, and a promise for its end. */
class Recorder implements UpstreamHandler {
  status = 0
  headers: string[] = []
  connection: string | undefined
  link: UpstreamLink | undefined
  connects = 0
  completes = 0
  errors = 0
  error: Error | undefined
  readonly chunks: Buffer[] = []
  readonly ended: Promise<void>
  private resolve!: () => void

  constructor() {
    this.ended = new Promise((resolve) => (this.resolve = resolve))
  }

  onConnect(link: UpstreamLink): void {
    this.link = link
    this.connects++
  }

  onHeaders(status: number, _reason: string, headers: string[], connection: string | undefined): boolean {
    this.status = status
    this.headers = headers
    this.connection = connection
    return true
  }

  onData(chunk: Buffer): boolean {
    this.chunks.push(chunk)
    return true
  }

  onComplete(): void {
    this.completes++
    this.resolve()
  }

  onError(err: Error): void {
    this.errors++
    this.error = err
    this.resolve()
  }

  get body(): string {
    return Buffer.concat(this.chunks).toString('latin1')
  }
}

/** A flat [name, value, ...] list as the header section of a request (no field dropped or added). */
function headerSection(fields: readonly string[]): HeaderSection {
  let lines = ''
  let host = false
  let contentLength = -1
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i]!
    const value = fields[i + 1]!
    if (name.length === 4 && name.toLowerCase() === 'host') host = true
    else if (name.length === 14 && name.toLowerCase() === 'content-length') contentLength = Number(value)
    lines += `${name}: ${value}\r\n`
  }
  return { lines, host, contentLength }
}

interface PoolOptions {
  readonly serverTimeout?: number
  readonly maxConnections?: number
}

function poolFor(t: TestContext, server: RawServer, options: PoolOptions = {}): UpstreamPool {
  const pool = new UpstreamPool({
    address: { host: '127.0.0.1', port: server.port },
    tls: undefined,
    connectTimeout: 1000,
    serverTimeout: options.serverTimeout ?? 5000,
    maxConnections: options.maxConnections ?? 0,
  })
  cleanups(t)(() => pool.close())
  return pool
}

async function send(pool: UpstreamPool, method = 'GET', headers: string[] = ['Host', 'app.test'], body: UpstreamBody = null, handler = new Recorder()): Promise<Recorder> {
  pool.request(method, '/path?q=1', headerSection(headers), body, handler)
  await within(`${method} to end`, handler.ended)
  // Nothing may follow the end (checked a little later).
  await sleep(5)
  assert.equal(handler.completes + handler.errors, 1, 'exactly one end')
  return handler
}

async function serverFor(t: TestContext, answer: Answer): Promise<RawServer> {
  const server = await rawServer(answer)
  cleanups(t)(() => server.close())
  return server
}

describe('upstream client', () => {
  it('reuses one keep-alive connection for requests one after another, and writes the head as expected', async (t) => {
    const server = await serverFor(t, (socket) => socket.write(ok('hello', 'X-Server: raw\r\nConnection: keep-alive\r\n')))
    const pool = poolFor(t, server)
    for (let i = 0; i < 5; i++) {
      const r = await send(pool)
      assert.equal(r.status, 200)
      assert.equal(r.body, 'hello')
      assert.deepEqual(r.headers, ['Content-Length', '5', 'X-Server', 'raw', 'Connection', 'keep-alive'])
      assert.equal(r.connection, 'keep-alive')
    }
    assert.equal(server.accepted(), 1)
    assert.equal(server.requests[0]!.head, 'GET /path?q=1 HTTP/1.1\r\nHost: app.test\r\nconnection: keep-alive\r\n\r\n')
  })

  it('sends the server address as Host when the headers have none, and frames bodies', async (t) => {
    const server = await serverFor(t, (socket) => socket.write(ok()))
    const pool = poolFor(t, server)
    await send(pool, 'GET', [])
    assert.match(server.requests[0]!.head, new RegExp(`\r\nhost: 127\\.0\\.0\\.1:${server.port}\r\n`))
    await send(pool, 'POST', ['Host', 'h'], Buffer.from('buffered'))
    assert.match(server.requests[1]!.head, /\r\ncontent-length: 8\r\n/)
    assert.equal(server.requests[1]!.body, 'buffered')
    await send(pool, 'POST', ['Host', 'h'])
    assert.match(server.requests[2]!.head, /\r\ncontent-length: 0\r\n/)
    await send(pool, 'PUT', ['Host', 'h', 'Content-Length', '4'], Readable.from([Buffer.from('ab'), Buffer.from('cd')]))
    assert.doesNotMatch(server.requests[3]!.head, /transfer-encoding/i)
    assert.equal(server.requests[3]!.body, 'abcd')
    assert.equal(server.accepted(), 1)
  })

  it('sends a stream without Content-Length chunked, skipping empty pieces', async (t) => {
    const server = await serverFor(t, (socket) => socket.write(ok()))
    const pool = poolFor(t, server)
    const r = await send(pool, 'POST', ['Host', 'h'], Readable.from([Buffer.from('abc'), Buffer.alloc(0), Buffer.from('0123456789abcdefg')]))
    assert.equal(r.status, 200)
    assert.match(server.requests[0]!.head, /\r\ntransfer-encoding: chunked\r\n/)
    assert.equal(server.requests[0]!.body, '3\r\nabc\r\n11\r\n0123456789abcdefg\r\n0\r\n\r\n')
  })

  it('reports a request body error as it is and closes the connection', async (t) => {
    const server = await serverFor(t, (socket) => socket.write(ok()))
    const pool = poolFor(t, server)
    const failing = new Readable({ read() {} })
    const pending = send(pool, 'POST', ['Host', 'h'], failing)
    failing.push(Buffer.from('part'))
    await waitFor('the connection', () => (server.accepted() === 1 ? true : undefined))
    failing.destroy(new BodyTooLargeError())
    const r = await pending
    assert.ok(r.error instanceof BodyTooLargeError)
    assert.equal(classify(r.error), 'too-large')
    await waitFor('the connection to close', () => (server.open() === 0 ? true : undefined))
  })

  it('drops a connection the server closed while idle; the next request gets a new one', async (t) => {
    const server = await serverFor(t, (socket) => {
      socket.write(ok())
      setTimeout(() => socket.end(), 30)
    })
    const pool = poolFor(t, server)
    assert.equal((await send(pool)).status, 200)
    await sleep(100)
    const r = await send(pool)
    assert.equal(r.status, 200)
    assert.equal(server.accepted(), 2)
  })

  it('closes after Connection: close and after an HTTP/1.0 answer without keep-alive', async (t) => {
    let n = 0
    const server = await serverFor(t, (socket) => {
      n++
      if (n === 1) socket.write(ok('a', 'Connection: close\r\n'))
      else if (n === 2) socket.write('HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nb')
      else socket.write(ok('c'))
    })
    const pool = poolFor(t, server)
    for (const body of ['a', 'b', 'c']) assert.equal((await send(pool)).body, body)
    assert.equal(server.accepted(), 3)
  })

  it('reads a response without framing until the connection closes, and does not reuse it', async (t) => {
    const server = await serverFor(t, (socket) => socket.end('HTTP/1.1 200 OK\r\nX: y\r\n\r\nuntil the end'))
    const pool = poolFor(t, server)
    const r = await send(pool)
    assert.equal(r.body, 'until the end')
    assert.equal(r.completes, 1)
    assert.equal((await send(pool)).body, 'until the end')
    assert.equal(server.accepted(), 2)
  })

  it('a HEAD answer has no body; the connection is reused', async (t) => {
    const server = await serverFor(t, (socket, request) => socket.write(request.head.startsWith('HEAD') ? 'HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n' : ok()))
    const pool = poolFor(t, server)
    const head = await send(pool, 'HEAD')
    assert.equal(head.completes, 1)
    assert.equal(head.body, '')
    assert.equal((await send(pool)).body, 'ok')
    assert.equal(server.accepted(), 1)
  })

  it('a reset before any response byte is an empty response; a reset mid-body is not', async (t) => {
    let n = 0
    const server = await serverFor(t, (socket) => {
      n++
      if (n === 1) socket.resetAndDestroy()
      else if (n === 2) socket.end()
      else {
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial')
        setTimeout(() => socket.resetAndDestroy(), 30)
      }
    })
    const pool = poolFor(t, server)
    const reset = await send(pool)
    assert.equal(classify(reset.error!), 'empty-response', String(reset.error))
    const closed = await send(pool)
    assert.equal(classify(closed.error!), 'empty-response', String(closed.error))
    const cut = await send(pool)
    assert.equal(cut.status, 200)
    assert.equal(cut.body, 'partial')
    assert.equal((cut.error as NodeJS.ErrnoException).code, 'UPSTREAM_TRUNCATED')
    assert.notEqual(classify(cut.error!), 'empty-response')
  })

  it('a reused connection that fails before any response byte is an empty response too', async (t) => {
    let n = 0
    const server = await serverFor(t, (socket) => {
      n++
      if (n === 1) socket.write(ok())
      else socket.resetAndDestroy()
    })
    const pool = poolFor(t, server)
    assert.equal((await send(pool)).status, 200)
    const second = await send(pool)
    assert.equal(server.accepted(), 1, 'the request went on the kept connection')
    assert.equal(classify(second.error!), 'empty-response')
  })

  it('honours a shorter Keep-Alive timeout hint: the connection is not used past it', async (t) => {
    /** Connections accepted by a server sending this Keep-Alive value, for two requests 1.2 s apart. */
    const acceptedAfterIdle = async (keepAlive: string): Promise<number> => {
      const server = await serverFor(t, (socket) => socket.write(ok('ok', `Keep-Alive: ${keepAlive}\r\n`)))
      const pool = poolFor(t, server)
      await send(pool)
      await sleep(1200)
      await send(pool)
      return server.accepted()
    }
    assert.equal(await acceptedAfterIdle('timeout=2'), 2, 'hint 2 s - 1 s margin: closed after 1 s idle')
    assert.equal(await acceptedAfterIdle('timeout=10, max=100'), 1, 'a longer hint keeps the 4 s default')
  })

  it('closes idle connections after 4 s even when nothing asks for them', { timeout: 15_000 }, async (t) => {
    const server = await serverFor(t, (socket) => socket.write(ok()))
    const pool = poolFor(t, server)
    await send(pool)
    assert.equal(pool.size, 1)
    await waitFor('the idle connection to close', () => (server.open() === 0 ? true : undefined), 7000, 100)
    assert.equal(pool.size, 0)
  })

  it('times out waiting for the head, then between body bytes, with codes the retry policy reads as timeouts', async (t) => {
    let n = 0
    const server = await serverFor(t, (socket) => {
      n++
      if (n === 2) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc')
    })
    const pool = poolFor(t, server, { serverTimeout: 200 })
    const silent = await send(pool)
    assert.equal((silent.error as NodeJS.ErrnoException).code, 'UPSTREAM_HEADERS_TIMEOUT')
    assert.equal(classify(silent.error!), 'timeout')
    const stalled = await send(pool)
    assert.equal(stalled.status, 200)
    assert.equal((stalled.error as NodeJS.ErrnoException).code, 'UPSTREAM_BODY_TIMEOUT')
    assert.equal(classify(stalled.error!), 'timeout')
  })

  it('times out on a connection whose timer ran out while it was idle', async (t) => {
    let n = 0
    const server = await serverFor(t, (socket) => {
      if (++n === 1) socket.write(ok())
    })
    const pool = poolFor(t, server, { serverTimeout: 150 })
    assert.equal((await send(pool)).status, 200)
    await sleep(400)
    const silent = await send(pool)
    assert.equal(server.accepted(), 1, 'the idle connection was reused')
    assert.equal((silent.error as NodeJS.ErrnoException).code, 'UPSTREAM_HEADERS_TIMEOUT')
  })

  it('refuses a malformed response, drops bytes after a complete one and any byte while idle', async (t) => {
    let n = 0
    const server = await serverFor(t, (socket) => {
      n++
      if (n === 1) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n')
      else if (n === 2) socket.write(`${ok('x')}HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n`)
      else if (n === 3) {
        socket.write(ok('y'))
        setTimeout(() => socket.write('HTTP/1.1 200 OK\r\n\r\n'), 30)
      } else socket.write(ok('z'))
    })
    const pool = poolFor(t, server)
    const smuggling = await send(pool)
    assert.equal(classify(smuggling.error!), 'protocol')
    assert.equal(smuggling.status, 0, 'no head reached the handler')
    assert.equal((await send(pool)).body, 'x')
    assert.equal((await send(pool)).body, 'y')
    await sleep(80)
    assert.equal((await send(pool)).body, 'z')
    assert.equal(server.accepted(), 4, 'each misbehaving connection was dropped')
  })

  it('pauses the socket while the handler asks, for a 4 MB body and a slow reader, without a body timeout', { timeout: 30_000 }, async (t) => {
    const body = randomBytes(4 * 1024 * 1024)
    const server = await serverFor(t, (socket) => {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`)
      socket.write(body)
    })
    const pool = poolFor(t, server, { serverTimeout: 300 })
    let paused = false
    let whilePaused = 0
    let pauses = 0
    const slow = new (class extends Recorder {
      override onData(chunk: Buffer): boolean {
        if (paused) whilePaused += chunk.length
        super.onData(chunk)
        if (this.chunks.length % 8 !== 0) return true
        paused = true
        pauses++
        // Longer than timeouts.server once: a paused response does not time out.
        setTimeout(
          () => {
            paused = false
            this.link!.resume(this)
          },
          pauses === 3 ? 500 : 5,
        )
        return false
      }
    })()
    const r = await within('the slow download', send(pool, 'GET', ['Host', 'h'], null, slow), 25_000)
    assert.equal(r.error, undefined, String(r.error))
    assert.equal(r.chunks.length > 8, true)
    assert.equal(createHash('sha256').update(Buffer.concat(r.chunks)).digest('hex'), createHash('sha256').update(body).digest('hex'))
    assert.equal(whilePaused, 0, 'no byte reached the handler while it was paused (beyond the chunk being read)')
  })

  it('holds what is left of a chunk while paused: one piece per resume, and the end only after the last resume', async (t) => {
    const pieces = Array.from({ length: 50 }, (_, i) => `${i},`)
    const server = await serverFor(t, (socket, request) => {
      if (request.head.startsWith('HEAD')) return void socket.write('HTTP/1.1 204 No Content\r\n\r\n')
      // All chunks in one write: they reach the client in one read.
      socket.write(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${pieces.map((p) => `${p.length.toString(16)}\r\n${p}\r\n`).join('')}0\r\n\r\n`)
    })
    const pool = poolFor(t, server)
    let paused = false
    let early = 0
    const pausing = new (class extends Recorder {
      override onHeaders(status: number, reason: string, headers: string[], connection: string | undefined): boolean {
        super.onHeaders(status, reason, headers, connection)
        return this.pauseAWhile()
      }

      override onData(chunk: Buffer): boolean {
        if (paused) early++
        super.onData(chunk)
        return this.pauseAWhile()
      }

      override onComplete(): void {
        if (paused) early++
        super.onComplete()
      }

      pauseAWhile(): false {
        paused = true
        setImmediate(() => {
          paused = false
          this.link!.resume(this)
        })
        return false
      }
    })()
    const r = await send(pool, 'GET', ['Host', 'h'], null, pausing)
    assert.equal(r.body, pieces.join(''))
    assert.equal(r.chunks.length, pieces.length)
    assert.equal(early, 0, 'nothing reached the handler while it was paused')
    const empty = new (class extends Recorder {
      override onHeaders(): boolean {
        setTimeout(() => this.link!.resume(this), 20)
        return false
      }
    })()
    assert.equal((await send(pool, 'HEAD', ['Host', 'h'], null, empty)).completes, 1)
    assert.equal((await send(pool)).body, pieces.join(''), 'the connection was reused after both')
    assert.equal(server.accepted(), 1)
  })

  it('keeps requests beyond the connection limit waiting, and serves them first come first served', async (t) => {
    const server = await serverFor(t, (socket, request) => {
      const id = /x-id: (\d+)/i.exec(request.head)![1]!
      setTimeout(() => socket.write(ok(id)), 30)
    })
    const pool = poolFor(t, server, { maxConnections: 2 })
    const replies = await Promise.all([0, 1, 2, 3, 4, 5].map((id) => send(pool, 'GET', ['Host', 'h', 'X-Id', String(id)])))
    assert.deepEqual(
      replies.map((r) => r.body),
      ['0', '1', '2', '3', '4', '5'],
    )
    assert.equal(server.accepted(), 2)
    assert.deepEqual(
      server.requests.map((r) => /x-id: (\d+)/i.exec(r.head)![1]),
      ['0', '1', '2', '3', '4', '5'],
    )
  })

  it('an abort from onConnect ends the request with one error and closes the connection', async (t) => {
    const server = await serverFor(t, (socket, request) => {
      if (request.head.includes('slow')) setTimeout(() => socket.write(ok()), 50)
      else socket.write(ok())
    })
    const pool = poolFor(t, server)
    // A late abort or resume from a finished request does nothing to the next one on the same connection.
    const first = await send(pool)
    const second = send(pool, 'GET', ['Host', 'slow'])
    first.link!.abort(first)
    first.link!.resume(first)
    assert.equal((await second).status, 200)
    assert.equal(server.accepted(), 1)

    const aborting = new (class extends Recorder {
      override onConnect(link: UpstreamLink): void {
        super.onConnect(link)
        link.abort(this)
      }
    })()
    const r = await send(pool, 'GET', ['Host', 'h'], null, aborting)
    assert.equal(classify(r.error!), 'client-gone')
    assert.equal(r.completes, 0)
    assert.equal(server.requests.length, 2, 'nothing was sent')
    await waitFor('the connection to close', () => (server.open() === 0 ? true : undefined))
  })

  it('reports a refused connection as a connection failure', async (t) => {
    const server = await rawServer(() => undefined)
    const port = server.port
    await server.close()
    const pool = new UpstreamPool({ address: { host: '127.0.0.1', port }, tls: undefined, connectTimeout: 1000, serverTimeout: 1000, maxConnections: 0 })
    cleanups(t)(() => pool.close())
    const r = await send(pool)
    assert.equal((r.error as NodeJS.ErrnoException).code, 'ECONNREFUSED')
    assert.equal(classify(r.error!), 'conn-failure')
    assert.equal(pool.size, 0)
  })

  it('close() ends idle connections at once and lets a request in flight finish', async (t) => {
    const server = await serverFor(t, (socket, request) => {
      if (request.head.includes('slow')) setTimeout(() => socket.write(ok('late')), 100)
      else socket.write(ok())
    })
    const pool = poolFor(t, server)
    await Promise.all([send(pool), send(pool)])
    assert.equal(pool.size, 2)
    const slow = send(pool, 'GET', ['Host', 'slow'])
    await waitFor('the slow request', () => (server.requests.length === 3 ? true : undefined))
    let closed = false
    const closing = pool.close().then(() => (closed = true))
    await waitFor('the idle connection to close', () => (server.open() === 1 ? true : undefined))
    assert.equal(closed, false)
    assert.equal((await slow).body, 'late')
    await within('close', closing)
    assert.equal(pool.size, 0)
    const refused = await send(pool)
    assert.equal((refused.error as NodeJS.ErrnoException).code, 'UPSTREAM_POOL_CLOSED')
  })
})
