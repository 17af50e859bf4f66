/**
 * The schemas of the OpenAPI description (openapi.ts). Request bodies are the zod schemas that validate them
 * (admin-bodies.ts), used as they are. The views the API answers with have no zod schema of their own (they are
 * TypeScript types), so they are described here, in zod too: `Fits` below makes the compiler check that every
 * value of each view type fits its description, and test/admin-openapi.test.ts checks real answers for fields
 * the description does not know.
 */
import { z } from 'zod'
import type { DeploymentRecord } from '../deploy/deployment-record.js'
import { ERRORS, type ErrorCode, type SwitchyardError } from '../errors.js'
import type { ConfigProblem } from '../config/load-config.js'
import { VRRP_ROLES, type VrrpRole } from '../ha/role-file.js'
import { STATS_FIELDS } from '../stats/stats-fields.js'
import type { StatsDocument } from '../stats/stats-document.js'
import { deployBody, emptyBody, newServerBody, serverChangeBody } from './admin-bodies.js'
import type { DrainOutcome, FrontendView, ServerView, StateView } from './balancer-control.js'

const count = z.number()
const epochMs = z.number().describe('epoch milliseconds')

const trafficView = z.object({
  requests: count,
  bytes_in: count,
  bytes_out: count,
  max_active: count.describe('most requests in flight at once'),
  request_errors: count,
  connection_errors: count,
  response_errors: count,
  responses: z.object({ '1xx': count, '2xx': count, '3xx': count, '4xx': count, '5xx': count }),
})

const serverView = z.object({
  name: z.string(),
  backend: z.string(),
  address: z.string().describe('host:port'),
  weight: count.describe('the configured weight'),
  effective_weight: count.describe('lower than weight while slow start ramps the server up'),
  backup: z.boolean(),
  admin: z.enum(['ready', 'drain', 'maint']).describe('what an operator asked for'),
  health: z.enum(['up', 'down', 'unchecked']).describe('what the health checks say'),
  state: z.enum(['UP', 'DOWN', 'DRAIN', 'MAINT', 'STARTING']).describe('admin and health combined; only UP takes new requests'),
  active: count.describe('requests in flight'),
  requests: count.describe('requests since the server was added'),
  failures: count,
  max_connections: count.describe('0: no limit'),
  last_change: epochMs,
  last_check: z
    .object({ ok: z.boolean(), detail: z.string(), duration_ms: count, code: z.number().nullable().optional() })
    .nullable()
    .describe('null without active checks'),
  release: z.string().nullable().describe('the version the server runs; null outside a service'),
  traffic: trafficView.optional(),
  downtime_ms: count.optional(),
  down_transitions: count.optional(),
  check_counts: z.object({ checks: count, failures: count }).nullable().optional(),
})

const split = z.array(z.object({ release: z.string(), weight: count.describe('percent') }))

const backendView = z.object({
  name: z.string(),
  balance: z.string(),
  queue: z.object({ current: count, max: count, limit: count }),
  retries: count,
  servers: z.array(serverView),
  split: split.nullable().optional().describe('the share of requests per version while a canary split is on'),
})

const frontendView = z.object({ name: z.string(), mode: z.string(), listen: z.array(z.string()), active: count, traffic: trafficView.optional() })

const serviceView = z.object({
  name: z.string(),
  backend: z.string(),
  version: z.string().nullable().describe('the release that serves'),
  previous: z.string().nullable().describe('the release rollback goes back to'),
  rotation: z.array(z.string()).nullable().describe('versions taking traffic during a release; null: every version'),
  deployment: z.object({ id: z.string(), status: z.string(), to: z.string(), strategy: z.string() }).nullable(),
})

const clusterView = z.object({
  node: z.string().describe("this balancer's name in the cluster"),
  prefix: z.string(),
  endpoints: z.array(z.string()),
  connected: z.boolean().describe('the watch on the shared state in etcd is established'),
  synced: z.boolean().describe('the shared state was read at least once; until then writes are refused'),
  revision: count.describe('the newest etcd revision seen'),
  error: z.string().nullable().describe('why it is not connected; null when it is'),
})

const haView = z.object({
  role: z.enum(VRRP_ROLES as [VrrpRole, ...VrrpRole[]]).describe('unknown: no notify from keepalived seen'),
  since: epochMs.nullable().describe('when keepalived reported this role; null while unknown'),
})

const workerView = z.object({
  id: count.describe('the worker number, 1 to N (a restarted worker keeps its number)'),
  pid: count.nullable().describe('its process id; null while it is being started again'),
  status: z.enum(['starting', 'serving', 'restarting', 'stopped']),
  restarts: count.describe('times it died and was started again'),
  requests: count.describe('requests (tcp: connections) its frontends received, as it reported them'),
})

const stateView = z.object({
  frontends: z.array(frontendView),
  backends: z.array(backendView),
  services: z.array(serviceView),
  cluster: clusterView.nullable().optional().describe('the shared state in etcd (docs/shared-state.md); null without `cluster:`'),
  ha: haView.optional().describe('the VRRP role keepalived reported for this balancer (docs/high-availability.md)'),
  workers: z.array(workerView).optional().describe('the data-plane worker processes (`workers:` above 1); empty when this process serves the frontends itself'),
})

const drainOutcome = z.object({
  drained: z.boolean().describe('false: the timeout passed with requests still in flight'),
  active: count,
  waited_ms: count,
})

const serverRemoved = z.object({ removed: z.literal(true), drain: drainOutcome })

const releaseSample = z.object({ requests: count, errors: count, p50_ms: count, p99_ms: count })

