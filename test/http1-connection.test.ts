import assert from 'node:assert/strict'
import net from 'node:net'
import { describe, it } from 'node:test'
import { startBackend } from './helpers/backend.js'
import { startBalancer } from './helpers/balancer.js'
import { cleanups } from './helpers/cleanup.js'
import { balancerYaml } from './helpers/config-yaml.js'
import { headerValues, hostPortOf, parseRawResponse, rawRequest } from './helpers/raw-http.js'

/**
 * The frontend's own HTTP/1.x server (Http1Connection, Http1Response): framing of the answer, keep-alive and its
 * timeout, half-closed clients, HTTP/1.0. Each case reads the raw bytes the balancer wrote.
 */

/** A backend whose /stream answers without Content-Length (node then sends it chunked) and /fixed with one. */
async function framingBackend(): ReturnType<typeof startBackend> {
  return startBackend('app', (req, res) => {
    if (req.url === '/stream') {
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.write('part one, ')
      setTimeout(() => res.end('part two'), 20)
      return
    }
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '5' })
    res.end('fixed')
  })
}

/** Sends `text` on a new connection; resolves with everything read until the balancer closes it (or `waitMs`). */
function readUntilClose(url: string, text: string, options: { endAfterWrite?: boolean; waitMs?: number } = {}): Promise<{ text: string; closed: boolean; ms: number }> {
  const { host, port } = hostPortOf(url)
  return new Promise((resolve) => {
    const started = Date.now()
    const socket = net.connect({ host, port }, () => {
      socket.write(text)
      if (options.endAfterWrite === true) socket.end()
    })
    let received = ''
    socket.setEncoding('latin1')
    socket.on('data', (d: string) => (received += d))
    socket.on('error', () => undefined)
    const timer = setTimeout(() => {
      socket.destroy()
      resolve({ text: received, closed: false, ms: Date.now() - started })
    }, options.waitMs ?? 3000)
    socket.on('close', () => {
      clearTimeout(timer)
      resolve({ text: received, closed: true, ms: Date.now() - started })
    })
  })
}

