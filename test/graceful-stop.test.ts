import assert from 'node:assert/strict'
import net from 'node:net'
import { describe, it } from 'node:test'
import { startBackend } from './helpers/backend.js'
import { startBalancerProcess } from './helpers/balancer.js'
import { balancerYaml } from './helpers/config-yaml.js'
import { request } from './helpers/load.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function connectOutcome(hostPort: string): Promise<string> {
  const [host, port] = [hostPort.slice(0, hostPort.lastIndexOf(':')), Number(hostPort.slice(hostPort.lastIndexOf(':') + 1))]
  return new Promise((resolve) => {
    const socket = net.connect({ host, port })
    socket.once('connect', () => {
      socket.destroy()
      resolve('connected')
    })
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message))
  })
}

describe('graceful stop', () => {
  it('SIGTERM lets a 2-second request finish, refuses new connections, and exits 0', async () => {
    const b = await startBackend('b', (req, res) => {
      if (req.url === '/slow') setTimeout(() => res.end('slow done'), 2000)
      else res.end('fast')
    })
    const lb = await startBalancerProcess(balancerYaml({ servers: { b: b.address } }))
    try {
      assert.equal((await request(lb.url())).body, 'fast')
      const slow = request(lb.url() + '/slow')
      await sleep(300)
      lb.proc.kill('SIGTERM')
      await sleep(300)
      assert.equal(await connectOutcome(lb.frontends.web![0]!), 'ECONNREFUSED', 'new connections are refused')
      const reply = await slow
      assert.equal(reply.status, 200)
      assert.equal(reply.body, 'slow done')
      assert.equal(await lb.exited, 0)
      assert.ok(lb.lines.some((l) => l.event === 'stopped'))
    } finally {
      await lb.stop('SIGKILL')
      await b.close()
    }
  })
})
