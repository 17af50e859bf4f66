import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { it } from 'node:test'
import { startBackend, type TestBackend } from './helpers/backend.js'
import { tempDir } from './helpers/balancer.js'
import { balancerYaml } from './helpers/config-yaml.js'
import { steadyLoad } from './helpers/load.js'
import { startReleaseBalancer } from './helpers/release.js'
import { waitFor } from './helpers/wait.js'

it('static rolling with batch 1 runs the deploy command once per server and never has two servers out at once', async (t) => {
  const dir = tempDir()
  const versionFile = (name: string) => join(dir, `${name}.version`)
  const servers: TestBackend[] = []
  for (const name of ['s1', 's2', 's3']) {
    writeFileSync(versionFile(name), 'v1')
    servers.push(
      await startBackend(name, (req, res) => {
        const version = readFileSync(versionFile(name), 'utf8').trim()
        res.end(req.url === '/healthz' ? 'ok' : JSON.stringify({ version }))
      }),
    )
  }
  t.after(async () => {
    for (const s of servers) await s.close()
  })
  const log = join(dir, 'deploys.log')
  const yaml = balancerYaml({
    top: 'state_dir: state',
    backend: '    health: { type: http, path: /healthz, interval: 300ms, fast_interval: 100ms, rise: 2, fall: 2 }',
    servers,
    after: `services:
  app:
    backend: app
    version: v1
    provider:
      type: static
      deploy_command: 'echo "{{server}} {{host}} {{port}} {{version}}" >> ${log}; sleep 0.2; echo {{version}} > ${dir}/{{server}}.version'
    strategy: { type: rolling, batch: 1, healthy_deadline: 5s, drain_timeout: 2s }`,
  })
  const { lb, url } = await startReleaseBalancer(yaml, dir)
  t.after(() => lb.stop(500))
  await waitFor('all UP', () => (lb.state().backends[0]!.servers.every((s) => s.state === 'UP') ? true : undefined))
  let mostOut = 0
  const watch = setInterval(() => {
    const out = lb.state().backends[0]!.servers.filter((s) => s.state !== 'UP').length
    mostOut = Math.max(mostOut, out)
  }, 5)
  const load = steadyLoad({ url, rate: 100, durationMs: 3000 })
  const record = lb.deploy('app', 'v2')
  await lb.services.settled()
  clearInterval(watch)
  const result = await load
  assert.equal((await lb.deployment(record.id)).status, 'succeeded')
  assert.equal(result.failed, 0, JSON.stringify(result.failures))
  const lines = readFileSync(log, 'utf8').trim().split('\n')
  assert.deepEqual(lines, servers.map((s) => `${s.name} 127.0.0.1 ${s.port} v2`))
  assert.equal(mostOut, 1, 'one server out at a time')
  assert.deepEqual(lb.state().backends[0]!.servers.map((s) => s.release), ['v2', 'v2', 'v2'])
  for (const s of servers) assert.equal(readFileSync(versionFile(s.name), 'utf8').trim(), 'v2')
})
