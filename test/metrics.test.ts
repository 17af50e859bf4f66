import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { LatencyHistogram } from '../src/metrics/latency-histogram.js'
import { metricsRoutes } from '../src/metrics/metrics-routes.js'
import { exportedBuckets, PrometheusMetrics } from '../src/metrics/prometheus.js'
import { startBackend } from './helpers/backend.js'
import { ROOT, startBalancer } from './helpers/balancer.js'
import { balancerYaml } from './helpers/config-yaml.js'
import { request } from './helpers/load.js'
import { exposedNames, parsePromText, sampleValue, type PromFamily } from './helpers/prom-text.js'
import { releaseConfig, startReleaseBalancer } from './helpers/release.js'
import { waitFor } from './helpers/wait.js'

/** Backend `app` has server `ok` (answers 200); /fail goes to backend `bad`, whose server has a Korean name and answers 503. */
async function twoBackends(t: { after: (fn: () => Promise<void>) => void }) {
  const ok = await startBackend('ok')
  const sick = await startBackend('sick', (_req, res) => {
    res.writeHead(503, { 'content-type': 'text/plain' })
    res.end('unavailable')
  })
  const lb = await startBalancer(
    balancerYaml({
      frontend: '    routes:\n      - { match: { path_prefix: /fail }, backend: bad }\n    default_backend: app',
      servers: [{ name: 'ok', address: ok.address }],
      after: `  bad:\n    servers:\n      서버-1: { address: ${sick.address} }`,
    }),
  )
  t.after(async () => {
    await lb.stop(0)
    await ok.close()
    await sick.close()
  })
  return lb
}

/** Renders and parses strictly; also: every family has HELP and TYPE, and counters are exactly the *_total names. */
async function scrape(metrics: PrometheusMetrics): Promise<Map<string, PromFamily>> {
  const families = parsePromText(await metrics.render())
  for (const family of families.values()) {
    assert.ok(family.help !== undefined && family.help !== '', `${family.name} has HELP`)
    assert.notEqual(family.type, 'untyped', `${family.name} has TYPE`)
    assert.equal(family.type === 'counter', family.name.endsWith('_total'), `${family.name} is a counter exactly when it ends in _total`)
  }
  return families
}

