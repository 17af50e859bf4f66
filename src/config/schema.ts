/**
 * The configuration file's schema (interface.md). Parsing with it yields normalised values: durations in
 * milliseconds, sizes in bytes, addresses as host and port. Cross-references (a route naming a missing backend)
 * are checked in validate-references.ts, so that they are reported even when other parts are invalid.
 */
import { z } from 'zod'
import { DEFAULTS } from './defaults.js'
import { duration, hostPort, name, size, strict } from './schema-parts.js'
import { servicesSchema } from './service-schema.js'

export { NAME_PATTERN, NAME_RULE } from './schema-parts.js'

const listenList = z
  .union([hostPort('0.0.0.0'), z.array(hostPort('0.0.0.0')).min(1, 'listen needs at least one address')])
  .transform((value) => (Array.isArray(value) ? value : [value]))


const routeSchema = strict({
  match: strict({
    host: z.string().min(1).optional(),
    path_prefix: z.string().startsWith('/', 'path_prefix starts with /').optional(),
    header: z.record(z.string().min(1), z.string()).optional(),
  }).prefault({}),
  backend: z.string(),
})

const filePath = z.string().min(1, 'a file path is needed')

/** A certificate (PEM: the certificate, then its chain) and its private key. */
const certificateSchema = strict({
  cert: filePath,
  key: filePath,
  /** Server names this certificate answers for; default: the names in the certificate (SAN, else CN). */
  sni: z.array(z.string().min(1)).min(1).optional(),
})

const frontendTlsSchema = strict({
  /** The default certificate: served when no other one matches the client's SNI (or there is none). */
  cert: filePath,
  key: filePath,
  /** More certificates, each chosen by SNI. */
  certificates: z.array(certificateSchema).default([]),
  min_version: z.enum(['TLSv1.2', 'TLSv1.3']).default(DEFAULTS.frontend.tls.min_version),
  /** Offer HTTP/2 (ALPN h2) beside HTTP/1.1. */
  http2: z.boolean().default(DEFAULTS.frontend.tls.http2),
})

const port = z.number().int().min(1).max(65535)

const frontendSchema = strict({
  listen: listenList,
  mode: z.enum(['http', 'tcp']).default(DEFAULTS.frontend.mode),
  tls: frontendTlsSchema.optional(),
  /** Answer every request with a redirect to https on the same host: true (port 443) or the https port. */
  https_redirect: z.union([z.boolean(), port]).default(DEFAULTS.frontend.https_redirect),
  routes: z.array(routeSchema).default([]),
  default_backend: z.string().optional(),
  timeouts: strict({
    client: duration.prefault(DEFAULTS.frontend.timeouts.client),
    http_request: duration.prefault(DEFAULTS.frontend.timeouts.http_request),
    keep_alive: duration.prefault(DEFAULTS.frontend.timeouts.keep_alive),
  }).prefault({}),
  max_header_size: size.prefault(DEFAULTS.frontend.max_header_size),
  max_body_size: size.prefault(DEFAULTS.frontend.max_body_size),
  trust_request_id: z.boolean().default(DEFAULTS.frontend.trust_request_id),
})

const serverSchema = strict({
  address: hostPort(),
  weight: z.number().int().min(0).max(256).default(DEFAULTS.server.weight),
  backup: z.boolean().default(DEFAULTS.server.backup),
  max_connections: z.number().int().nonnegative().optional(),
})

export const BALANCE_ALGORITHMS = ['roundrobin', 'leastconn', 'random', 'first', 'hash'] as const
export const RETRY_CONDITIONS = ['conn-failure', 'empty-response', '502', '503', '504'] as const

