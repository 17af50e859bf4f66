/**
 * The one contract every active check honours, run against each check type with real peers on 127.0.0.1:
 * passes on a healthy peer, fails with a useful detail on an unhealthy one, fails at about its timeout on a
 * silent one, stops when aborted, and never rejects.
 */
import assert from 'node:assert/strict'
import net from 'node:net'
import tls from 'node:tls'
import { after, before, describe, it } from 'node:test'
import { ExecCheck } from '../src/health/exec-check.js'
import type { CheckTarget, HealthCheck } from '../src/health/health-check.js'
import { resolveHealthSettings } from '../src/health/health-defaults.js'
import { HttpCheck } from '../src/health/http-check.js'
import { TcpCheck } from '../src/health/tcp-check.js'
import { TlsCheck } from '../src/health/tls-check.js'
import { startBackend } from './helpers/backend.js'
import { makeSelfSigned, type SelfSigned } from './helpers/self-signed.js'
import { startSilentListener } from './helpers/silent-listener.js'
import { within } from './helpers/wait.js'

interface Peer {
  readonly port: number
  close(): Promise<void>
}

interface Subject {
  readonly type: string
  /** The check under test, with the given timeout; exec checks differ per peer, the others share one. */
  check(timeoutMs: number, peer: 'healthy' | 'unhealthy' | 'silent'): HealthCheck
  healthy(): Promise<Peer>
  unhealthy(): Promise<Peer>
  silent(): Promise<Peer>
  /** What the detail says about the unhealthy peer. */
  readonly unhealthyDetail: RegExp
}

const target = (port: number): CheckTarget => ({ host: '127.0.0.1', port, name: 'app/s1' })

async function listen(server: net.Server): Promise<Peer> {
  const sockets = new Set<net.Socket>()
  server.on('connection', (s: net.Socket) => {
    sockets.add(s)
    s.on('error', () => {})
    s.on('close', () => sockets.delete(s))
  })
  server.on('secureConnection', (s: net.Socket) => s.on('error', () => {}))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as net.AddressInfo).port,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      for (const s of sockets) s.destroy()
      await closed
    },
  }
}

/** A port nothing listens on: a listener is opened there and closed again. */
async function closedPort(): Promise<Peer> {
  const peer = await listen(net.createServer())
  await peer.close()
  return { port: peer.port, close: async () => {} }
}

/** Accepts connections and never writes a byte. */
const mute = (): Promise<Peer> => listen(net.createServer(() => {}))

let cert: SelfSigned

/** For exec the peer is the command itself (see `check`); the port only feeds its environment. */
const noPort = async (): Promise<Peer> => ({ port: 1, close: async () => {} })

const subjects: Subject[] = [
  {
    type: 'tcp',
    check: (timeoutMs) => new TcpCheck(timeoutMs),
    healthy: () => listen(net.createServer((s) => s.end())),
    unhealthy: closedPort,
    silent: async () => startSilentListener(),
    unhealthyDetail: /ECONNREFUSED/,
  },
  {
    type: 'http',
    check: (timeoutMs) => {
      const settings = resolveHealthSettings({ type: 'http', path: '/healthz' })
      if (settings.type !== 'http') throw new Error('unreachable')
      return new HttpCheck({ timeoutMs, http: settings.http })
    },
    healthy: () => startBackend('ok'),
    unhealthy: () => startBackend('broken', (_req, res) => res.writeHead(500).end('database unavailable')),
    silent: async () => {
      const b = await startBackend('silent', () => {})
      return { port: b.port, close: () => b.kill() }
    },
    unhealthyDetail: /HTTP 500/,
  },
  {
    type: 'tls',
    check: (timeoutMs) => new TlsCheck(timeoutMs, { sni: undefined, verify: false, ca: undefined }),
    healthy: () => listen(tls.createServer({ key: cert.key, cert: cert.cert })),
    // Something listens there, but it does not speak TLS.
    unhealthy: () => listen(net.createServer((s) => s.end('HTTP/1.1 400 Bad Request\r\n\r\n'))),
    silent: mute,
    unhealthyDetail: /wrong version number/,
  },
  {
    type: 'exec',
    check: (timeoutMs, peer) =>
      new ExecCheck(timeoutMs, { healthy: 'exit 0', unhealthy: 'echo "app not ready" >&2; exit 3', silent: 'sleep 30' }[peer]),
    healthy: noPort,
    unhealthy: noPort,
    silent: noPort,
    unhealthyDetail: /exit 3: app not ready/,
  },
]

before(() => {
  cert = makeSelfSigned()
})
after(() => cert.remove())

for (const subject of subjects) {
  describe(`health check contract: ${subject.type}`, () => {
    it('passes on a healthy peer', async () => {
      const peer = await subject.healthy()
      try {
        const result = await within('check', subject.check(2000, 'healthy').run(target(peer.port), new AbortController().signal))
        assert.equal(result.ok, true, result.detail)
        assert.ok(result.detail.length > 0)
        assert.ok(result.durationMs >= 0)
      } finally {
        await peer.close()
      }
    })

    it('fails on an unhealthy peer and says why', async () => {
      const peer = await subject.unhealthy()
      try {
        const result = await within('check', subject.check(2000, 'unhealthy').run(target(peer.port), new AbortController().signal))
        assert.equal(result.ok, false)
        assert.match(result.detail, subject.unhealthyDetail)
      } finally {
        await peer.close()
      }
    })

    it('fails at about its timeout on a silent peer', async () => {
      const peer = await subject.silent()
      try {
        const began = Date.now()
        const result = await within('check', subject.check(300, 'silent').run(target(peer.port), new AbortController().signal))
        const elapsed = Date.now() - began
        assert.equal(result.ok, false)
        assert.equal(result.detail, 'timeout after 300ms')
        assert.ok(elapsed >= 250 && elapsed < 3000, `took ${elapsed}ms`)
      } finally {
        await peer.close()
      }
    })

    it('stops when its signal aborts, and does not start when already aborted', async () => {
      const peer = await subject.silent()
      try {
        const controller = new AbortController()
        const running = subject.check(60_000, 'silent').run(target(peer.port), controller.signal)
        setTimeout(() => controller.abort(), 100)
        const result = await within('aborted check', running)
        assert.deepEqual([result.ok, result.detail], [false, 'aborted'])

        const early = await within('check', subject.check(60_000, 'silent').run(target(peer.port), AbortSignal.abort()))
        assert.deepEqual([early.ok, early.detail], [false, 'aborted'])
      } finally {
        await peer.close()
      }
    })

    it('never rejects, even for an impossible target', async () => {
      const result = await within('check', subject.check(1000, 'unhealthy').run({ host: '127.0.0.1', port: -1, name: 'app/bad' }, new AbortController().signal))
      assert.equal(typeof result.ok, 'boolean')
      assert.ok(result.detail.length > 0)
    })
  })
}
