/** Each check type's own options, against real peers on 127.0.0.1 (the shared behaviour is in health-contract). */
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import tls from 'node:tls'
import { after, before, describe, it } from 'node:test'
import type { HealthConfig } from '../src/config/schema.js'
import { createHealthCheck } from '../src/health/create-health-check.js'
import type { CheckResult, CheckTarget } from '../src/health/health-check.js'
import { resolveHealthSettings } from '../src/health/health-defaults.js'
import { startBackend, type Handler } from './helpers/backend.js'
import { makeSelfSigned, type SelfSigned } from './helpers/self-signed.js'
import { waitFor, within } from './helpers/wait.js'

const target = (port: number, name = 'app/s1'): CheckTarget => ({ host: '127.0.0.1', port, name })

function check(config: HealthConfig, port: number): Promise<CheckResult> {
  const healthCheck = createHealthCheck(resolveHealthSettings(config))
  assert.ok(healthCheck !== undefined)
  return within('check', healthCheck.run(target(port), new AbortController().signal))
}

async function withBackend(handler: Handler, body: (port: number) => Promise<void>): Promise<void> {
  const backend = await startBackend('peer', handler)
  try {
    await body(backend.port)
  } finally {
    await backend.close()
  }
}

describe('http check', () => {
  const answer = (status: number, body = ''): Handler => (_req, res) => res.writeHead(status).end(body)

  it('expects an exact status, as a number or a string', async () => {
    await withBackend(answer(204), async (port) => {
      assert.equal((await check({ type: 'http', expect_status: 204 }, port)).ok, true)
      assert.equal((await check({ type: 'http', expect_status: '204' }, port)).ok, true)
      const wrong = await check({ type: 'http', expect_status: 200 }, port)
      assert.deepEqual([wrong.ok, wrong.detail, wrong.code], [false, 'HTTP 204 (expected 200)', 204])
    })
  })

  it('expects a status class, 2xx by default', async () => {
    await withBackend(answer(301), async (port) => {
      assert.equal((await check({ type: 'http', expect_status: '3xx' }, port)).ok, true)
      assert.equal((await check({ type: 'http', expect_status: '3XX' }, port)).ok, true)
      const byDefault = await check({ type: 'http' }, port)
      assert.deepEqual([byDefault.ok, byDefault.detail], [false, 'HTTP 301 (expected 2xx)'])
    })
  })

  it('expects a body substring or a /regex/', async () => {
    await withBackend(answer(200, '{"status": "ok", "db": "connected"}'), async (port) => {
      assert.equal((await check({ type: 'http', expect_body: '"db": "connected"' }, port)).ok, true)
      const missing = await check({ type: 'http', expect_body: 'degraded' }, port)
      assert.deepEqual([missing.ok, missing.detail], [false, 'HTTP 200, body does not contain "degraded"'])
      assert.equal((await check({ type: 'http', expect_body: '/"status":\\s*"OK"/i' }, port)).ok, true)
      const noMatch = await check({ type: 'http', expect_body: '/^fail/' }, port)
      assert.deepEqual([noMatch.ok, noMatch.detail], [false, 'HTTP 200, body does not match /^fail/'])
    })
  })

  it('reads at most 64 KB of the body', async () => {
    const huge: Handler = (_req, res) => {
      res.writeHead(200)
      res.write('x'.repeat(70 * 1024))
      res.end('MARKER')
    }
    await withBackend(huge, async (port) => {
      const result = await check({ type: 'http', expect_body: 'MARKER' }, port)
      assert.deepEqual([result.ok, result.detail], [false, 'HTTP 200, body does not contain "MARKER"'])
    })
  })

  it('sends the method, the path and the Host header (the checked address unless `host` is set)', async () => {
    const backend = await startBackend('peer')
    try {
      await check({ type: 'http', path: '/healthz?full=1', method: 'head' }, backend.port)
      await check({ type: 'http', host: 'app.internal' }, backend.port)
      assert.deepEqual(
        backend.received.map((r) => [r.method, r.url, r.headers.host]),
        [
          ['HEAD', '/healthz?full=1', `127.0.0.1:${backend.port}`],
          ['GET', '/', 'app.internal'],
        ],
      )
    } finally {
      await backend.close()
    }
  })

  it('rejects an expectation that cannot work when the settings are resolved', () => {
    assert.throws(() => resolveHealthSettings({ type: 'http', expect_status: 'ok' }), /expect_status 'ok' is not a status/)
    assert.throws(() => resolveHealthSettings({ type: 'http', expect_body: '/([/' }), /not a valid regular expression/)
    assert.throws(() => resolveHealthSettings({ type: 'exec' }), /needs a command/)
  })
})