const hashKey = z.union([
  z.enum(['source', 'uri']),
  z.string().regex(/^(header|cookie):[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, "hash_key is source, uri, header:NAME or cookie:NAME"),
])

const healthSchema = strict({
  type: z.enum(['tcp', 'http', 'tls', 'exec', 'none']),
  path: z.string().optional(),
  method: z.string().optional(),
  host: z.string().optional(),
  expect_status: z.union([z.number().int(), z.string()]).optional(),
  expect_body: z.string().optional(),
  interval: duration.optional(),
  fast_interval: duration.optional(),
  down_interval: duration.optional(),
  timeout: duration.optional(),
  rise: z.number().int().min(1).optional(),
  fall: z.number().int().min(1).optional(),
  port: port.optional(),
  command: z.string().optional(),
  sni: z.string().optional(),
  verify: z.boolean().optional(),
  /** CA certificates (PEM) that a `tls` check trusts instead of the system's. */
  ca: filePath.optional(),
})

/** TLS toward the servers: `true` for the defaults, or options. Verification is on unless turned off here. */
const upstreamTlsSchema = z
  .union([
    z.boolean(),
    strict({
      verify: z.boolean().default(DEFAULTS.backend.tls.verify),
      ca: filePath.optional(),
      sni: z.string().min(1).optional(),
    }),
  ])
  .transform((value) => (value === false ? undefined : value === true ? { verify: DEFAULTS.backend.tls.verify, ca: undefined, sni: undefined } : value))

const backendSchema = strict({
  balance: z.enum(BALANCE_ALGORITHMS).default(DEFAULTS.backend.balance),
  hash_key: hashKey.default(DEFAULTS.backend.hash_key),
  sticky: strict({ cookie: z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'not a valid cookie name') }).optional(),
  retries: z.number().int().min(0).max(10).default(DEFAULTS.backend.retries),
  retry_on: z.array(z.union([z.enum(RETRY_CONDITIONS), z.number().int().transform(String).pipe(z.enum(RETRY_CONDITIONS))]))
    .default([...DEFAULTS.backend.retry_on]),
  retry_buffer: size.prefault(DEFAULTS.backend.retry_buffer),
  queue_limit: z.number().int().min(0).default(DEFAULTS.backend.queue_limit),
  timeouts: strict({
    connect: duration.prefault(DEFAULTS.backend.timeouts.connect),
    server: duration.prefault(DEFAULTS.backend.timeouts.server),
    queue: duration.prefault(DEFAULTS.backend.timeouts.queue),
  }).prefault({}),
  max_connections: z.number().int().nonnegative().default(DEFAULTS.backend.max_connections),
  health: healthSchema.optional(),
  passive: strict({
    consecutive_failures: z.number().int().min(1).default(DEFAULTS.backend.passive.consecutive_failures),
    eject_for: duration.prefault(DEFAULTS.backend.passive.eject_for),
  }).optional(),
  slow_start: duration.optional(),
  /** Long-lived connections (WebSocket, TCP) to a server leaving rotation are closed this long after it left. */
  drain_timeout: duration.prefault(DEFAULTS.backend.drain_timeout),
  /** A PROXY protocol header (v1 text, v2 binary) sent first on each connection of a TCP frontend. */
  proxy_protocol: z.enum(['v1', 'v2']).optional(),
  tls: upstreamTlsSchema.optional(),
  servers: z.record(name, serverSchema).default({}),
})

const adminSchema = strict({
  listen: hostPort('127.0.0.1').prefault(DEFAULTS.admin.listen),
  token: z.string().optional(),
  /** Reads (state, stats, events, metrics) without a token: true, false, or unset = only on a loopback listener. */
  stats_public: z.boolean().optional(),
})

/** Shared runtime state in etcd (docs/high-availability.md): every balancer with the same prefix agrees. */
const clusterSchema = strict({
  /** etcd endpoints (v3 API), e.g. http://10.0.0.5:2379. */
  etcd: z.array(z.string().regex(/^https?:\/\/[^/\s]+$/, 'an etcd endpoint is http(s)://host:port')).min(1, 'cluster.etcd needs at least one endpoint'),
  /** Key prefix under which this cluster's state lives (several clusters may share one etcd). */
  prefix: z.string().regex(/^\/[^\s]*[^/\s]$/, 'a prefix starts with / and does not end with /').default(DEFAULTS.cluster.prefix),
  /** The name this balancer has in the cluster (release ownership, logs); default: the host name and admin port. */
  node: z.string().regex(/^[\w.:-]+$/, 'a node name may use letters, digits, "_", ".", ":" and "-"').optional(),
  /** Lifetime of this balancer's lease: a balancer gone for longer loses the releases it runs to another one. */
  lease_ttl: duration.prefault(DEFAULTS.cluster.lease_ttl),
  /** Time allowed for one etcd request; past it the write is refused (the balancer keeps serving). */
  request_timeout: duration.prefault(DEFAULTS.cluster.request_timeout),
})

export const configSchema = strict({
  admin: adminSchema.optional(),
  cluster: clusterSchema.optional(),
  state_dir: z.string().min(1).default(DEFAULTS.state_dir),
  /**
   * Data-plane processes: 1 (the default) serves in the balancer's own process; N > 1 or `auto` (one per core)
   * runs the frontends in N worker processes beside one control plane (docs/performance.md, "Workers").
   */
  workers: z.union([z.int().min(1).max(64), z.literal('auto')]).default(DEFAULTS.workers),
  /** true/false, or { format: json | httplog }: one line per request on stdout. */
  access_log: z
    .union([z.boolean(), strict({ format: z.enum(['json', 'httplog']).default(DEFAULTS.access_log_format) })])
    .default(DEFAULTS.access_log),
  frontends: z.record(name, frontendSchema),
  backends: z.record(name, backendSchema),
  services: z.record(name, servicesSchema).default({}),
})

export type Config = z.output<typeof configSchema>
export type FrontendConfig = Config['frontends'][string]
export type RouteConfig = FrontendConfig['routes'][number]
export type BackendConfig = Config['backends'][string]
export type ServerConfig = BackendConfig['servers'][string]
export type HealthConfig = NonNullable<BackendConfig['health']>
export type FrontendTlsConfig = NonNullable<FrontendConfig['tls']>
export type UpstreamTlsConfig = NonNullable<BackendConfig['tls']>
export type BalanceAlgorithm = (typeof BALANCE_ALGORITHMS)[number]
export type RetryCondition = (typeof RETRY_CONDITIONS)[number]
export type ServiceConfig = Config['services'][string]
export type ClusterConfig = NonNullable<Config['cluster']>
export type ProviderConfig = ServiceConfig['provider']
export type StrategyConfig = ServiceConfig['strategy']
