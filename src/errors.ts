/**
 * The one registry of Switchyard's error codes. Every error the product raises or sends carries one of these
 * codes; callers match on `code`, never on message text. `status` is the HTTP status used where the error
 * reaches an HTTP client (data plane or admin API). Messages are templates: `{name}` is filled from params.
 * docs/errors.md lists every code.
 */
export interface ErrorSpec {
  readonly status: number
  readonly message: string
}

export const ERRORS = {
  // Configuration
  SY_ERR_CONFIG_READ: { status: 400, message: 'cannot read configuration file {file}: {reason}' },
  SY_ERR_CONFIG_INVALID: { status: 400, message: 'invalid configuration ({count} problem(s))' },
  SY_ERR_RELOAD_NEEDS_RESTART: { status: 409, message: 'frontend {frontend}: {change} cannot be applied to its open listener; restart the balancer, or give the frontend a new listen address' },

  // Data plane: client side
  SY_ERR_BAD_REQUEST: { status: 400, message: 'bad request: {reason}' },
  SY_ERR_NO_ROUTE: { status: 404, message: 'no route for this request' },
  SY_ERR_REQUEST_TIMEOUT: { status: 408, message: 'the request was not received in time' },
  SY_ERR_BODY_TOO_LARGE: { status: 413, message: 'request body larger than {limit} bytes' },
  SY_ERR_HEADERS_TOO_LARGE: { status: 431, message: 'request headers too large' },

  // Data plane: server side
  SY_ERR_UPSTREAM_CONNECT: { status: 502, message: 'could not connect to a server of backend {backend}' },
  SY_ERR_UPSTREAM_RESET: { status: 502, message: 'the server closed the connection without a complete response' },
  SY_ERR_UPSTREAM_PROTOCOL: { status: 502, message: 'the server sent an invalid HTTP response' },
  SY_ERR_UPSTREAM_TIMEOUT: { status: 504, message: 'the server did not answer in time' },
  SY_ERR_NO_SERVER: { status: 503, message: 'no server of backend {backend} became available in time' },
  SY_ERR_QUEUE_FULL: { status: 503, message: 'the queue of backend {backend} is full' },
  SY_ERR_SHUTTING_DOWN: { status: 503, message: 'the balancer is shutting down' },

  // Admin API
  SY_ERR_NOT_FOUND: { status: 404, message: 'no such endpoint: {method} {path}' },
  SY_ERR_METHOD_NOT_ALLOWED: { status: 405, message: '{method} is not allowed on {path}' },
  SY_ERR_UNAUTHORIZED: { status: 401, message: 'a valid bearer token is required for this action' },
  SY_ERR_CROSS_SITE: { status: 403, message: 'cross-site request refused: {reason}' },
  SY_ERR_INVALID_BODY: { status: 400, message: 'invalid request body: {reason}' },
  SY_ERR_UNKNOWN_BACKEND: { status: 404, message: "no backend named '{backend}'" },
  SY_ERR_UNKNOWN_SERVER: { status: 404, message: "no server named '{server}' in backend '{backend}'" },
  SY_ERR_SERVER_EXISTS: { status: 409, message: "backend '{backend}' already has a server named '{server}'" },
  SY_ERR_ADMIN_UNREACHABLE: { status: 502, message: 'cannot reach the balancer at {url}: {reason}' },

  // Releases
  SY_ERR_UNKNOWN_SERVICE: { status: 404, message: "no service named '{service}'" },
  SY_ERR_UNKNOWN_DEPLOYMENT: { status: 404, message: "no deployment with id '{id}'" },
  SY_ERR_DEPLOYMENT_RUNNING: { status: 409, message: "service '{service}' already has a release in progress ({id})" },
  SY_ERR_DEPLOYMENT_STATE: { status: 409, message: "deployment {id} is {status}: cannot {action} it" },
  SY_ERR_NO_PREVIOUS_RELEASE: { status: 409, message: "service '{service}' has no previous release to go back to" },
  SY_ERR_STRATEGY_UNSUPPORTED: { status: 400, message: '{reason}' },

  // Cluster (shared state in etcd)
  SY_ERR_CLUSTER_UNAVAILABLE: { status: 503, message: 'the shared state in etcd cannot be reached ({reason}); nothing was changed' },

  // Process
  SY_ERR_LISTEN: { status: 500, message: 'cannot listen on {address}: {reason}' },
  SY_ERR_WORKER_FAILED: { status: 500, message: 'data-plane worker {worker} failed: {reason}' },
  SY_ERR_INTERNAL: { status: 500, message: 'internal error: {reason}' },
} as const satisfies Record<string, ErrorSpec>

export type ErrorCode = keyof typeof ERRORS

export type ErrorParams = Readonly<Record<string, string | number>>

/** Fills a message template; unknown placeholders stay visible so a missing param is noticed. */
export function formatMessage(code: ErrorCode, params: ErrorParams = {}): string {
  return ERRORS[code].message.replace(/\{(\w+)\}/g, (whole, key: string) =>
    params[key] === undefined ? whole : String(params[key]),
  )
}

export class SwitchyardError extends Error {
  readonly code: ErrorCode
  readonly status: number
  readonly params: ErrorParams

  constructor(code: ErrorCode, params: ErrorParams = {}, options?: { cause?: unknown; message?: string }) {
    super(options?.message ?? formatMessage(code, params), options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'SwitchyardError'
    this.code = code
    this.status = ERRORS[code].status
    this.params = params
  }

  /** The JSON body used by the admin API and the data plane's error responses. */
  toJSON(): { error: { code: ErrorCode; message: string } } {
    return { error: { code: this.code, message: this.message } }
  }
}

export function isSwitchyardError(err: unknown, code?: ErrorCode): err is SwitchyardError {
  return err instanceof SwitchyardError && (code === undefined || err.code === code)
}
