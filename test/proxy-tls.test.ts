import assert from 'node:assert/strict'
import { once } from 'node:events'
import { copyFileSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import http2 from 'node:http2'
import https from 'node:https'
import tls, { type TLSSocket } from 'node:tls'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { WebSocket, WebSocketServer, type ClientOptions } from 'ws'
import { parseConfigText, type ConfigError } from '../src/config/load-config.js'
import { startBackend, type TestBackend } from './helpers/backend.js'
import { startBalancer } from './helpers/balancer.js'
import { waitFor } from './helpers/wait.js'
import { makeTestCa, type IssuedCertificate, type TestCa } from './helpers/test-ca.js'

type Balancer = Awaited<ReturnType<typeof startBalancer>>

interface Answer {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  readonly body: string
  /** CN of the certificate the balancer served, and the protocol ALPN chose. */
  readonly servedCn: string
  readonly alpn: string | false | null
}

interface Call {
  readonly servername: string
  readonly path?: string
  readonly method?: string
  readonly headers?: Record<string, string>
  readonly body?: string
}

function cnOf(socket: TLSSocket): string {
  const subject = socket.getPeerCertificate().subject as unknown as Record<string, string> | undefined
  return subject?.CN ?? ''
}

/** One HTTP/1.1 request over a new TLS connection that verifies the certificate against `ca`. */
function h1(port: number, ca: Buffer, call: Call): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, servername: call.servername, ca, agent: false, method: call.method ?? 'GET', path: call.path ?? '/',
        headers: { host: `${call.servername}:${port}`, ...call.headers } },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => (body += c))
        res.on('end', () => {
          const socket = res.socket as TLSSocket
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, servedCn: cnOf(socket), alpn: socket.alpnProtocol })
        })
      },
    )
    req.on('error', reject)
    req.end(call.body)
  })
}

/** One HTTP/2 request over a new connection (node:http2 client), verified against `ca`. */
function h2(port: number, ca: Buffer, call: Call): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`https://${call.servername}:${port}`, {
      ca,
      servername: call.servername,
      lookup: (_host, options, done) => {
        if ((options as { all?: boolean }).all === true) (done as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: '127.0.0.1', family: 4 }])
        else done(null, '127.0.0.1', 4)
      },
    })
    session.on('error', reject)
    const stream = session.request({ ':method': call.method ?? 'GET', ':path': call.path ?? '/', ...call.headers })
    let headers: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader = {}
    let body = ''
    stream.setEncoding('utf8')
    stream.on('response', (h) => (headers = h))
    stream.on('data', (c: string) => (body += c))
    stream.on('error', reject)
    stream.on('end', () => {
      const socket = session.socket as TLSSocket
      const answer = { status: Number(headers[':status']), headers: headers as Answer['headers'], body, servedCn: cnOf(socket), alpn: socket.alpnProtocol }
      session.close()
      resolve(answer)
    })
    stream.end(call.body)
  })
}

/** What the echo server saw, as JSON. */
function echo(name: string): Promise<TestBackend> {
  return startBackend(name, (req, res, body) => {
    const seen = {
      server: name,
      method: req.method,
      url: req.url,
      host: req.headers.host,
      proto: req.headers['x-forwarded-proto'],
      cookie: req.headers.cookie,
      custom: req.headers['x-custom'],
      body,
      version: req.httpVersion,
    }
    res.writeHead(req.url === '/missing' ? 404 : 200, { 'content-type': 'application/json', 'x-served-by': name, 'set-cookie': ['a=1', 'b=2'] })
    res.end(JSON.stringify(seen))
  })
}

