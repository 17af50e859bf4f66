/**
 * The OpenAPI 3.1 description of the admin API, served at `GET /api/v1/openapi.json`, printed by
 * `switchyard openapi` and kept in docs/openapi.json. Schemas come from openapi-schemas.ts (request bodies: the
 * zod schemas that validate them); test/admin-openapi.test.ts compares the paths and methods with the routes the
 * admin server serves, so a route cannot be added or removed without this file following.
 */
import { ERRORS, type ErrorCode } from '../errors.js'
import { DEFAULT_DRAIN_TIMEOUT_MS, MAX_DRAIN_TIMEOUT_MS } from './admin-query.js'
import { ok } from './admin-reply.js'
import type { AdminRoute } from './admin-router.js'
import type { BalancerControl } from './balancer-control.js'
import { componentSchemas, type ComponentName } from './openapi-schemas.js'

export const OPENAPI_PATH = '/api/v1/openapi.json'

type Json = Record<string, unknown>
type Method = 'get' | 'post' | 'delete'
/** open: no token ever; read: a token only when reads are closed (read-policy.ts); write: always a token. */
type Access = 'open' | 'read' | 'write'

interface Answer {
  readonly status: number
  readonly description: string
  /** A component (JSON), or a media type with a text body. */
  readonly json?: ComponentName | Json
  readonly text?: string
}

interface Operation {
  readonly id: string
  readonly tag: 'health' | 'servers' | 'releases' | 'stats' | 'meta'
  readonly summary: string
  readonly description?: string
  readonly access: Access
  readonly query?: readonly QueryParameter[]
  readonly body?: { readonly schema: ComponentName; readonly required: boolean; readonly description?: string }
  readonly answers: readonly Answer[]
  /** Besides those that follow from access, body and path parameters. */
  readonly errors?: readonly ErrorCode[]
}

const ref = (name: ComponentName): Json => ({ $ref: `#/components/schemas/${name}` })

const PATH_PARAMETERS: Readonly<Record<string, string>> = {
  backend: 'a backend of the configuration',
  server: 'a server of that backend (percent-encoded: names may be any UTF-8 text)',
  id: 'a deployment id, as answered when the release started',
  service: 'a service of the configuration (`services:`)',
}

/** Query parameters, in `components.parameters` under these names. */
const QUERY_PARAMETERS = {
  timeout: {
    name: 'timeout',
    in: 'query',
    description: `How long to wait for the requests in flight: a duration such as 500ms, 30s or 2m, at most ${duration(MAX_DRAIN_TIMEOUT_MS)}.`,
    schema: { type: 'string', default: duration(DEFAULT_DRAIN_TIMEOUT_MS), examples: ['500ms', '30s', '2m'] },
  },
  wait: {
    name: 'wait',
    in: 'query',
    description: 'With `{"admin": "drain"}` only: answer once no request is in flight, or when the timeout passed; the answer then has `drain`.',
    schema: { type: 'string', enum: ['1', 'true', '0', 'false'], default: '0' },
  },
  serviceFilter: { name: 'service', in: 'query', description: "Only this service's deployments.", schema: { type: 'string' } },
} as const
type QueryParameter = keyof typeof QUERY_PARAMETERS

/** Errors most operations share, in `components.responses` under these names. */
const SHARED_ERRORS: Partial<Record<ErrorCode, string>> = {
  SY_ERR_UNAUTHORIZED: 'Unauthorized',
  SY_ERR_CROSS_SITE: 'CrossSite',
  SY_ERR_BODY_TOO_LARGE: 'BodyTooLarge',
}

const serverAfterChange: Json = {
  allOf: [ref('ServerView'), { type: 'object', properties: { drain: { ...ref('DrainOutcome'), description: 'only with `?wait=1`' } } }],
}

const record = (status: number, description: string): Answer => ({ status, description, json: 'DeploymentRecord' })

type SteerAction = Parameters<BalancerControl['steerDeployment']>[1]

const STEERING: Readonly<Record<SteerAction, { summary: string; description: string }>> = {
  pause: { summary: 'Pause a release', description: 'The release stops before its next step. Accepted while `running`.' },
  resume: {
    summary: 'Resume a release',
    description: 'Continues a `paused` release; an `interrupted` one is planned again from what runs now.',
  },
  promote: {
    summary: 'Promote a release',
    description:
      'Canary: ends the watch of the current step and goes on. Blue/green: stops the previous release, kept warm until now.',
  },
  abort: {
    summary: 'Abort a release',
    description: 'Puts the previous release back. Answers at once (still `running`); the record ends `aborted`.',
  },
}

