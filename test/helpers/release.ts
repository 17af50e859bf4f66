import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfigFile } from '../../src/config/load-config.js'
import { LoadBalancer } from '../../src/load-balancer.js'
import { processRunning } from '../../src/providers/process-group.js'
import { tempDir } from './balancer.js'
import { SAMPLE_APP } from './sample-app.js'
import { waitFor } from './wait.js'

export interface ReleaseSetup {
  readonly strategy?: string
  readonly instances?: number
  readonly startDelayMs?: number
  /** Extra lines under `strategy:` (indented by the caller). */
  readonly strategyExtra?: string
  /** Extra lines under the service (e.g. hooks, notify). */
  readonly serviceExtra?: string
  readonly healthyDeadline?: string
  /** The sample app's command; `bad` versions fail their health check by default. */
  readonly command?: string
}

/**
 * A balancer config with one service of the sample app under `process` provider, checked over HTTP.
 * Versions named `bad*` answer /healthz with 500 (they never become healthy).
 */
export function releaseConfig(setup: ReleaseSetup = {}): string {
  const command = setup.command ?? `case "$SWITCHYARD_VERSION" in bad*) export FAIL_HEALTH=1;; esac; exec node ${SAMPLE_APP}`
  return `
admin: { listen: 127.0.0.1:0, token: test-token }
access_log: false
state_dir: state
frontends:
  web: { listen: 127.0.0.1:0, default_backend: app }
backends:
  app:
    health: { type: http, path: /healthz, interval: 300ms, fast_interval: 100ms, rise: 1, fall: 2, timeout: 500ms }
    timeouts: { queue: 10s }
services:
  app:
    backend: app
    version: v1
    provider:
      type: process
      command: '${command}'
      instances: ${setup.instances ?? 2}
      stop_timeout: 3s
      env: { START_DELAY_MS: "${setup.startDelayMs ?? 500}" }
    strategy:
      type: ${setup.strategy ?? 'rolling'}
      healthy_deadline: ${setup.healthyDeadline ?? '5s'}
      drain_timeout: 5s
${setup.strategyExtra ?? ''}
${setup.serviceExtra ?? ''}
`
}

/** Starts a balancer in this process from `yaml` in a fresh folder and waits for its first release to be serving. */
export async function startReleaseBalancer(yaml: string, dir = tempDir()): Promise<{ lb: LoadBalancer; url: string; dir: string }> {
  const file = join(dir, 'switchyard.yaml')
  writeFileSync(file, yaml)
  const lb = await LoadBalancer.start(await loadConfigFile(file), { configFile: file })
  await lb.services.settled()
  await waitFor('v1 serving', () => (lb.state().backends[0]!.servers.filter((s) => s.state === 'UP').length >= 1 ? true : undefined), 15_000)
  const a = lb.addresses('web')[0]!
  return { lb, url: `http://${a.host}:${a.port}`, dir }
}

/** Versions of the bodies a load run got, e.g. { v1: 120, v2: 300 }. */
export function versionsOf(bodies: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [body, count] of Object.entries(bodies)) {
    const version = (JSON.parse(body) as { version: string }).version
    out[version] = (out[version] ?? 0) + count
  }
  return out
}

/** The pids the service's instances of `version` had, from the balancer's state. */
export function instancePids(lb: LoadBalancer, version?: string): number[] {
  return lb.serviceState('app').instances.filter((i) => version === undefined || i.version === version).map((i) => i.pid!)
}

export function alive(pid: number): boolean {
  return processRunning(pid)
}