describe('tls check', () => {
  let cert: SelfSigned
  before(() => {
    cert = makeSelfSigned()
  })
  after(() => cert.remove())

  async function withTlsServer(body: (port: number, servernames: (string | false | null)[]) => Promise<void>): Promise<void> {
    const servernames: (string | false | null)[] = []
    const server = tls.createServer({ key: cert.key, cert: cert.cert }, (socket) => {
      servernames.push(socket.servername)
      socket.end()
    })
    server.on('tlsClientError', () => {})
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      await body((server.address() as AddressInfo).port, servernames)
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }

  it('verifies the certificate unless verify is false', async () => {
    await withTlsServer(async (port) => {
      const verified = await check({ type: 'tls' }, port)
      assert.equal(verified.ok, false)
      assert.match(verified.detail, /SELF_SIGNED/)
      const unverified = await check({ type: 'tls', verify: false }, port)
      assert.equal(unverified.ok, true, unverified.detail)
      assert.match(unverified.detail, /^TLS handshake ok/)
    })
  })

  it('trusts the certificates of a ca file instead of the system store', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-ca-'))
    try {
      writeFileSync(join(dir, 'ca.pem'), cert.cert)
      await withTlsServer(async (port) => {
        const trusted = await check({ type: 'tls', ca: join(dir, 'ca.pem') }, port)
        assert.equal(trusted.ok, true, trusted.detail)
      })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('sends the sni, and none for an IP address', async () => {
    await withTlsServer(async (port, servernames) => {
      assert.equal((await check({ type: 'tls', verify: false, sni: 'app.example.test' }, port)).ok, true)
      assert.equal((await check({ type: 'tls', verify: false }, port)).ok, true)
      await waitFor('both handshakes', () => (servernames.length === 2 ? true : undefined))
      assert.deepEqual(servernames, ['app.example.test', false])
    })
  })

  it('with a path, checks GET /healthz over TLS', async () => {
    let healthy = true
    const seen: { url: string; servername: string | false | null; host: string }[] = []
    const server = https.createServer({ key: cert.key, cert: cert.cert }, (req, res) => {
      seen.push({ url: req.url ?? '', servername: (req.socket as tls.TLSSocket).servername, host: req.headers.host ?? '' })
      res.writeHead(req.url === '/healthz' && healthy ? 200 : 503).end()
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as AddressInfo).port
    try {
      const config: HealthConfig = { type: 'tls', path: '/healthz', expect_status: 200, verify: false, sni: 'app.example.test' }
      const pass = await check(config, port)
      assert.deepEqual([pass.ok, pass.detail], [true, 'HTTP 200'])
      healthy = false
      const fail = await check(config, port)
      assert.deepEqual([fail.ok, fail.detail], [false, 'HTTP 503 (expected 200)'])
      assert.deepEqual(seen[0], { url: '/healthz', servername: 'app.example.test', host: 'app.example.test' })
      assert.equal((await check({ ...config, verify: true }, port)).ok, false)
    } finally {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  })
})

describe('exec check', () => {
  let dir: string
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'switchyard-exec-'))
  })
  after(() => rmSync(dir, { recursive: true, force: true }))

  it('gives the command the server address and name', async () => {
    const out = join(dir, 'env.txt')
    const command = `printf '%s %s %s' "$SWITCHYARD_SERVER_HOST" "$SWITCHYARD_SERVER_PORT" "$SWITCHYARD_SERVER_NAME" > '${out}'`
    const result = await check({ type: 'exec', command }, 8123)
    assert.deepEqual([result.ok, result.detail, result.code], [true, 'exit 0', 0])
    assert.equal(readFileSync(out, 'utf8'), '127.0.0.1 8123 app/s1')
  })

  it('kills the command and everything it started at the timeout', async () => {
    const pids = join(dir, 'pids.txt')
    const command = `sleep 30 & echo "$$ $!" > '${pids}'; wait`
    const result = await check({ type: 'exec', command, timeout: 300 }, 8123)
    assert.deepEqual([result.ok, result.detail], [false, 'timeout after 300ms'])
    const [shell, sleeper] = readFileSync(pids, 'utf8').trim().split(' ').map(Number)
    await waitFor('the shell and its child to be gone', () => (!alive(shell!) && !alive(sleeper!) ? true : undefined))
  })
})

describe('check port', () => {
  it('`port` sends the check to another port than the server', async () => {
    const backend = await startBackend('health-port')
    try {
      const settings = resolveHealthSettings({ type: 'http', port: backend.port })
      const result = await within('check', createHealthCheck(settings)!.run(target(1), new AbortController().signal))
      assert.equal(result.ok, true, result.detail)
      assert.equal(backend.received.length, 1)
    } finally {
      await backend.close()
    }
  })
})

/** A process exists and is not a zombie (a reparented, killed child may linger as one until init reaps it). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return false
  }
}