const PATHS: Readonly<Record<string, Partial<Record<Method, Operation>>>> = {
  '/healthz': {
    get: {
      id: 'health',
      tag: 'health',
      summary: 'Readiness',
      description: 'For whatever watches the balancer; never needs a token.',
      access: 'open',
      answers: [
        { status: 200, description: 'The configuration is loaded and every listener is bound.', json: readiness(true) },
        { status: 503, description: 'Starting or stopping.', json: readiness(false) },
      ],
    },
  },
  '/api/v1/state': {
    get: {
      id: 'getState',
      tag: 'servers',
      summary: 'Every frontend, backend, server and service',
      access: 'read',
      answers: [{ status: 200, description: 'The state.', json: 'StateView' }],
    },
  },
  '/api/v1/backends/{backend}/servers': {
    post: {
      id: 'addServer',
      tag: 'servers',
      summary: 'Add a server',
      description: 'The server starts `STARTING` and takes requests once its health checks pass. Kept across restarts.',
      access: 'write',
      body: { schema: 'NewServer', required: true, description: '`address` is host:port (IPv6 as `[::1]:8080`).' },
      answers: [{ status: 201, description: 'The new server.', json: 'ServerView' }],
      errors: ['SY_ERR_UNKNOWN_BACKEND', 'SY_ERR_SERVER_EXISTS'],
    },
  },
  '/api/v1/backends/{backend}/servers/{server}': {
    get: {
      id: 'getServer',
      tag: 'servers',
      summary: 'One server',
      access: 'read',
      answers: [{ status: 200, description: 'The server, as in the state.', json: 'ServerView' }],
      errors: ['SY_ERR_UNKNOWN_BACKEND', 'SY_ERR_UNKNOWN_SERVER'],
    },
    post: {
      id: 'changeServer',
      tag: 'servers',
      summary: "Change a server's admin state and/or weight",
      access: 'write',
      query: ['wait', 'timeout'],
      body: { schema: 'ServerChange', required: true, description: 'Give `admin`, `weight` or both (`{}` is refused).' },
      answers: [{ status: 200, description: 'The server after the change.', json: serverAfterChange }],
      errors: ['SY_ERR_UNKNOWN_BACKEND', 'SY_ERR_UNKNOWN_SERVER'],
    },
    delete: {
      id: 'removeServer',
      tag: 'servers',
      summary: 'Drain a server, then remove it',
      description: 'The answer comes after the drain; the server is removed even when the timeout passed first.',
      access: 'write',
      query: ['timeout'],
      answers: [{ status: 200, description: 'Removed.', json: 'ServerRemoved' }],
      errors: ['SY_ERR_UNKNOWN_BACKEND', 'SY_ERR_UNKNOWN_SERVER'],
    },
  },
  '/api/v1/reload': {
    post: {
      id: 'reload',
      tag: 'servers',
      summary: 'Reload the configuration file',
      description: 'The same as SIGHUP. An invalid file changes nothing and is answered with its `problems`.',
      access: 'write',
      body: { schema: 'Empty', required: false },
      answers: [{ status: 200, description: 'Reloaded.', json: { type: 'object', properties: { reloaded: { const: true } }, required: ['reloaded'] } }],
      errors: ['SY_ERR_CONFIG_INVALID', 'SY_ERR_CONFIG_READ', 'SY_ERR_RELOAD_NEEDS_RESTART'],
    },
  },
  '/api/v1/deployments': {
    get: {
      id: 'listDeployments',
      tag: 'releases',
      summary: 'Every stored deployment, newest first',
      access: 'read',
      query: ['serviceFilter'],
      answers: [{ status: 200, description: 'The deployments.', json: 'DeploymentList' }],
      errors: ['SY_ERR_BAD_REQUEST', 'SY_ERR_UNKNOWN_SERVICE'],
    },
    post: {
      id: 'startDeployment',
      tag: 'releases',
      summary: 'Start a release',
      description: 'The release runs in the background; follow it with `GET /api/v1/deployments/{id}`.',
      access: 'write',
      body: { schema: 'Deploy', required: true, description: "`strategy` overrides the service's for this release." },
      answers: [record(202, 'Started: the record, `running`.')],
      errors: ['SY_ERR_STRATEGY_UNSUPPORTED', 'SY_ERR_UNKNOWN_SERVICE', 'SY_ERR_DEPLOYMENT_RUNNING'],
    },
  },
  '/api/v1/deployments/{id}': {
    get: {
      id: 'getDeployment',
      tag: 'releases',
      summary: 'One deployment',
      description: 'The live record while it runs, the stored one afterwards.',
      access: 'read',
      answers: [record(200, 'The deployment.')],
      errors: ['SY_ERR_UNKNOWN_DEPLOYMENT'],
    },
  },
  ...Object.fromEntries(
    Object.entries(STEERING).map(([action, text]) => [
      `/api/v1/deployments/{id}/${action}`,
      {
        post: {
          id: `${action}Deployment`,
          tag: 'releases',
          ...text,
          access: 'write',
          body: { schema: 'Empty', required: false },
          answers: [record(200, 'The record after the change.')],
          errors: ['SY_ERR_UNKNOWN_DEPLOYMENT', 'SY_ERR_DEPLOYMENT_STATE'],
        } satisfies Operation,
      },
    ]),
  ),
  '/api/v1/services/{service}/rollback': {
    post: {
      id: 'rollback',
      tag: 'releases',
      summary: 'Go back to the previous release',
      access: 'write',
      body: { schema: 'Empty', required: false },
      answers: [record(202, 'Started: the record, strategy `rollback`.')],
      errors: ['SY_ERR_UNKNOWN_SERVICE', 'SY_ERR_NO_PREVIOUS_RELEASE', 'SY_ERR_DEPLOYMENT_RUNNING'],
    },
  },
  '/api/v1/events': {
    get: {
      id: 'events',
      tag: 'stats',
      summary: 'State changes as server-sent events',
      description:
        'Events `server`, `deployment` and `reload`; `data` is the event\'s fields and `at` (epoch ms) in JSON. ' +
        'Comment lines keep the connection open. The stream lasts until the client leaves.',
      access: 'read',
      answers: [{ status: 200, description: 'The stream.', text: 'text/event-stream' }],
    },
  },
  [OPENAPI_PATH]: {
    get: {
      id: 'openapi',
      tag: 'meta',
      summary: 'This document',
      access: 'read',
      answers: [{ status: 200, description: 'The OpenAPI description of the admin API.', json: { type: 'object' } }],
    },
  },
  '/stats': {
    get: {
      id: 'statsPage',
      tag: 'stats',
      summary: 'The statistics page',
      description: 'Holds no data itself: it reads `/stats.json` and `/api/v1/events`.',
      access: 'open',
      answers: [{ status: 200, description: 'HTML.', text: 'text/html' }],
    },
  },
  '/stats.json': {
    get: {
      id: 'statsJson',
      tag: 'stats',
      summary: 'The statistics as JSON',
      access: 'read',
      answers: [{ status: 200, description: 'Every frontend, backend and server as a row, and the services.', json: 'StatsDocument' }],
    },
  },
  '/stats.csv': {
    get: {
      id: 'statsCsv',
      tag: 'stats',
      summary: 'The statistics as CSV',
      access: 'read',
      answers: [{ status: 200, description: 'A header line of the field names, then one line per row.', text: 'text/csv' }],
    },
  },
  '/metrics': {
    get: {
      id: 'metrics',
      tag: 'stats',
      summary: 'Prometheus metrics',
      access: 'read',
      answers: [{ status: 200, description: 'Prometheus text format (docs/metrics.md).', text: 'text/plain' }],
    },
  },
}

