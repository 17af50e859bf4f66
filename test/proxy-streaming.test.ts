import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { describe, it } from 'node:test'
import { cleanups } from './helpers/cleanup.js'
import { startBalancer, startBalancerProcess } from './helpers/balancer.js'
import { balancerYaml } from './helpers/config-yaml.js'
import { request } from './helpers/load.js'
import { residentBytes, sampleResident } from './helpers/process-memory.js'
import { waitFor, within } from './helpers/wait.js'

const MB = 1024 * 1024
const CHUNK = 64 * 1024

function config(backendAddress: string): string {
  return balancerYaml({ servers: { s1: backendAddress } })
}

interface RawBackend {
  readonly address: string
  close(): Promise<void>
}

/** A bare HTTP server on 127.0.0.1:0 whose close() also cuts connections still open. */
async function startServer(handler: http.RequestListener): Promise<RawBackend> {
  const sockets = new Set<Socket>()
  const server = http.createServer(handler)
  server.on('connection', (s: Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      for (const s of sockets) s.destroy()
      await closed
    },
  }
}

/** Resolves on the response's next 'drain' or 'close', whichever comes first (no listener left behind). */
function drainOrClose(res: http.ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done)
      res.off('close', done)
      resolve()
    }
    res.on('drain', done)
    res.on('close', done)
  })
}

/**
 * Writes `total` bytes (or without end when total is Infinity) in 64 KB chunks, waiting for 'drain' whenever
 * write() says the buffer is full. Stops when the response closes.
 */
async function writeWithBackpressure(res: http.ServerResponse, total: number, progress?: (written: number) => void): Promise<void> {
  const chunk = Buffer.alloc(CHUNK, 'r')
  let sent = 0
  while (sent < total && !res.destroyed) {
    const n = Math.min(CHUNK, total - sent)
    sent += n
    progress?.(sent)
    if (!res.write(n === CHUNK ? chunk : chunk.subarray(0, n))) {
      await drainOrClose(res)
    }
  }
  if (!res.destroyed) res.end()
}

/**
 * GET that reads slowly: after every `pauseEvery` bytes the response stream is paused for `pauseMs`.
 * `onProgress` sees the byte count after every chunk.
 */
function slowDownload(url: string, pauseEvery: number, pauseMs: number, onProgress: (bytes: number) => void): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      let bytes = 0
      let sinceBreak = 0
      res.on('data', (c: Buffer) => {
        bytes += c.length
        onProgress(bytes)
        sinceBreak += c.length
        if (sinceBreak >= pauseEvery) {
          sinceBreak = 0
          res.pause()
          setTimeout(() => res.resume(), pauseMs)
        }
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }))
      res.on('error', reject)
      res.on('close', () => {
        if (!res.complete) reject(new Error(`response cut after ${bytes} bytes`))
      })
    })
    req.on('error', reject)
  })
}