describe('TLS termination, SNI and HTTP/2', () => {
  let ca: TestCa
  let fallback: IssuedCertificate
  let alpha: IssuedCertificate
  let wildcard: IssuedCertificate
  let app: TestBackend
  let other: TestBackend
  let lb: Balancer
  let port: number

  before(async () => {
    ca = makeTestCa()
    fallback = ca.issue('fallback', ['default.example.test'])
    alpha = ca.issue('alpha', ['alpha.example.test'], { viaIntermediate: true })
    wildcard = ca.issue('wild', ['*.beta.example.test'])
    app = await echo('app')
    other = await echo('other')
    lb = await startBalancer(`
admin: { listen: 127.0.0.1:0 }
access_log: false
frontends:
  web:
    listen: 127.0.0.1:0
    tls:
      cert: ${fallback.certFile}
      key: ${fallback.keyFile}
      certificates:
        - { cert: ${alpha.certFile}, key: ${alpha.keyFile} }
        - { cert: ${wildcard.certFile}, key: ${wildcard.keyFile} }
    routes:
      - match: { host: other.beta.example.test }
        backend: other
    default_backend: app
backends:
  app:
    servers: { s1: { address: ${app.address} } }
  other:
    servers: { s1: { address: ${other.address} } }
`)
    port = lb.addresses('web')[0]!.port
  })

  after(async () => {
    await lb?.stop(0)
    await app?.close()
    await other?.close()
    ca?.remove()
  })

  it('serves the certificate that the client asks for by SNI, with its chain, and the default for other names', async () => {
    const a = await h1(port, ca.ca, { servername: 'alpha.example.test' })
    assert.equal(a.servedCn, 'alpha.example.test')
    assert.equal(a.status, 200)
    const b = await h1(port, ca.ca, { servername: 'x.beta.example.test' })
    assert.equal(b.servedCn, '*.beta.example.test')
    const d = await h1(port, ca.ca, { servername: 'default.example.test' })
    assert.equal(d.servedCn, 'default.example.test')
    // A name no certificate has gets the default one, which a verifying client then refuses.
    await assert.rejects(h1(port, ca.ca, { servername: 'unknown.example.test' }), /altnames|does not match/i)
    // A wildcard covers one label only.
    await assert.rejects(h1(port, ca.ca, { servername: 'a.b.beta.example.test' }), /altnames|does not match/i)
  })

  it('refuses protocol versions below TLS 1.2', async () => {
    const attempt = new Promise<void>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port, servername: 'alpha.example.test', ca: ca.ca, maxVersion: 'TLSv1.1', minVersion: 'TLSv1' })
      socket.once('secureConnect', () => {
        socket.destroy()
        reject(new Error('a TLS 1.1 handshake succeeded'))
      })
      socket.once('error', () => resolve())
    })
    await attempt
  })

  it('gives an HTTP/2 client the same answers as an HTTP/1.1 client', async () => {
    const calls: Call[] = [
      { servername: 'alpha.example.test', path: '/hello?x=1', headers: { 'x-custom': 'yes', cookie: 'k=v' } },
      { servername: 'alpha.example.test', path: '/submit', method: 'POST', body: 'payload', headers: { 'content-type': 'text/plain' } },
      { servername: 'alpha.example.test', path: '/missing' },
      { servername: 'other.beta.example.test', path: '/routed' },
    ]
    for (const call of calls) {
      const one = await h1(port, ca.ca, call)
      const two = await h2(port, ca.ca, call)
      assert.equal(one.alpn, false, "node's https client offers no ALPN: HTTP/1.1")
      assert.equal(two.alpn, 'h2')
      assert.equal(two.status, one.status, call.path)
      assert.equal(two.body, one.body, call.path)
      assert.equal(two.headers['x-served-by'], one.headers['x-served-by'])
      assert.deepEqual(two.headers['set-cookie'], one.headers['set-cookie'])
      assert.equal(two.headers['content-type'], one.headers['content-type'])
    }
    const seen = JSON.parse((await h2(port, ca.ca, calls[0]!)).body) as Record<string, string>
    assert.equal(seen.host, `alpha.example.test:${port}`, ':authority becomes the Host header')
    assert.equal(seen.proto, 'https')
    assert.equal(seen.version, '1.1', 'the server is spoken to in HTTP/1.1')
    const routed = JSON.parse((await h2(port, ca.ca, calls[3]!)).body) as Record<string, string>
    assert.equal(routed.server, 'other', 'HTTP/2 requests are routed by :authority')
  })

  it('joins the cookie fields of an HTTP/2 request into one header', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const session = http2.connect(`https://127.0.0.1:${port}`, { ca: ca.ca, servername: 'alpha.example.test' })
      session.on('error', reject)
      // Several cookie fields, as browsers send them over HTTP/2 (RFC 9113 section 8.2.3).
      const stream = session.request({ ':path': '/c', ':authority': 'alpha.example.test', cookie: ['a=1', 'b=2'] })
      let body = ''
      stream.setEncoding('utf8')
      stream.on('data', (c: string) => (body += c))
      stream.on('end', () => {
        session.close()
        resolve(body)
      })
      stream.end()
    })
    assert.equal((JSON.parse(answer) as { cookie: string }).cookie, 'a=1; b=2')
  })
})

