import { randomBytes } from 'node:crypto'
import type { ClusterView, ServerView, StateView } from '../../src/admin/balancer-control.js'
import { waitFor } from './wait.js'

export const TOKEN = 'test-token'

/** A prefix of its own per test: tests share nothing through etcd even when they share an etcd. */
export function uniquePrefix(): string {
  return `/switchyard-test-${randomBytes(4).toString('hex')}`
}

export interface ClusterYaml {
  readonly etcd: readonly string[]
  readonly prefix: string
  readonly node: string
  /** name -> host:port of the servers of backend `app`. */
  readonly servers: Readonly<Record<string, string>>
  readonly leaseTtl?: string
  readonly requestTimeout?: string
  /** Lines of backend `app` before its servers (indented by 4). */
  readonly backend?: string
  /** Top-level lines after `backends:` (e.g. `services:`). */
  readonly after?: string
}

/** A balancer's configuration with `cluster:`: admin API and frontend `web` on free ports, backend `app`. */
export function clusterYaml(c: ClusterYaml): string {
  return [
    `admin: { listen: 127.0.0.1:0, token: ${TOKEN} }`,
    'access_log: false',
    'state_dir: state',
    'cluster:',
    `  etcd: [${c.etcd.join(', ')}]`,
    `  prefix: ${c.prefix}`,
    `  node: ${c.node}`,
    `  lease_ttl: ${c.leaseTtl ?? '10s'}`,
    `  request_timeout: ${c.requestTimeout ?? '1s'}`,
    'frontends:',
    '  web: { listen: 127.0.0.1:0, default_backend: app }',
    'backends:',
    '  app:',
    c.backend ?? '    health: { type: none }',
    '    servers:',
    ...Object.entries(c.servers).map(([name, address]) => `      ${name}: { address: ${address} }`),
    c.after ?? '',
    '',
  ].join('\n')
}

export interface Answer {
  readonly status: number
  // Answers are walked freely in the tests.
  readonly body: any
}

/** One admin API call with the token; `admin` is host:port. */
export async function api(admin: string, method: string, path: string, body?: unknown): Promise<Answer> {
  const res = await fetch(`http://${admin}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  })
  const text = await res.text()
  return { status: res.status, body: text === '' ? null : JSON.parse(text) }
}

export async function stateOf(admin: string): Promise<StateView> {
  return (await api(admin, 'GET', '/api/v1/state')).body as StateView
}

export async function serverOf(admin: string, server: string): Promise<ServerView> {
  const state = await stateOf(admin)
  const found = state.backends.find((b) => b.name === 'app')?.servers.find((s) => s.name === server)
  if (found === undefined) throw new Error(`no server ${server} on ${admin}`)
  return found
}

export async function clusterOf(admin: string): Promise<ClusterView> {
  const view = (await stateOf(admin)).cluster
  if (view === undefined || view === null) throw new Error(`${admin} shows no cluster`)
  return view
}

/** Waits until the balancer's watch on etcd is (or is not) established. */
export function waitConnected(admin: string, connected = true, timeoutMs = 15_000): Promise<ClusterView> {
  return waitFor(`${admin} ${connected ? 'connected to' : 'cut off from'} etcd`, async () => {
    const view = await clusterOf(admin)
    return view.connected === connected ? view : undefined
  }, timeoutMs)
}
