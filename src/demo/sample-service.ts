import { fileURLToPath } from 'node:url'

/** The sample app shipped in examples/app (from dist/src/demo or src/demo: three levels up is the package root). */
export const SAMPLE_APP = fileURLToPath(new URL('../../../examples/app/server.js', import.meta.url))

export interface SampleServiceOptions {
  readonly strategy: string
  readonly instances: number
  readonly startDelayMs: number
  /** Shell command of an instance (default: the sample app under this Node.js). */
  readonly command?: string
  /** The backend's `health:` map, inline (default: GET /healthz every second, rise 1). */
  readonly health?: string
  /** Extra `key: value` lines under `provider:`. */
  readonly provider_lines?: readonly string[]
  /** Extra `key: value` lines under `strategy:`. */
  readonly strategy_lines?: readonly string[]
  /** Extra lines under the service, indented as they should appear (4 spaces for a key of the service). */
  readonly service_lines?: readonly string[]
  /** Extra environment of the instances, besides START_DELAY_MS. */
  readonly env?: Readonly<Record<string, string>>
  readonly admin_token?: string
}

/**
 * A whole configuration: one frontend on a free port, one backend checked over HTTP, and service `app` running
 * the sample app with the `process` provider from version v1. Used by the demo, the benchmarks and the tests.
 */
export function sampleServiceConfig(o: SampleServiceOptions): string {
  const command = o.command ?? `exec "${process.execPath}" "${SAMPLE_APP}"`
  const env = { START_DELAY_MS: String(o.startDelayMs), ...o.env }
  const admin = o.admin_token === undefined ? '{ listen: 127.0.0.1:0 }' : `{ listen: 127.0.0.1:0, token: ${o.admin_token} }`
  return [
    `admin: ${admin}`,
    'access_log: false',
    'state_dir: state',
    'frontends:',
    '  web: { listen: 127.0.0.1:0, default_backend: app }',
    'backends:',
    '  app:',
    `    health: ${o.health ?? '{ type: http, path: /healthz, interval: 1s, fast_interval: 100ms, rise: 1, fall: 2, timeout: 500ms }'}`,
    'services:',
    '  app:',
    '    backend: app',
    '    version: v1',
    '    provider:',
    '      type: process',
    `      command: ${JSON.stringify(command)}`,
    `      instances: ${o.instances}`,
    `      env: { ${Object.entries(env).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(', ')} }`,
    ...(o.provider_lines ?? []).map((line) => `      ${line}`),
    '    strategy:',
    `      type: ${o.strategy}`,
    ...(o.strategy_lines ?? []).map((line) => `      ${line}`),
    ...(o.service_lines ?? []),
    '',
  ].join('\n')
}