const SECURITY: Readonly<Record<Access, Json[]>> = { open: [], read: [{}, { bearer: [] }], write: [{ bearer: [] }] }

/** The OpenAPI document (a plain object, the same on every call). */
export function openApiDocument(): Json {
  const paths: Json = {}
  for (const [path, operations] of Object.entries(PATHS)) {
    paths[path] = Object.fromEntries(Object.entries(operations).map(([method, op]) => [method, operation(path, op)]))
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Switchyard admin API',
      version: '1.0.0',
      description:
        'The admin listener of a running balancer (docs/admin-api.md). Writes need `Authorization: Bearer <admin.token>` and ' +
        'must not come from another site (403). Reads are open on a loopback listener; `admin.stats_public` opens or closes ' +
        'them, and when closed every read but `/healthz` and `/stats` needs the token. `HEAD` is accepted wherever `GET` is; ' +
        'any other method an endpoint does not have is answered 405 with `Allow`. Errors are `{"error": {"code", "message"}}`.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    servers: [{ url: 'http://127.0.0.1:9900', description: 'the default admin.listen' }],
    tags: [
      { name: 'health' },
      { name: 'servers', description: 'State, servers and reload' },
      { name: 'releases', description: 'Deployments of services' },
      { name: 'stats', description: 'Statistics, events and metrics' },
      { name: 'meta' },
    ],
    paths,
    components: {
      schemas: componentSchemas(),
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'admin.token of the configuration' } },
      parameters: {
        ...Object.fromEntries(Object.entries(PATH_PARAMETERS).map(([name, description]) => [name, pathParameter(name, description)])),
        ...QUERY_PARAMETERS,
      },
      responses: {
        Unauthorized: errorResponse('SY_ERR_UNAUTHORIZED: no token, a wrong one, or none configured (writes are then disabled).', {
          'WWW-Authenticate': { schema: { type: 'string', const: 'Bearer realm="switchyard"' } },
        }),
        CrossSite: errorResponse('SY_ERR_CROSS_SITE: a write from the page of another site (`Origin`, `Sec-Fetch-Site`).'),
        BodyTooLarge: errorResponse('SY_ERR_BODY_TOO_LARGE: a body over 64 KB.'),
        MethodNotAllowed: errorResponse('SY_ERR_METHOD_NOT_ALLOWED: the path exists, not with this method (any path).', {
          Allow: { description: 'the methods of the path', schema: { type: 'string' } },
        }),
        Error: errorResponse('Another error (docs/errors.md), e.g. 500 SY_ERR_INTERNAL.'),
      },
    },
  }
}

