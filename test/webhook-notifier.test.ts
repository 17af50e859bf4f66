import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { WebhookNotifier, type WebhookPayload } from '../src/deploy/webhook-notifier.js'
import { startBackend, type Handler } from './helpers/backend.js'
import { cleanups } from './helpers/cleanup.js'
import { sampleRecord } from './helpers/deployment-fixtures.js'
import { within } from './helpers/wait.js'

const summary = { duration_ms: 42_000, requests: 12_345, errors: 0, peak_instances: 3, extra_instances: 1, extra_instance_seconds: 12 }

function notifier(logs: string[], options: { timeoutMs?: number } = {}): WebhookNotifier {
  return new WebhookNotifier({ log: (m) => logs.push(m), backoffMs: 10, ...options })
}

async function receiver(t: Parameters<typeof cleanups>[0], handler?: Handler) {
  const backend = await startBackend('hook', handler)
  cleanups(t)(() => backend.kill())
  return { url: `http://${backend.address}/hooks/deploys`, received: backend.received }
}

const answer =
  (status: number): Handler =>
  (_req, res) => {
    res.writeHead(status)
    res.end(status === 200 ? 'ok' : 'nope')
  }

describe('WebhookNotifier', () => {
  it('posts a Slack-style text and the deployment on success', async (t) => {
    const hook = await receiver(t, answer(200))
    const logs: string[] = []
    await notifier(logs).notify(hook.url, { kind: 'succeeded', record: sampleRecord({ summary }) })
    assert.equal(hook.received.length, 1)
    const { method, url, headers, body } = hook.received[0]!
    assert.equal(method, 'POST')
    assert.equal(url, '/hooks/deploys')
    assert.equal(headers['content-type'], 'application/json')
    const payload = JSON.parse(body) as WebhookPayload
    assert.equal(payload.text, '✅ app v1 → v2 (rolling) succeeded in 42 s: 12,345 requests, 0 errors')
    assert.equal(payload.event, 'succeeded')
    assert.deepEqual(payload.deployment, {
      id: 'app-20261121-213000-a3f',
      service: 'app',
      from: 'v1',
      to: 'v2',
      strategy: 'rolling',
      status: 'succeeded',
      started_at: sampleRecord().started_at,
      ended_at: sampleRecord().ended_at,
      error: null,
      summary,
    })
    assert.deepEqual(logs, [])
  })

  it('announces a start without a summary, and a failure with its reason (escaped for Slack)', async (t) => {
    const hook = await receiver(t, answer(200))
    const n = notifier([])
    await n.notify(hook.url, { kind: 'started', record: sampleRecord({ status: 'running', ended_at: undefined, from: undefined }) })
    await n.notify(hook.url, { kind: 'failed', record: sampleRecord({ status: 'failed', error: 'v2 not UP within 30 s <healthz & 503>' }) })
    const [started, failed] = hook.received.map((r) => JSON.parse(r.body) as WebhookPayload)
    assert.equal(started!.text, '🚀 app v2 (rolling) started')
    assert.equal(started!.deployment.summary, null)
    assert.equal(started!.deployment.from, null)
    assert.equal(started!.deployment.ended_at, null)
    assert.equal(failed!.text, '❌ app v1 → v2 (rolling) failed after 4.0 s: v2 not UP within 30 s &lt;healthz &amp; 503&gt; (400 requests, 1 error)')
    assert.equal(failed!.deployment.error, 'v2 not UP within 30 s <healthz & 503>')
    assert.equal(failed!.deployment.summary?.requests, 400, 'computed from the timeline when the record has none')
  })

  it('retries after 500 twice and then delivers', async (t) => {
    let calls = 0
    const hook = await receiver(t, (req, res) => answer(++calls <= 2 ? 500 : 200)(req, res, ''))
    const logs: string[] = []
    await notifier(logs).notify(hook.url, { kind: 'rolled_back', record: sampleRecord({ status: 'rolled_back', error: 'p99 too high' }) })
    assert.equal(hook.received.length, 3)
    assert.equal(new Set(hook.received.map((r) => r.body)).size, 1, 'the same body each time')
    assert.equal(logs.length, 2)
    assert.match(logs[0]!, /attempt 1 of 3 failed: HTTP 500/)
  })

  it('gives up after three failing attempts without throwing', async (t) => {
    const hook = await receiver(t, answer(503))
    const logs: string[] = []
    await notifier(logs).notify(hook.url, { kind: 'aborted', record: sampleRecord({ status: 'aborted' }) })
    assert.equal(hook.received.length, 3)
    assert.match(logs[2]!, /attempt 3 of 3 failed: HTTP 503; giving up/)
  })

  it('does not retry a 4xx other than 429', async (t) => {
    const hook = await receiver(t, answer(404))
    const logs: string[] = []
    await notifier(logs).notify(hook.url, { kind: 'succeeded', record: sampleRecord() })
    assert.equal(hook.received.length, 1)
    assert.match(logs[0]!, /HTTP 404; giving up/)
  })

  it('resolves after the timeout when the receiver never answers', async (t) => {
    const hook = await receiver(t, () => undefined)
    const logs: string[] = []
    const started = Date.now()
    await within('notify', notifier(logs, { timeoutMs: 300 }).notify(hook.url, { kind: 'succeeded', record: sampleRecord() }), 5000)
    assert.ok(Date.now() - started >= 250)
    assert.equal(hook.received.length, 1)
    assert.match(logs[0]!, /no answer within 300 ms; giving up/)
  })

  it('retries refused connections and never throws', async () => {
    const gone = await startBackend('gone')
    await gone.kill()
    const logs: string[] = []
    await notifier(logs).notify(`http://${gone.address}/`, { kind: 'succeeded', record: sampleRecord() })
    assert.equal(logs.length, 3)
    assert.match(logs[0]!, /ECONNREFUSED/)
  })

  it('reports an invalid URL once, and survives a throwing log callback', async () => {
    const logs: string[] = []
    await notifier(logs).notify('not a url', { kind: 'started', record: sampleRecord() })
    assert.equal(logs.length, 1)
    assert.match(logs[0]!, /webhook started for deployment app-20261121-213000-a3f: Invalid URL/)
    const throwing = new WebhookNotifier({
      log: () => {
        throw new Error('log broke')
      },
    })
    await throwing.notify('not a url', { kind: 'started', record: sampleRecord() })
  })
})