const deploymentRecord = z.object({
  id: z.string(),
  service: z.string(),
  from: z.string().optional().describe("absent for a service's first release"),
  to: z.string(),
  strategy: z.string().describe('"rollback" for a release made by rollback'),
  status: z.enum(['running', 'paused', 'succeeded', 'failed', 'rolled_back', 'aborted', 'interrupted']),
  started_at: epochMs,
  ended_at: epochMs.optional(),
  error: z.string().optional().describe('why the release did not succeed'),
  steps: z.array(
    z.object({
      kind: z.string(),
      detail: z.string(),
      started_at: epochMs,
      ended_at: epochMs.optional().describe('absent while the step runs'),
      result: z.enum(['ok', 'failed']).optional(),
      error: z.string().optional(),
    }),
  ),
  timeline: z
    .array(
      z.object({
        t: z.number().describe('epoch seconds'),
        releases: z.record(z.string(), releaseSample).describe('traffic by version'),
        instances: z.record(z.string(), count).describe('instances by version'),
      }),
    )
    .describe('one point per second'),
  start_instances: count.optional(),
  summary: z
    .object({
      duration_ms: count,
      requests: count,
      errors: count,
      peak_instances: count,
      extra_instances: count,
      extra_instance_seconds: count,
    })
    .optional()
    .describe('set once the release ended'),
})

const deploymentList = z.object({ deployments: z.array(deploymentRecord).describe('newest first') })

const statsField = z.enum(STATS_FIELDS)

const statsDocument = z.object({
  generated_at: epochMs,
  fields: z.array(statsField),
  rows: z.array(z.record(statsField, z.union([z.string(), z.number(), z.null()]))).describe('one per frontend, backend and server'),
  services: z.array(
    z.intersection(
      serviceView,
      z.object({
        split: split.nullable(),
        releases: z.array(
          z.object({
            release: z.string(),
            servers: count,
            up: count,
            starting: count,
            down: count,
            drain: count,
            maint: count,
            active: count,
            split: count.nullable(),
          }),
        ),
      }),
    ),
  ),
  ha: haView.optional().describe("the VRRP role, for the page's badge"),
})

const configProblem = z.object({ file: z.string(), line: z.number(), col: z.number(), message: z.string() })

const errorEnvelope = z.object({
  error: z.object({
    code: z.enum(Object.keys(ERRORS) as [ErrorCode, ...ErrorCode[]]).describe('docs/errors.md lists every code'),
    message: z.string(),
    problems: z.array(configProblem).optional().describe('SY_ERR_CONFIG_INVALID: every problem of the file'),
  }),
})

/** Every schema of `components.schemas`, by name. */
export const COMPONENTS = {
  ServerChange: serverChangeBody,
  NewServer: newServerBody,
  Deploy: deployBody,
  Empty: emptyBody,
  Error: errorEnvelope,
  Traffic: trafficView,
  ServerView: serverView,
  ServiceView: serviceView,
  StateView: stateView,
  DrainOutcome: drainOutcome,
  ServerRemoved: serverRemoved,
  DeploymentRecord: deploymentRecord,
  DeploymentList: deploymentList,
  StatsField: statsField,
  StatsDocument: statsDocument,
} satisfies Record<string, z.ZodType>

export type ComponentName = keyof typeof COMPONENTS

/** The JSON Schemas of COMPONENTS; references between them point into `#/components/schemas/`. */
export function componentSchemas(): Record<ComponentName, Record<string, unknown>> {
  const registry = z.registry<{ id: string }>()
  for (const [id, schema] of Object.entries(COMPONENTS)) registry.add(schema, { id })
  // The input side: what may be sent, and for answers objects stay open (a new field is not a breaking change).
  const { schemas } = z.toJSONSchema(registry, { io: 'input', uri: (id) => `#/components/schemas/${id}` })
  const out: Record<string, Record<string, unknown>> = {}
  for (const [id, schema] of Object.entries(schemas)) {
    // Both are for stand-alone documents; inside OpenAPI 3.1 the dialect is the document's.
    const { $schema: _schema, $id: _id, ...rest } = schema as Record<string, unknown>
    out[id] = rest
  }
  return out as Record<ComponentName, Record<string, unknown>>
}

/**
 * Compile-time checks that each view type and its description agree: every value of the type fits the schema
 * (readonly aside), and the type has no field, at any depth, that the schema does not describe (the error then
 * names the field's path).
 */
type Mutable<T> = T extends readonly (infer U)[] ? Mutable<U>[] : T extends object ? { -readonly [K in keyof T]: Mutable<T[K]> } : T
type Undescribed<T, S, P extends string = ''> = T extends readonly (infer U)[]
  ? S extends readonly (infer V)[]
    ? Undescribed<U, V, `${P}[]`>
    : never
  : T extends object
    ? { [K in keyof T & string]-?: K extends keyof NonNullable<S> ? Undescribed<T[K], NonNullable<S>[K], `${P}.${K}`> : `${P}.${K}` }[keyof T & string]
    : never
type Described<T, S extends z.ZodType> = [Mutable<T>] extends [z.input<S>]
  ? [Undescribed<T, z.input<S>>] extends [never] ? true : Undescribed<T, z.input<S>>
  : false
type Expect<T extends true> = T
export type DescribedViews = [
  Expect<Described<ServerView, typeof serverView>>,
  Expect<Described<FrontendView, typeof frontendView>>,
  Expect<Described<StateView, typeof stateView>>,
  Expect<Described<DrainOutcome, typeof drainOutcome>>,
  Expect<Described<DeploymentRecord, typeof deploymentRecord>>,
  Expect<Described<StatsDocument, typeof statsDocument>>,
  Expect<Described<ReturnType<SwitchyardError['toJSON']>, typeof errorEnvelope>>,
  Expect<Described<ConfigProblem, typeof configProblem>>,
]