describe('TLS options, certificate reload, redirect and TLS to servers', () => {
  let ca: TestCa
  let first: IssuedCertificate
  let second: IssuedCertificate
  let app: TestBackend
  const balancers: Balancer[] = []

  before(async () => {
    ca = makeTestCa()
    first = ca.issue('first', ['site.example.test'])
    second = ca.issue('second', ['site.example.test', 'new.example.test'])
    app = await echo('app')
  })

  after(async () => {
    for (const lb of balancers) await lb.stop(0)
    await app?.close()
    ca?.remove()
  })

  async function tlsBalancer(tlsLines: string, more = ''): Promise<{ lb: Balancer; port: number; yaml: (lines: string) => string }> {
    const yaml = (lines: string): string => `
admin: { listen: 127.0.0.1:0 }
access_log: false
frontends:
  web:
    listen: 127.0.0.1:0
    tls:
${lines}
    default_backend: app
${more}
backends:
  app:
    servers: { s1: { address: ${app.address} } }
`
    const lb = await startBalancer(yaml(tlsLines))
    balancers.push(lb)
    return { lb, port: lb.addresses('web')[0]!.port, yaml }
  }

  function alpnOf(port: number, protocols: string[], minVersion?: tls.SecureVersion, maxVersion?: tls.SecureVersion): Promise<string | false> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port, servername: 'site.example.test', ca: ca.ca, ALPNProtocols: protocols, ...(minVersion ? { minVersion } : {}), ...(maxVersion ? { maxVersion } : {}) })
      socket.once('secureConnect', () => {
        const alpn = socket.alpnProtocol ?? false
        socket.destroy()
        resolve(alpn)
      })
      socket.once('error', reject)
    })
  }

  it('offers h2 only when http2 is on, and keeps TLS 1.3 only when asked', async () => {
    const on = await tlsBalancer(`      cert: ${first.certFile}\n      key: ${first.keyFile}`)
    assert.equal(await alpnOf(on.port, ['h2', 'http/1.1']), 'h2')
    assert.equal(await alpnOf(on.port, ['http/1.1']), 'http/1.1')
    assert.equal(await alpnOf(on.port, ['h2', 'http/1.1'], 'TLSv1.2', 'TLSv1.2'), 'h2', 'TLS 1.2 is accepted by default')
    const off = await tlsBalancer(`      cert: ${first.certFile}\n      key: ${first.keyFile}\n      http2: false\n      min_version: TLSv1.3`)
    assert.equal(await alpnOf(off.port, ['h2', 'http/1.1']), 'http/1.1')
    await assert.rejects(alpnOf(off.port, ['http/1.1'], 'TLSv1.2', 'TLSv1.2'), 'TLS 1.2 is refused with min_version TLSv1.3')
    const answer = await h1(off.port, ca.ca, { servername: 'site.example.test' })
    assert.equal(answer.status, 200)
  })

  it('takes new certificates on reload; open connections keep working', async () => {
    const { lb, port, yaml } = await tlsBalancer(`      cert: ${first.certFile}\n      key: ${first.keyFile}`)
    const session = http2.connect(`https://127.0.0.1:${port}`, { ca: ca.ca, servername: 'site.example.test' })
    const ask = (): Promise<number> =>
      new Promise((resolve, reject) => {
        const stream = session.request({ ':path': '/', ':authority': 'site.example.test' })
        stream.on('response', (h) => resolve(Number(h[':status'])))
        stream.on('error', reject)
        stream.resume()
        stream.end()
      })
    try {
      assert.equal(await ask(), 200)
      assert.equal((await h1(port, ca.ca, { servername: 'site.example.test' })).servedCn, 'site.example.test')
      await assert.rejects(h1(port, ca.ca, { servername: 'new.example.test' }), /altnames|does not match/i)
      writeFileSync(lb.configFile!, yaml(`      cert: ${second.certFile}\n      key: ${second.keyFile}`))
      await lb.reload()
      const fresh = await h1(port, ca.ca, { servername: 'new.example.test' })
      assert.equal(fresh.status, 200, 'the new certificate covers new.example.test')
      assert.equal(await ask(), 200, 'the HTTP/2 connection opened before the reload still works')
      // A key that does not go with its certificate fails the reload and changes nothing.
      writeFileSync(lb.configFile!, yaml(`      cert: ${first.certFile}\n      key: ${second.keyFile}`))
      await assert.rejects(lb.reload(), /does not go with/)
      assert.equal((await h1(port, ca.ca, { servername: 'new.example.test' })).status, 200)
      // Turning TLS off on the same listener is refused with a reason.
      writeFileSync(lb.configFile!, yaml('').replace('    tls:\n\n', ''))
      await assert.rejects(lb.reload(), (err: Error & { code?: string }) => err.code === 'SY_ERR_RELOAD_NEEDS_RESTART')
    } finally {
      session.close()
    }
  })

  it('redirects plain HTTP to https with https_redirect, keeping host, path and query', async () => {
    const { lb } = await tlsBalancer(
      `      cert: ${first.certFile}\n      key: ${first.keyFile}`,
      '  plain:\n    listen: 127.0.0.1:0\n    https_redirect: 8443',
    )
    const plain = lb.addresses('plain')[0]!
    const answer = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: plain.port, path: '/a/b?c=d', headers: { host: 'site.example.test:8080' }, agent: false }, resolve).on('error', reject)
    })
    answer.resume()
    assert.equal(answer.statusCode, 308)
    assert.equal(answer.headers.location, 'https://site.example.test:8443/a/b?c=d')
    assert.equal(app.received.filter((r) => r.url === '/a/b?c=d').length, 0, 'nothing was forwarded')
  })

  it('speaks TLS to servers: verified against a CA file, refused without it, unverified only when asked', async () => {
    const server = ca.issue('upstream', ['127.0.0.1'])
    const secure = https.createServer({ key: server.key, cert: server.cert }, (req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.end(`secure ${req.url} ${String((req.socket as TLSSocket).encrypted)}`)
    })
    await new Promise<void>((resolve) => secure.listen(0, '127.0.0.1', resolve))
    const address = `127.0.0.1:${(secure.address() as { port: number }).port}`
    try {
      const lb = await startBalancer(`
admin: { listen: 127.0.0.1:0 }
access_log: false
frontends:
  web:
    listen: 127.0.0.1:0
    routes:
      - { match: { path_prefix: /ca }, backend: with_ca }
      - { match: { path_prefix: /system }, backend: system_store }
      - { match: { path_prefix: /unverified }, backend: unverified }
backends:
  with_ca:
    tls: { ca: ${ca.caFile} }
    servers: { s1: { address: ${address} } }
  system_store:
    tls: true
    retries: 0
    servers: { s1: { address: ${address} } }
  unverified:
    tls: { verify: false }
    servers: { s1: { address: ${address} } }
`)
      balancers.push(lb)
      const get = async (path: string): Promise<[number, string]> => {
        const res = await fetch(`${lb.url()}${path}`)
        return [res.status, await res.text()]
      }
      assert.deepEqual(await get('/ca/x'), [200, 'secure /ca/x true'])
      assert.deepEqual(await get('/unverified/y'), [200, 'secure /unverified/y true'])
      const [status, body] = await get('/system/z')
      assert.equal(status, 502, 'a certificate the system does not trust is refused')
      assert.match(body, /SY_ERR_UPSTREAM/)
    } finally {
      secure.closeAllConnections()
      await new Promise<void>((resolve) => secure.close(() => resolve()))
    }
  })

  it('carries WebSockets over a TLS frontend that offers h2 (they use HTTP/1.1)', async () => {
    const wsServer = new WebSocketServer({ host: '127.0.0.1', port: 0 })
    wsServer.on('connection', (socket) => socket.on('message', (data) => socket.send(`echo ${String(data)}`)))
    await once(wsServer, 'listening')
    try {
      const lb = await startBalancer(`
admin: { listen: 127.0.0.1:0 }
access_log: false
frontends:
  web:
    listen: 127.0.0.1:0
    tls: { cert: ${first.certFile}, key: ${first.keyFile} }
    default_backend: ws
backends:
  ws:
    servers: { s1: { address: 127.0.0.1:${(wsServer.address() as { port: number }).port} } }
`)
      balancers.push(lb)
      const client = new WebSocket(`wss://127.0.0.1:${lb.addresses('web')[0]!.port}/chat`, { ca: ca.ca, servername: 'site.example.test' } as ClientOptions)
      await once(client, 'open')
      client.send('hi')
      const [reply] = (await once(client, 'message')) as [Buffer]
      assert.equal(String(reply), 'echo hi')
      client.close()
      await once(client, 'close')
    } finally {
      wsServer.close()
    }
  })

  it('reports certificate problems at their line, with paths relative to the configuration file', () => {
    copyFileSync(first.certFile, join(ca.dir, 'relative-cert.pem'))
    const text = [
      'frontends:',
      '  web:',
      '    listen: 8443',
      '    tls: { cert: relative-cert.pem, key: second.key }',
      '    default_backend: app',
      '  other:',
      '    listen: 8444',
      '    tls: { cert: missing.pem, key: first.key }',
      '    default_backend: app',
      'backends:',
      '  app: { servers: { s1: { address: 127.0.0.1:1 } } }',
    ].join('\n')
    const file = join(ca.dir, 'switchyard.yaml')
    const error = (() => {
      try {
        parseConfigText(text, file, {})
      } catch (err) {
        return err as ConfigError
      }
      return undefined
    })()
    assert.ok(error !== undefined, 'the configuration is refused')
    assert.deepEqual(error.problems.map((p) => `${p.line}:${p.col}: ${p.message.replaceAll(ca.dir + '/', '')}`), [
      '4:42: second.key does not go with relative-cert.pem: key values mismatch',
      '8:18: cannot read missing.pem: no such file',
    ])
  })

  it('applies the same limits to HTTP/2 requests, answering errors with a body', async () => {
    const { port } = await tlsBalancer(`      cert: ${first.certFile}\n      key: ${first.keyFile}`, '    max_body_size: 1kb')
    const big = 'x'.repeat(4096)
    const declared = await h2(port, ca.ca, { servername: 'site.example.test', method: 'POST', path: '/up', body: big, headers: { 'content-length': String(big.length) } })
    assert.equal(declared.status, 413)
    assert.match(declared.body, /SY_ERR_BODY_TOO_LARGE/)
    const streamed = await h2(port, ca.ca, { servername: 'site.example.test', method: 'POST', path: '/up', body: big })
    assert.equal(streamed.status, 413, 'a body without a declared length is cut at the limit too')
    const fine = await h2(port, ca.ca, { servername: 'site.example.test', method: 'POST', path: '/up', body: 'small' })
    assert.equal(fine.status, 200)
    assert.equal((JSON.parse(fine.body) as { body: string }).body, 'small')
  })

  it('closes an HTTP/2 connection that stays idle for timeouts.client', async () => {
    const { port } = await tlsBalancer(`      cert: ${first.certFile}\n      key: ${first.keyFile}`, '    timeouts: { client: 300ms }')
    const session = http2.connect(`https://127.0.0.1:${port}`, { ca: ca.ca, servername: 'site.example.test' })
    session.on('error', () => undefined)
    const closed = once(session, 'close')
    const stream = session.request({ ':path': '/', ':authority': 'site.example.test' })
    stream.resume()
    stream.end()
    await once(stream, 'end')
    const started = Date.now()
    await closed
    assert.ok(Date.now() - started >= 200, 'not closed before the idle timeout')
  })

  it('lets an HTTP/2 request in flight finish on a graceful stop', async () => {
    const slow = await startBackend('slow', (_req, res) => setTimeout(() => res.end('late answer'), 400))
    try {
      const lb = await startBalancer(`
admin: { listen: 127.0.0.1:0 }
access_log: false
frontends:
  web:
    listen: 127.0.0.1:0
    tls: { cert: ${first.certFile}, key: ${first.keyFile} }
    default_backend: app
backends:
  app:
    servers: { s1: { address: ${slow.address} } }
`)
      const port = lb.addresses('web')[0]!.port
      const pending = h2(port, ca.ca, { servername: 'site.example.test', path: '/slow' })
      await waitFor('the request reached the server', () => (slow.received.length > 0 ? true : undefined))
      const stopped = lb.stop(5000)
      const answer = await pending
      assert.deepEqual([answer.status, answer.body], [200, 'late answer'])
      await stopped
    } finally {
      await slow.close()
    }
  })
})
