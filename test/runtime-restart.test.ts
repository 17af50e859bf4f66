import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import type { StateView } from '../src/admin/balancer-control.js'
import { startBackend } from './helpers/backend.js'
import { startBalancerProcess, tempDir } from './helpers/balancer.js'
import { balancerYaml } from './helpers/config-yaml.js'

const TOKEN = 'restart-test-token'

async function api(admin: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`http://${admin}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: body === undefined ? {} : { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  return { status: res.status, json: await res.json() }
}

function serverOf(state: StateView, name: string) {
  return state.backends[0]!.servers.find((s) => s.name === name)!
}

describe('persisted runtime state', () => {
  it('kill -9 and restart: admin states and weights come back, restored servers are re-checked, a truncated state file is survived', async () => {
    const healthy = (name: string) => startBackend(name, (req, res) => res.end(req.url === '/healthz' ? 'ok' : name))
    const a = await healthy('a')
    const b = await healthy('b')
    const dir = tempDir()
    const yaml = balancerYaml({
      admin: `token: ${TOKEN}`,
      top: 'state_dir: state',
      backend: '    health: { type: http, path: /healthz, interval: 2s, fast_interval: 1s, rise: 2 }',
      servers: { a: a.address, b: b.address },
    })
    let lb = await startBalancerProcess(yaml, {}, { dir })
    try {
      assert.equal((await api(lb.admin, '/api/v1/backends/app/servers/a', { admin: 'maint' })).status, 200)
      assert.equal((await api(lb.admin, '/api/v1/backends/app/servers/b', { weight: 7 })).status, 200)
      await new Promise((r) => setTimeout(r, 200)) // the state is saved asynchronously, right after the change
      lb.proc.kill('SIGKILL')
      await lb.exited

      lb = await startBalancerProcess(yaml, {}, { dir })
      let state = (await api(lb.admin, '/api/v1/state')).json as StateView
      assert.equal(serverOf(state, 'a').admin, 'maint')
      assert.equal(serverOf(state, 'b').weight, 7)
      assert.equal(serverOf(state, 'b').state, 'STARTING', 'a restored server is checked again before it takes traffic')
      lb.proc.kill('SIGKILL')
      await lb.exited

      // A half-written state file: the previous good copy is used, and the balancer starts.
      const file = join(dir, 'state', 'runtime-state.json')
      const text = readFileSync(file, 'utf8')
      writeFileSync(file, text.slice(0, Math.floor(text.length / 2)))
      lb = await startBalancerProcess(yaml, {}, { dir })
      state = (await api(lb.admin, '/api/v1/state')).json as StateView
      assert.equal(serverOf(state, 'a').admin, 'maint')
      assert.ok(lb.lines.some((l) => l.event === 'state.problem'), 'the problem is logged')
    } finally {
      await lb.stop('SIGKILL')
      await a.close()
      await b.close()
    }
  })
})
