/** The admin API's release endpoints over FakeControl: routes, bodies, statuses, errors and the token. */
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, it } from 'node:test'
import type { DeploymentRecord } from '../src/deploy/deployment-record.js'
import { FakeControl } from './admin-fake-control.js'
import { errorCode, startAdmin, type Admin, type Answer } from './admin-harness.js'

function record(answer: Answer): DeploymentRecord {
  return answer.body as unknown as DeploymentRecord
}

function message(answer: Answer): string {
  return (answer.body.error as { message: string }).message
}

describe('admin API: deployments', () => {
  let control: FakeControl
  let admin: Admin

  beforeEach(async () => {
    control = new FakeControl({ app: ['s1'] }, { app: 'v1', api: undefined })
    admin = await startAdmin(control)
  })
  afterEach(() => admin.server.close())

  const deploy = (body: unknown) => admin.call('POST', '/api/v1/deployments', { body })

  describe('POST /api/v1/deployments', () => {
    it('starts a release: 202 with the record, which has an id', async () => {
      const answer = await deploy({ service: 'app', version: 'v2' })
      assert.equal(answer.status, 202)
      const started = record(answer)
      assert.equal(started.id, 'app-1')
      assert.deepEqual([started.service, started.from, started.to, started.strategy, started.status], ['app', 'v1', 'v2', 'rolling', 'running'])
      assert.equal(control.releases.records.length, 1)
    })

    it('passes the strategy on; the control refuses one it does not support with its code', async () => {
      const surge = await deploy({ service: 'api', version: '1.0.0', strategy: 'surge' })
      assert.equal(surge.status, 202)
      assert.equal(record(surge).strategy, 'surge')
      assert.equal(record(surge).from, undefined, 'a first release has no from')
      const shadow = await deploy({ service: 'app', version: 'v2', strategy: 'shadow' })
      assert.equal(shadow.status, 400)
      assert.equal(errorCode(shadow), 'SY_ERR_STRATEGY_UNSUPPORTED')
      assert.match(message(shadow), /strategy 'shadow' is not supported/)
    })

    it('refuses invalid bodies with SY_ERR_INVALID_BODY naming the field, starting nothing', async () => {
      const cases: { raw: string; reason: RegExp }[] = [
        { raw: '', reason: /expected a JSON object/ },
        { raw: '"app"', reason: /expected a JSON object/ },
        { raw: '{"service": "app"', reason: /not valid JSON/ },
        { raw: '{"version": "v2"}', reason: /service: is required/ },
        { raw: '{"service": "app"}', reason: /version: is required/ },
        { raw: '{"service": "app", "version": "v2", "versoin": "v3"}', reason: /unknown field 'versoin'/ },
        { raw: '{"service": "app", "version": "v 2"}', reason: /version: a version may use letters, digits/ },
        { raw: '{"service": "app", "version": ""}', reason: /version/ },
        { raw: '{"service": "app", "version": 2}', reason: /version/ },
        { raw: '{"service": "app", "version": "v2", "strategy": 1}', reason: /strategy/ },
      ]
      for (const { raw, reason } of cases) {
        const answer = await admin.call('POST', '/api/v1/deployments', { raw })
        assert.equal(answer.status, 400, raw)
        assert.equal(errorCode(answer), 'SY_ERR_INVALID_BODY', raw)
        assert.match(message(answer), reason, raw)
      }
      const query = await admin.call('POST', '/api/v1/deployments?wait=1', { body: { service: 'app', version: 'v2' } })
      assert.equal(query.status, 400)
      assert.equal(errorCode(query), 'SY_ERR_BAD_REQUEST')
      assert.equal(control.releases.records.length, 0)
    })

    it('answers an unknown service with 404 and a second release of a service with 409', async () => {
      const unknown = await deploy({ service: 'nope', version: 'v2' })
      assert.equal(unknown.status, 404)
      assert.deepEqual(unknown.body, { error: { code: 'SY_ERR_UNKNOWN_SERVICE', message: "no service named 'nope'" } })
      assert.equal((await deploy({ service: 'app', version: 'v2' })).status, 202)
      const second = await deploy({ service: 'app', version: 'v3' })
      assert.equal(second.status, 409)
      assert.equal(errorCode(second), 'SY_ERR_DEPLOYMENT_RUNNING')
      assert.equal(message(second), "service 'app' already has a release in progress (app-1)")
      assert.equal((await deploy({ service: 'api', version: 'v1' })).status, 202, 'another service may release meanwhile')
    })

    it('needs the token', async () => {
      const answer = await admin.call('POST', '/api/v1/deployments', { body: { service: 'app', version: 'v2' }, token: null })
      assert.equal(answer.status, 401)
      assert.equal(errorCode(answer), 'SY_ERR_UNAUTHORIZED')
      assert.equal(control.releases.records.length, 0)
    })
  })

  describe('GET /api/v1/deployments[/{id}]', () => {
    it('lists every deployment newest first, or one service with ?service=, without a token', async () => {
      await deploy({ service: 'app', version: 'v2' })
      control.releases.finish('app-1')
      await deploy({ service: 'api', version: 'a1' })
      await deploy({ service: 'app', version: 'v3' })
      const all = await admin.call('GET', '/api/v1/deployments', { token: null })
      assert.equal(all.status, 200)
      assert.deepEqual((all.body.deployments as DeploymentRecord[]).map((d) => d.id), ['app-3', 'api-2', 'app-1'])
      const app = await admin.call('GET', '/api/v1/deployments?service=app', { token: null })
      assert.deepEqual((app.body.deployments as DeploymentRecord[]).map((d) => [d.id, d.status]), [['app-3', 'running'], ['app-1', 'succeeded']])
      const none = new FakeControl({}, { idle: 'v1' })
      const empty = await startAdmin(none)
      try {
        assert.deepEqual((await empty.call('GET', '/api/v1/deployments')).body, { deployments: [] })
      } finally {
        await empty.server.close()
      }
    })

    it('answers an unknown service with 404 and an unknown query parameter with 400', async () => {
      const unknown = await admin.call('GET', '/api/v1/deployments?service=nope')
      assert.equal(unknown.status, 404)
      assert.equal(errorCode(unknown), 'SY_ERR_UNKNOWN_SERVICE')
      const typo = await admin.call('GET', '/api/v1/deployments?servce=app')
      assert.equal(typo.status, 400)
      assert.equal(errorCode(typo), 'SY_ERR_BAD_REQUEST')
    })

    it('reads one deployment; an unknown id is 404 SY_ERR_UNKNOWN_DEPLOYMENT', async () => {
      await deploy({ service: 'app', version: 'v2' })
      const one = await admin.call('GET', '/api/v1/deployments/app-1', { token: null })
      assert.equal(one.status, 200)
      assert.deepEqual(one.body, JSON.parse(JSON.stringify(control.releases.get('app-1'))))
      const unknown = await admin.call('GET', '/api/v1/deployments/app-9')
      assert.equal(unknown.status, 404)
      assert.deepEqual(unknown.body, { error: { code: 'SY_ERR_UNKNOWN_DEPLOYMENT', message: "no deployment with id 'app-9'" } })
    })
  })

  describe('POST /api/v1/deployments/{id}/pause|resume|promote|abort', () => {
    it('steers a release and answers 200 with the record after the change', async () => {
      await deploy({ service: 'app', version: 'v2' })
      const steer = (action: string) => admin.call('POST', `/api/v1/deployments/app-1/${action}`)
      const paused = await steer('pause')
      assert.equal(paused.status, 200)
      assert.equal(record(paused).status, 'paused')
      assert.equal(record(await steer('resume')).status, 'running')
      assert.equal((await steer('promote')).status, 200)
      const aborted = await admin.call('POST', '/api/v1/deployments/app-1/abort', { body: {} })
      assert.equal(record(aborted).status, 'aborted')
      assert.deepEqual(control.releases.steered, ['pause app-1', 'resume app-1', 'promote app-1', 'abort app-1'])
    })

    it('refuses what the status does not allow with 409, an unknown id with 404, an unknown action as an unknown endpoint', async () => {
      await deploy({ service: 'app', version: 'v2' })
      const resume = await admin.call('POST', '/api/v1/deployments/app-1/resume')
      assert.equal(resume.status, 409)
      assert.equal(errorCode(resume), 'SY_ERR_DEPLOYMENT_STATE')
      assert.equal(message(resume), 'deployment app-1 is running: cannot resume it')
      const unknown = await admin.call('POST', '/api/v1/deployments/app-9/pause')
      assert.equal(unknown.status, 404)
      assert.equal(errorCode(unknown), 'SY_ERR_UNKNOWN_DEPLOYMENT')
      const action = await admin.call('POST', '/api/v1/deployments/app-1/restart')
      assert.equal(action.status, 404)
      assert.equal(errorCode(action), 'SY_ERR_NOT_FOUND')
      assert.deepEqual(control.releases.steered, [])
    })

    it('takes no input and needs the token', async () => {
      await deploy({ service: 'app', version: 'v2' })
      const body = await admin.call('POST', '/api/v1/deployments/app-1/abort', { body: { force: true } })
      assert.equal(body.status, 400)
      assert.equal(errorCode(body), 'SY_ERR_INVALID_BODY')
      const query = await admin.call('POST', '/api/v1/deployments/app-1/abort?force=1')
      assert.equal(query.status, 400)
      assert.equal(errorCode(query), 'SY_ERR_BAD_REQUEST')
      const token = await admin.call('POST', '/api/v1/deployments/app-1/abort', { token: 'wrong' })
      assert.equal(token.status, 401)
      assert.equal(control.releases.get('app-1').status, 'running')
    })
  })

  describe('POST /api/v1/services/{service}/rollback', () => {
    it('starts a release back to the previous version: 202 with the new record', async () => {
      await deploy({ service: 'app', version: 'v2' })
      control.releases.finish('app-1')
      const answer = await admin.call('POST', '/api/v1/services/app/rollback')
      assert.equal(answer.status, 202)
      assert.deepEqual([record(answer).id, record(answer).from, record(answer).to], ['app-2', 'v2', 'v1'])
    })

    it('refuses a service without a previous release (409), an unknown service (404), a running release (409), a body (400)', async () => {
      const none = await admin.call('POST', '/api/v1/services/app/rollback')
      assert.equal(none.status, 409)
      assert.equal(errorCode(none), 'SY_ERR_NO_PREVIOUS_RELEASE')
      assert.equal(message(none), "service 'app' has no previous release to go back to")
      const unknown = await admin.call('POST', `/api/v1/services/${encodeURIComponent('없음')}/rollback`)
      assert.equal(unknown.status, 404)
      assert.equal(message(unknown), "no service named '없음'")
      await deploy({ service: 'app', version: 'v2' })
      control.releases.finish('app-1')
      await deploy({ service: 'app', version: 'v3' })
      const running = await admin.call('POST', '/api/v1/services/app/rollback')
      assert.equal(running.status, 409)
      assert.equal(errorCode(running), 'SY_ERR_DEPLOYMENT_RUNNING')
      const body = await admin.call('POST', '/api/v1/services/app/rollback', { body: { to: 'v1' } })
      assert.equal(body.status, 400)
      assert.equal(errorCode(body), 'SY_ERR_INVALID_BODY')
      assert.equal(control.releases.records.length, 2)
    })
  })

  it('the state lists the services with the release running now', async () => {
    await deploy({ service: 'app', version: 'v2' })
    const state = await admin.call('GET', '/api/v1/state')
    const services = state.body.services as { name: string; version: string | null; deployment: { id: string } | null }[]
    assert.deepEqual(
      services.map((s) => [s.name, s.version, s.deployment?.id ?? null]),
      [['app', 'v1', 'app-1'], ['api', null, null]],
    )
  })
})