describe('Prometheus metrics', () => {
  it('counts responses per server and status, fills the duration histogram and tells server states', async (t) => {
    const lb = await twoBackends(t)
    for (let i = 0; i < 7; i++) assert.equal((await request(lb.url() + '/hello')).status, 200)
    for (let i = 0; i < 3; i++) assert.equal((await request(lb.url() + '/fail/x')).status, 503)
    const metrics = new PrometheusMetrics(lb)
    assert.match(metrics.contentType, /^text\/plain; version=0\.0\.4/)
    const families = await scrape(metrics)
    const ok = { backend: 'app', server: 'ok' }
    const sick = { backend: 'bad', server: '서버-1' }

    assert.deepEqual(
      families.get('switchyard_requests_total')!.samples.map((s) => [s.labels, s.value]),
      [
        [{ frontend: 'web', ...ok, code: '200' }, 7],
        [{ frontend: 'web', ...sick, code: '503' }, 3],
      ],
    )
    assert.equal(sampleValue(families, 'switchyard_frontend_requests_total', { frontend: 'web' }), 10)
    assert.equal(sampleValue(families, 'switchyard_frontend_responses_total', { frontend: 'web', code: '200' }), 7)
    assert.equal(sampleValue(families, 'switchyard_frontend_responses_total', { frontend: 'web', code: '503' }), 3)
    assert.equal(sampleValue(families, 'switchyard_retries_total', { backend: 'app' }), 0)
    assert.equal(sampleValue(families, 'switchyard_server_bytes_out_total', ok), 7 * 'ok'.length)

    for (const [labels, count] of [[ok, 7], [sick, 3]] as const) {
      assert.equal(sampleValue(families, 'switchyard_request_duration_seconds_count', labels), count)
      assert.equal(sampleValue(families, 'switchyard_request_duration_seconds_bucket', { ...labels, le: '+Inf' }), count)
      const sum = sampleValue(families, 'switchyard_request_duration_seconds_sum', labels)!
      assert.ok(sum > 0 && sum < count * 5, `duration sum ${sum}s`)
      const buckets = families.get('switchyard_request_duration_seconds')!.samples.filter((s) => s.name.endsWith('_bucket') && s.labels.server === labels.server)
      assert.equal(buckets.length, 16, '15 bounds and +Inf')
      buckets.forEach((b, i) => assert.ok(i === 0 || b.value >= buckets[i - 1]!.value, 'cumulative'))
      // Local requests take well under 10 s: everything is counted by then.
      assert.equal(buckets.find((b) => b.labels.le === '10')!.value, count)
    }

    assert.equal(sampleValue(families, 'switchyard_server_up', ok), 1)
    assert.equal(sampleValue(families, 'switchyard_server_up', sick), 1)
    lb.changeServer('app', 'ok', { admin: 'maint' })
    const after = await scrape(metrics)
    assert.equal(sampleValue(after, 'switchyard_server_up', ok), 0)
    assert.equal(sampleValue(after, 'switchyard_server_up', sick), 1)
    for (const state of ['UP', 'DOWN', 'DRAIN', 'MAINT', 'STARTING']) {
      assert.equal(sampleValue(after, 'switchyard_server_state', { ...ok, state }), state === 'MAINT' ? 1 : 0, state)
    }
    // Counters are read, not reset, by a scrape.
    assert.equal(sampleValue(after, 'switchyard_requests_total', { frontend: 'web', ...ok, code: '200' }), 7)
  })

  it('answers through the /metrics descriptor the admin listener mounts', async (t) => {
    const lb = await twoBackends(t)
    await request(lb.url() + '/hello')
    const route = metricsRoutes(lb)
    assert.equal(route.path, '/metrics')
    const { contentType, body } = await route.render()
    assert.match(contentType, /^text\/plain; version=0\.0\.4; charset=utf-8$/)
    assert.equal(sampleValue(parsePromText(body), 'switchyard_requests_total', { frontend: 'web', backend: 'app', server: 'ok', code: '200' }), 1)
  })

  it('folds the fine latency buckets into the exported ones without counting a request below its duration', () => {
    const histogram = new LatencyHistogram()
    for (const ms of [0.05, 0.99, 1.0, 3, 70_000]) histogram.record(ms)
    // 1.0 ms shares its fine bucket (0.9906, 1.04] with values above 1 ms: it is counted at the next bound, 2.5 ms.
    assert.deepEqual(exportedBuckets(histogram.snapshot()), [2, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4])

    const random = new LatencyHistogram()
    const values = Array.from({ length: 5000 }, (_, i) => Math.exp(((i * 7919) % 5000) / 5000 * Math.log(120_000)) / 2)
    for (const ms of values) random.record(ms)
    const bounds = [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000]
    exportedBuckets(random.snapshot()).forEach((count, j) => {
      const atMost = values.filter((v) => v <= bounds[j]!).length
      const wellBelow = values.filter((v) => v <= bounds[j]! / 1.05).length
      assert.ok(count <= atMost && count >= wellBelow, `le=${bounds[j]} ms: ${count} in [${wellBelow}, ${atMost}]`)
    })
  })

  it('the test\'s text parser accepts valid escapes and rejects what Prometheus rejects', () => {
    const valid = '# HELP a_total Quote " and \\\\ and \\n.\n# TYPE a_total counter\na_total{x="q\\"b\\\\n\\n",y="서버"} 1.5e3\n\nb +Inf 1700000000\n'
    const families = parsePromText(valid)
    assert.equal(sampleValue(families, 'a_total', { x: 'q"b\\n\n', y: '서버' }), 1500)
    const h = '# TYPE h histogram\n'
    const invalid = [
      'a 1',
      'a{x="1} 1\n',
      'a{x="\\t"} 1\n',
      'a{1x="1"} 1\n',
      'a{x="1"}1\n',
      'a one\n',
      'a 1 2.5\n',
      '# HELP a bad \\t escape\n',
      '# TYPE a counters\n',
      '# just a comment\n',
      'a 1\n# TYPE a gauge\n',
      'a{x="1"} 1\nb 1\na{x="2"} 1\n',
      'a{x="1"} 1\na{x="1"} 2\n',
      '# TYPE c_total counter\nc_total -1\n',
      `${h}h_bucket{le="1"} 2\nh_bucket{le="2"} 1\nh_bucket{le="+Inf"} 2\nh_count 2\n`,
      `${h}h_bucket{le="1"} 1\nh_count 1\n`,
      `${h}h_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_count 3\n`,
    ]
    for (const text of invalid) assert.throws(() => parsePromText(text), Error, JSON.stringify(text))
  })

  it('the Grafana dashboard only queries metrics the exporter emits', async (t) => {
    const lb = await twoBackends(t)
    const emitted = exposedNames(await scrape(new PrometheusMetrics(lb)))
    const dashboard = JSON.parse(readFileSync(join(ROOT, 'examples/grafana/switchyard-dashboard.json'), 'utf8')) as Record<string, unknown>
    assert.equal(dashboard.schemaVersion, 39)
    assert.deepEqual((dashboard.__inputs as { name: string }[]).map((i) => i.name), ['DS_PROMETHEUS'])
    const queries = stringsUnder(dashboard, new Set(['expr', 'definition']))
    assert.ok(queries.length >= 15, `${queries.length} queries`)
    const used = new Set(queries.flatMap((q) => q.match(/switchyard_[a-zA-Z0-9_:]*/g) ?? []))
    for (const name of used) assert.ok(emitted.has(name), `the dashboard queries ${name}, which is not emitted`)
    for (const name of ['switchyard_requests_total', 'switchyard_request_duration_seconds_bucket', 'switchyard_server_state', 'switchyard_release_traffic_ratio', 'switchyard_deployments_total']) {
      assert.ok(used.has(name), `the dashboard shows ${name}`)
    }
  })

  it('shows a canary split, the running release and, once promoted, the finished one', async (t) => {
    const yaml = releaseConfig({ strategy: 'canary', instances: 1, startDelayMs: 200, strategyExtra: '      steps: [{ weight: 25 }]' })
    const { lb } = await startReleaseBalancer(yaml)
    t.after(() => lb.stop(1000))
    const metrics = new PrometheusMetrics(lb)
    const before = await scrape(metrics)
    assert.equal(sampleValue(before, 'switchyard_release_traffic_ratio', { service: 'app', release: 'v1' }), 1)
    assert.equal(sampleValue(before, 'switchyard_deployment_in_progress', { service: 'app' }), 0)
    const succeeded = { service: 'app', strategy: 'canary', result: 'succeeded' }
    // The first release (v1, at start) is counted too.
    const finished = sampleValue(before, 'switchyard_deployments_total', succeeded) ?? 0

    const record = lb.deploy('app', 'v2')
    const split = await waitFor('the canary split', async () => {
      const families = await scrape(metrics)
      return sampleValue(families, 'switchyard_release_traffic_ratio', { service: 'app', release: 'v2' }) === 0.25 ? families : undefined
    }, 15_000)
    assert.equal(sampleValue(split, 'switchyard_release_traffic_ratio', { service: 'app', release: 'v1' }), 0.75)
    assert.equal(sampleValue(split, 'switchyard_deployment_in_progress', { service: 'app' }), 1)
    assert.ok(sampleValue(split, 'switchyard_deployment_steps', { service: 'app' })! > 0)
    const releases = split.get('switchyard_server_info')!.samples.map((s) => s.labels.release)
    assert.ok(releases.includes('v1') && releases.includes('v2'), `server releases ${releases.join(',')}`)
    const checks = split.get('switchyard_health_checks_total')!.samples
    assert.ok(checks.length >= 2 && checks.every((s) => s.value > 0), 'active checks are counted per server')
    assert.ok(split.get('switchyard_health_check_duration_seconds')!.samples.length >= 2)

    await lb.steerDeployment(record.id, 'promote')
    await lb.services.settled()
    const done = await scrape(metrics)
    assert.equal(sampleValue(done, 'switchyard_deployments_total', succeeded), finished + 1)
    assert.equal(sampleValue(done, 'switchyard_release_traffic_ratio', { service: 'app', release: 'v2' }), 1)
    assert.equal(done.get('switchyard_release_traffic_ratio')!.samples.length, 1)
    assert.equal(sampleValue(done, 'switchyard_deployment_in_progress', { service: 'app' }), 0)
  })
})

/** Every string value of the given keys anywhere in `value`. */
function stringsUnder(value: unknown, keys: ReadonlySet<string>): string[] {
  if (Array.isArray(value)) return value.flatMap((v) => stringsUnder(v, keys))
  if (value === null || typeof value !== 'object') return []
  return Object.entries(value).flatMap(([k, v]) => (keys.has(k) && typeof v === 'string' ? [v] : stringsUnder(v, keys)))
}
