import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfigFile } from '../../src/config/load-config.js'
import { LoadBalancer } from '../../src/load-balancer.js'
import { processRunning } from '../../src/providers/process-group.js'
import { tempDir } from './balancer.js'
import { sampleServiceConfig } from '../../src/demo/sample-service.js'
import { SAMPLE_APP } from './sample-app.js'
import { waitFor } from './wait.js'

export interface ReleaseSetup {
  readonly strategy?: string
  readonly instances?: number
  readonly startDelayMs?: number
  readonly healthyDeadline?: string
  /** Extra lines under `strategy:` (indented by the caller, 6 spaces). */
  readonly strategyExtra?: string
  /** Extra lines under the service (indented by the caller, 4 spaces), e.g. hooks, notify. */
  readonly serviceExtra?: string
  /** Extra environment of the instances. */
  readonly env?: Readonly<Record<string, string>>
  /** The sample app's command; `bad` versions fail their health check by default. */
  readonly command?: string
}

/**
 * The sample app as service `app` (process provider, checked over HTTP every 300 ms) for release tests.
 * Versions named `bad*` answer /healthz with 500 (they never become healthy).
 */
export function releaseConfig(setup: ReleaseSetup = {}): string {
  return sampleServiceConfig({
    strategy: setup.strategy ?? 'rolling',
    instances: setup.instances ?? 2,
    startDelayMs: setup.startDelayMs ?? 500,
    command: setup.command ?? `case "$SWITCHYARD_VERSION" in bad*) export FAIL_HEALTH=1;; esac; exec node ${SAMPLE_APP}`,
    health: '{ type: http, path: /healthz, interval: 300ms, fast_interval: 100ms, rise: 1, fall: 2, timeout: 500ms }',
    admin_token: 'test-token',
    ...(setup.env === undefined ? {} : { env: setup.env }),
    provider_lines: ['stop_timeout: 3s'],
    strategy_lines: [`healthy_deadline: ${setup.healthyDeadline ?? '5s'}`, 'drain_timeout: 5s'],
    // Both are raw lines, indented by the caller; the strategy's come first, right under its own keys.
    service_lines: [setup.strategyExtra, setup.serviceExtra].filter((text): text is string => text !== undefined && text !== ''),
  })
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