function operation(path: string, op: Operation): Json {
  const parameters = [
    ...[...path.matchAll(/\{(\w+)\}/g)].map(([, name]) => (name! in PATH_PARAMETERS ? parameterRef(name!) : pathParameter(name!, name!))),
    ...(op.query ?? []).map(parameterRef),
  ]
  const responses: Json = {}
  for (const answer of op.answers) {
    const content =
      answer.text !== undefined
        ? { [answer.text]: { schema: { type: 'string' } } }
        : { 'application/json': { schema: typeof answer.json === 'string' ? ref(answer.json) : answer.json } }
    responses[answer.status] = { description: answer.description, content }
  }
  for (const [status, codes] of errorsByStatus(path, op)) {
    const shared = codes.length === 1 ? SHARED_ERRORS[codes[0]!] : undefined
    responses[status] = shared === undefined ? errorResponse(codes.join(', ')) : { $ref: `#/components/responses/${shared}` }
  }
  responses.default = { $ref: '#/components/responses/Error' }
  return {
    operationId: op.id,
    tags: [op.tag],
    summary: op.summary,
    ...(op.description === undefined ? {} : { description: op.description }),
    security: SECURITY[op.access],
    ...(parameters.length === 0 ? {} : { parameters }),
    ...(op.body === undefined
      ? {}
      : {
          requestBody: {
            required: op.body.required,
            ...(op.body.description === undefined ? {} : { description: op.body.description }),
            content: { 'application/json': { schema: ref(op.body.schema) } },
          },
        }),
    responses,
  }
}

function pathParameter(name: string, description: string): Json {
  return { name, in: 'path', required: true, description, schema: { type: 'string', minLength: 1 } }
}

function parameterRef(name: string): Json {
  return { $ref: `#/components/parameters/${name}` }
}

function errorResponse(description: string, headers?: Json): Json {
  return { description, ...(headers === undefined ? {} : { headers }), content: { 'application/json': { schema: ref('Error') } } }
}

/** The error codes of an operation, grouped by their HTTP status (errors.ts), statuses ascending. */
function errorsByStatus(path: string, op: Operation): [number, ErrorCode[]][] {
  const codes = new Set<ErrorCode>()
  // A malformed percent-escape in a path parameter; every write also refuses unknown query parameters.
  if (path.includes('{') || op.access === 'write') codes.add('SY_ERR_BAD_REQUEST')
  if (op.body !== undefined) ['SY_ERR_INVALID_BODY', 'SY_ERR_BODY_TOO_LARGE'].forEach((c) => codes.add(c as ErrorCode))
  if (op.access === 'write') codes.add('SY_ERR_CROSS_SITE')
  if (op.access !== 'open') codes.add('SY_ERR_UNAUTHORIZED')
  for (const code of op.errors ?? []) codes.add(code)
  const byStatus = new Map<number, ErrorCode[]>()
  for (const code of codes) byStatus.set(ERRORS[code].status, [...(byStatus.get(ERRORS[code].status) ?? []), code])
  return [...byStatus].sort(([a], [b]) => a - b)
}

function readiness(ready: boolean): Json {
  return { type: 'object', properties: { ready: { const: ready } }, required: ['ready'] }
}

/** 30000 -> "30s", 3600000 -> "1h": the way durations are written in the API. */
function duration(ms: number): string {
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) if (ms % size === 0) return `${ms / size}${unit}`
  return `${ms}ms`
}

/** `GET /api/v1/openapi.json`, a read like the state. */
export function openApiRoute(): AdminRoute {
  let document: Json | undefined
  return { path: OPENAPI_PATH, methods: { GET: () => ok((document ??= openApiDocument())) } }
}
