/** A server of backend `app`: its name and its address, which may be followed by more keys (`127.0.0.1:80, weight: 2`). */
export interface ServerEntry {
  readonly name: string
  readonly address: string
}

/**
 * Service `app` on backend `app`, static servers whose deploy does nothing, rolling releases: the `after:` of
 * balancerYaml for tests of the admin side of releases. Replace VERSION with the version the servers run.
 */
export const STATIC_SERVICE = `services:
  app:
    backend: app
    version: VERSION
    provider: { type: static, deploy_command: 'true' }
    strategy: { type: rolling, healthy_deadline: 5s, drain_timeout: 1s }`

export interface BalancerYamlOptions {
  /** More keys of the `admin:` map after its listen address, e.g. `token: secret`. */
  readonly admin?: string
  /** `access_log:` (default false: tests keep their output quiet). */
  readonly accessLog?: boolean
  /** Top-level lines between `access_log:` and `frontends:`, e.g. `state_dir: state`. */
  readonly top?: string
  /**
   * Lines of frontend `web` after its `listen:` line, indented by 4 (a line indented by 2 starts another frontend).
   * Without them `web` is `{ listen: 127.0.0.1:0, default_backend: app }`.
   */
  readonly frontend?: string
  /** Lines of backend `app` before its `servers:`, indented by 4, e.g. `    balance: leastconn`. */
  readonly backend?: string
  /** The servers of `app`: name -> address (see ServerEntry), in this order, or a list such as started test backends. */
  readonly servers: Readonly<Record<string, string>> | readonly ServerEntry[]
  /** Lines after the servers of `app`: more backends (indented by 2) or more top-level sections. */
  readonly after?: string
}

/**
 * The configuration text most tests start a balancer with: an admin API and one frontend `web` on free ports of
 * 127.0.0.1, no access log, and backend `app` with the given servers. Options are inserted as lines, as given: an
 * empty string stays an empty line. The text starts with an empty line and ends with a newline:
 *
 *   admin: { listen: 127.0.0.1:0 }
 *   access_log: false
 *   frontends:
 *     web: { listen: 127.0.0.1:0, default_backend: app }
 *   backends:
 *     app:
 *       servers:
 *         NAME: { address: ADDRESS }
 */
export function balancerYaml(options: BalancerYamlOptions): string {
  const { servers } = options
  const entries: readonly ServerEntry[] = isList(servers) ? servers : Object.entries(servers).map(([name, address]) => ({ name, address }))
  const lines: (string | undefined)[] = [
    '',
    `admin: { listen: 127.0.0.1:0${options.admin === undefined ? '' : `, ${options.admin}`} }`,
    `access_log: ${options.accessLog ?? false}`,
    options.top,
    'frontends:',
    ...(options.frontend === undefined
      ? ['  web: { listen: 127.0.0.1:0, default_backend: app }']
      : ['  web:', '    listen: 127.0.0.1:0', options.frontend]),
    'backends:',
    '  app:',
    options.backend,
    '    servers:',
    ...entries.map((s) => `      ${s.name}: { address: ${s.address} }`),
    options.after,
    '',
  ]
  return lines.filter((line) => line !== undefined).join('\n')
}

function isList(servers: BalancerYamlOptions['servers']): servers is readonly ServerEntry[] {
  return Array.isArray(servers)
}
