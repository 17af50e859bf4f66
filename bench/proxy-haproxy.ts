/**
 * HAProxy for bench/proxy: the reference every figure is divided by. One thread (the comparison is per core),
 * http mode, keep-alive on both sides and `http-reuse always`, so that server connections are shared between
 * client connections as a tuned production setup would - no logging on the request path.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startProcess, waitForPort, which, type Managed } from './proxy-processes.js'

export async function startHaproxy(dir: string, port: number, upstreamPort: number, name = 'haproxy', threads = 1): Promise<Managed> {
  const file = join(dir, `${name}.cfg`)
  writeFileSync(
    file,
    `
global
  nbthread ${threads}
  # 10,000 idle clients in the memory scenario, plus their server connections.
  maxconn 12000
  # maxconn asks for 2 fds per connection; where the hard fd limit is lower (containers), run with what there is
  # instead of refusing to start: the bench needs one fd per idle client, not two.
  no strict-limits

defaults
  mode http
  timeout connect 5s
  timeout client 600s
  timeout server 600s
  timeout http-request 10s
  timeout http-keep-alive 600s
  http-reuse always

frontend fe
  bind 127.0.0.1:${port}
  default_backend be

backend be
  server s1 127.0.0.1:${upstreamPort}
`,
  )
  // -db: foreground, no daemon; the process stays our child and dies with its group.
  const proc = startProcess(name, which('haproxy') ?? 'haproxy', ['-db', '-f', file], { raiseFdLimit: true })
  await waitForPort(port, proc)
  return proc
}