describe('proxy streaming', () => {
  it('streams a 100 MB response to a slow reader without buffering it in the balancer', async (t) => {
    const defer = cleanups(t)
    const size = 100 * MB
    /** Bytes the backend has handed to its socket so far. */
    let backendWritten = 0
    const warmUpSize = 20 * MB
    const backend = await startServer((req, res) => {
      if (req.url === '/warm-up') {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': warmUpSize })
        return void writeWithBackpressure(res, warmUpSize)
      }
      if (req.url !== '/big') return res.end('small')
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size })
      void writeWithBackpressure(res, size, (n) => (backendWritten = n))
    })
    defer(() => backend.close())
    const lb = await startBalancerProcess(config(backend.address))
    defer(() => lb.stop('SIGTERM'))
    const pid = lb.proc.pid!
    // Warm up (code loaded and compiled, pools and buffer allocators grown) before taking the baseline.
    const warmUp = await within('the warm-up download', slowDownload(`${lb.url()}/warm-up`, MB, 20, () => undefined), 30_000)
    assert.equal(warmUp.bytes, warmUpSize)
    const baseline = residentBytes(pid)
    const sampler = sampleResident(pid)
    let result: { status: number; bytes: number }
    /** How far the backend got ahead of what the client had read, at most. */
    let maxLead = 0
    const track = (clientBytes: number): void => {
      maxLead = Math.max(maxLead, backendWritten - clientBytes)
    }
    try {
      result = await within('the 100 MB download', slowDownload(`${lb.url()}/big`, MB, 20, track), 60_000)
    } finally {
      sampler.stop()
    }
    assert.equal(result.status, 200)
    assert.equal(result.bytes, size, 'the client received every byte')
    // Backpressure reaches the backend: it is held back by the slow reader (the lead is socket buffers only).
    assert.ok(maxLead < 40 * MB, `the backend ran ${(maxLead / MB).toFixed(1)} MB ahead of the client`)
    const growth = sampler.peak() - baseline
    t.diagnostic(`balancer RSS growth ${(growth / MB).toFixed(1)} MB, backend lead ${(maxLead / MB).toFixed(1)} MB`)
    assert.ok(growth < 60 * MB, `balancer RSS grew by ${(growth / MB).toFixed(1)} MB during a 100 MB transfer`)
  })

  it('closes the server response soon after the client aborts a download mid-way', async (t) => {
    const defer = cleanups(t)
    let resolveClosed: (finished: boolean) => void = () => undefined
    const serverClosed = new Promise<boolean>((resolve) => (resolveClosed = resolve))
    const backend = await startServer((req, res) => {
      if (req.url !== '/endless') return res.end('ok')
      res.on('close', () => resolveClosed(res.writableFinished))
      res.writeHead(200, { 'content-type': 'application/octet-stream' })
      void writeWithBackpressure(res, Infinity)
    })
    defer(() => backend.close())
    const lb = await startBalancer(config(backend.address))
    defer(() => lb.stop(0))
    const received = await new Promise<number>((resolve, reject) => {
      const req = http.get(`${lb.url()}/endless`, { agent: false }, (res) => {
        let bytes = 0
        res.on('data', (c: Buffer) => {
          bytes += c.length
          if (bytes >= 2 * MB) {
            req.destroy()
            resolve(bytes)
          }
        })
      })
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code !== 'ECONNRESET') reject(err)
      })
    })
    assert.ok(received >= 2 * MB)
    const finished = await within('the server response to close after the client left', serverClosed, 5000)
    assert.equal(finished, false, 'the endless response was cut, not finished')
    await waitFor('the exchange to end', () => (lb.frontends.get('web')!.activeRequests === 0 ? true : undefined))
    const next = await request(`${lb.url()}/after`)
    assert.equal(next.status, 200, 'the balancer goes on serving')
  })

  /** A backend that answers with the sha256 and length of the body it received. */
  async function startHashingBackend(): Promise<RawBackend> {
    return startServer((req, res) => {
      const hash = createHash('sha256')
      let length = 0
      req.on('data', (c: Buffer) => {
        hash.update(c)
        length += c.length
      })
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ sha256: hash.digest('hex'), length, te: req.headers['transfer-encoding'] ?? null }))
      })
    })
  }

  /** POSTs `body` in 64 KB writes with backpressure (chunked unless `withLength`); resolves with the answer. */
  function upload(url: string, body: Buffer, withLength: boolean): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/octet-stream' }
      if (withLength) headers['content-length'] = body.length
      const req = http.request(url, { method: 'POST', agent: false, headers }, (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => (text += c))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
        res.on('error', reject)
      })
      req.on('error', reject)
      void (async () => {
        for (let at = 0; at < body.length; at += CHUNK) {
          if (!req.write(body.subarray(at, at + CHUNK))) await once(req, 'drain')
        }
        req.end()
      })()
    })
  }

  for (const withLength of [true, false]) {
    it(`streams a 20 MB upload (${withLength ? 'Content-Length' : 'chunked'}) to the server intact`, async (t) => {
      const defer = cleanups(t)
      const body = randomBytes(20 * MB)
      const expected = createHash('sha256').update(body).digest('hex')
      const backend = await startHashingBackend()
      defer(() => backend.close())
      const lb = await startBalancer(config(backend.address))
      defer(() => lb.stop(0))
      const reply = await within('the upload', upload(`${lb.url()}/upload`, body, withLength), 30_000)
      assert.equal(reply.status, 200, reply.text)
      const seen = JSON.parse(reply.text) as { sha256: string; length: number }
      assert.equal(seen.length, body.length)
      assert.equal(seen.sha256, expected)
    })
  }
})