describe('HTTP/1 connections served by the balancer', () => {
  it('sends a body without Content-Length chunked to HTTP/1.1 clients, and until close to HTTP/1.0 clients', async (t) => {
    const defer = cleanups(t)
    const backend = await framingBackend()
    defer(() => backend.close())
    const lb = await startBalancer(balancerYaml({ servers: { s1: backend.address } }))
    defer(() => lb.stop(0))

    const chunked = await rawRequest(lb.url(), 'GET /stream HTTP/1.1\r\nHost: a\r\n\r\n')
    assert.equal(chunked.status, 200)
    assert.deepEqual(headerValues(chunked, 'transfer-encoding'), ['chunked'])
    assert.equal(chunked.body, 'part one, part two')
    assert.deepEqual(headerValues(chunked, 'connection'), ['keep-alive'])

    const old = await readUntilClose(lb.url(), 'GET /stream HTTP/1.0\r\nHost: a\r\n\r\n')
    assert.ok(old.closed, 'the HTTP/1.0 answer ends with the connection')
    const reply = parseRawResponse(old.text, true)!
    assert.equal(reply.status, 200)
    assert.deepEqual(headerValues(reply, 'transfer-encoding'), [])
    assert.deepEqual(headerValues(reply, 'connection'), ['close'])
    assert.equal(reply.body, 'part one, part two')
  })

  it('keeps an HTTP/1.0 connection open only when the client asks for keep-alive', async (t) => {
    const defer = cleanups(t)
    const backend = await framingBackend()
    defer(() => backend.close())
    const lb = await startBalancer(balancerYaml({ servers: { s1: backend.address } }))
    defer(() => lb.stop(0))
    const kept = await readUntilClose(lb.url(), 'GET /fixed HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n', { waitMs: 500 })
    assert.equal(kept.closed, false)
    assert.deepEqual(headerValues(parseRawResponse(kept.text, false)!, 'connection'), ['keep-alive'])
    const closed = await readUntilClose(lb.url(), 'GET /fixed HTTP/1.0\r\nHost: a\r\n\r\n', { waitMs: 2000 })
    assert.ok(closed.closed)
    assert.equal(parseRawResponse(closed.text, true)!.body, 'fixed')
  })

  it('answers a client that ended its side after its request, then closes', async (t) => {
    const defer = cleanups(t)
    const backend = await startBackend('slow', (_req, res) => setTimeout(() => res.end('late answer'), 100))
    defer(() => backend.close())
    const lb = await startBalancer(balancerYaml({ servers: { s1: backend.address } }))
    defer(() => lb.stop(0))
    const got = await readUntilClose(lb.url(), 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', { endAfterWrite: true })
    assert.ok(got.closed)
    assert.equal(parseRawResponse(got.text, true)!.body, 'late answer')
  })

  it('answers pipelined requests in order, HEAD without a body, and says how long it keeps the connection', async (t) => {
    const defer = cleanups(t)
    const backend = await framingBackend()
    defer(() => backend.close())
    const lb = await startBalancer(balancerYaml({ servers: { s1: backend.address }, frontend: '    default_backend: app\n    timeouts: { keep_alive: 7s }' }))
    defer(() => lb.stop(0))
    const got = await readUntilClose(lb.url(), 'HEAD /fixed HTTP/1.1\r\nHost: a\r\n\r\nGET /stream HTTP/1.1\r\nHost: a\r\n\r\nGET /fixed HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')
    assert.ok(got.closed, 'the connection closes after the answer to "Connection: close"')
    const first = parseRawResponse(got.text, false)!
    assert.deepEqual(headerValues(first, 'content-length'), ['5'])
    assert.deepEqual(headerValues(first, 'keep-alive'), ['timeout=7'])
    assert.ok(headerValues(first, 'date').length === 1)
    // HEAD: the head only; the next answer follows right after it.
    const afterHead = got.text.slice(got.text.indexOf('\r\n\r\n') + 4)
    assert.match(afterHead, /^HTTP\/1\.1 200 /)
    const second = parseRawResponse(afterHead, false)!
    assert.equal(second.body, 'part one, part two')
    const third = afterHead.slice(afterHead.indexOf('0\r\n\r\n') + 5)
    const last = parseRawResponse(third, true)!
    assert.equal(last.body, 'fixed')
    assert.deepEqual(headerValues(last, 'connection'), ['close'])
  })

  it('closes an idle keep-alive connection after timeouts.keep_alive, and not before', async (t) => {
    const defer = cleanups(t)
    const backend = await framingBackend()
    defer(() => backend.close())
    const lb = await startBalancer(balancerYaml({ servers: { s1: backend.address }, frontend: '    default_backend: app\n    timeouts: { keep_alive: 400ms }' }))
    defer(() => lb.stop(0))
    const got = await readUntilClose(lb.url(), 'GET /fixed HTTP/1.1\r\nHost: a\r\n\r\n', { waitMs: 3000 })
    assert.ok(got.closed, 'closed by the balancer')
    assert.equal(parseRawResponse(got.text, true)!.body, 'fixed')
    assert.ok(got.ms >= 400, `closed after ${got.ms} ms`)
    assert.ok(got.ms < 2000, `closed after ${got.ms} ms`)
  })

  it('closes a connection whose request body stalls for timeouts.client, and not before', async (t) => {
    const defer = cleanups(t)
    const backend = await framingBackend()
    defer(() => backend.close())
    const lb = await startBalancer(balancerYaml({ servers: { s1: backend.address }, frontend: '    default_backend: app\n    timeouts: { client: 400ms }' }))
    defer(() => lb.stop(0))
    const got = await readUntilClose(lb.url(), 'POST /fixed HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nthe first bytes', { waitMs: 3000 })
    assert.ok(got.closed, 'closed by the balancer')
    assert.ok(got.ms >= 400, `closed after ${got.ms} ms`)
    assert.ok(got.ms < 2000, `closed after ${got.ms} ms`)
    assert.equal(backend.received.length, 0, 'the incomplete request never reached the server')
  })

  it('lets a request wait for a slow server longer than timeouts.client', async (t) => {
    const defer = cleanups(t)
    const backend = await startBackend('app', (_req, res) => {
      setTimeout(() => res.end('late'), 900)
    })
    defer(() => backend.close())
    const lb = await startBalancer(balancerYaml({ servers: { s1: backend.address }, frontend: '    default_backend: app\n    timeouts: { client: 200ms }' }))
    defer(() => lb.stop(0))
    const got = await readUntilClose(lb.url(), 'GET /slow HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n', { waitMs: 3000 })
    assert.equal(parseRawResponse(got.text, true)?.body, 'late')
  })

  it('cuts a response to a client that stops reading it for timeouts.client', async (t) => {
    const defer = cleanups(t)
    let finished: boolean | undefined
    let serverClosed: () => void = () => undefined
    const closed = new Promise<void>((resolve) => (serverClosed = resolve))
    const backend = await startBackend('app', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' })
      const chunk = Buffer.alloc(64 * 1024, 120)
      // Far more than the socket buffers on both sides hold: the client's silence stops the transfer.
      let left = 1024
      const pump = (): void => {
        while (left > 0) {
          left--
          if (!res.write(chunk)) return void res.once('drain', pump)
        }
        res.end()
      }
      res.on('close', () => {
        finished = res.writableFinished
        serverClosed()
      })
      pump()
    })
    defer(() => backend.close())
    const lb = await startBalancer(balancerYaml({ servers: { s1: backend.address }, frontend: '    default_backend: app\n    timeouts: { client: 400ms }' }))
    defer(() => lb.stop(0))
    const { host, port } = hostPortOf(lb.url())
    const started = Date.now()
    const socket = net.connect({ host, port }, () => socket.write('GET /big HTTP/1.1\r\nHost: a\r\n\r\n'))
    socket.on('error', () => undefined)
    socket.pause()
    defer(() => socket.destroy())
    await closed
    assert.equal(finished, false, "the server's response was cut, not finished")
    assert.ok(Date.now() - started >= 400, `cut after ${Date.now() - started} ms`)
  })
})
