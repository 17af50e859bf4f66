import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { HEALTH_DEFAULTS, resolveHealthSettings } from '../src/health/health-defaults.js'

describe('health defaults', () => {
  it('no health section means no active checks, with the default timing', () => {
    const s = resolveHealthSettings(undefined)
    assert.equal(s.type, 'none')
    assert.deepEqual(
      [s.interval, s.fastInterval, s.downInterval, s.timeout, s.rise, s.fall, s.port],
      [2000, 500, 2000, 1000, 2, 3, undefined],
    )
    assert.equal(HEALTH_DEFAULTS.interval, s.interval)
  })

  it('fast_interval is interval / 4, at least 250ms and never more than interval; down_interval follows interval', () => {
    const at = (interval: number) => resolveHealthSettings({ type: 'tcp', interval })
    assert.equal(at(4000).fastInterval, 1000)
    assert.equal(at(800).fastInterval, 250)
    assert.equal(at(100).fastInterval, 100)
    assert.equal(at(4000).downInterval, 4000)
  })

  it('http: GET / expecting any 2xx; tls: a handshake with verification, http only with a path', () => {
    const http = resolveHealthSettings({ type: 'http' })
    assert.ok(http.type === 'http')
    assert.deepEqual([http.http.method, http.http.path, http.http.expectStatus.text, http.http.host, http.http.expectBody], ['GET', '/', '2xx', undefined, undefined])

    const tls = resolveHealthSettings({ type: 'tls' })
    assert.ok(tls.type === 'tls')
    assert.deepEqual([tls.tls.verify, tls.tls.sni, tls.http], [true, undefined, undefined])
    const tlsHttp = resolveHealthSettings({ type: 'tls', path: '/healthz', expect_status: 200 })
    assert.ok(tlsHttp.type === 'tls')
    assert.deepEqual([tlsHttp.http?.path, tlsHttp.http?.expectStatus.text], ['/healthz', '200'])
  })

  it('explicit values win', () => {
    const s = resolveHealthSettings({ type: 'exec', command: 'true', interval: 5000, fast_interval: 1000, down_interval: 30_000, timeout: 3000, rise: 5, fall: 1, port: 9000 })
    assert.deepEqual(
      [s.interval, s.fastInterval, s.downInterval, s.timeout, s.rise, s.fall, s.port],
      [5000, 1000, 30_000, 3000, 5, 1, 9000],
    )
  })
})
