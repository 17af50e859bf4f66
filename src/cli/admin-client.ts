/**
 * How CLI commands talk to a running balancer: where its admin listener is (`--admin URL`, else the `admin:`
 * section of `-c FILE`, else the default), which token to send, and a small JSON client over fetch whose
 * failures carry the API's error code.
 */
import { formatHostPort, parseHostPort, type HostPort } from '../config/address.js'
import { DEFAULTS } from '../config/defaults.js'
import type { ConfigProblem } from '../config/load-config.js'
import { SwitchyardError } from '../errors.js'

export interface AdminOptions {
  readonly admin?: string
  readonly config?: string
  readonly token?: string
}

export interface AdminTarget {
  readonly url: string
  readonly token: string | undefined
}

/** An error answer of the admin API. The code stays a string: the balancer may be a newer version than this CLI. */
export class AdminApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    readonly problems: readonly ConfigProblem[] = [],
  ) {
    super(message)
    this.name = 'AdminApiError'
  }
}

export async function resolveAdminTarget(options: AdminOptions, env: NodeJS.ProcessEnv = process.env): Promise<AdminTarget> {
  // The loader (YAML, zod) is imported only when a file is named: most calls use --admin and should start fast.
  const config = options.config === undefined ? undefined : await (await import('../config/load-config.js')).loadConfigFile(options.config, env)
  const envToken = env.SWITCHYARD_TOKEN === '' ? undefined : env.SWITCHYARD_TOKEN
  const token = options.token ?? envToken ?? config?.admin?.token
  if (options.admin !== undefined) return { url: normaliseUrl(options.admin), token }
  const listen = config?.admin?.listen ?? (parseHostPort(DEFAULTS.admin.listen) as HostPort)
  return { url: `http://${formatHostPort(reachable(listen))}`, token }
}

/** A listener on every interface is reached on the loopback one. */
function reachable(listen: HostPort): HostPort {
  if (listen.host === '0.0.0.0') return { ...listen, host: '127.0.0.1' }
  if (listen.host === '::') return { ...listen, host: '::1' }
  return listen
}

function normaliseUrl(text: string): string {
  const withScheme = /^https?:\/\//i.test(text) ? text : `http://${text}`
  return withScheme.replace(/\/+$/, '')
}

/** A wrong command-line argument, reported without an error code. */
export class UsageError extends Error {
  override name = 'UsageError'
}

/** `app/s1` -> the API path of that server; the backend is before the first "/", names are percent-encoded. */
export function serverPath(target: string): string {
  const slash = target.indexOf('/')
  if (slash <= 0 || slash === target.length - 1) {
    throw new UsageError(`expected BACKEND/SERVER, got '${target}'`)
  }
  return `/api/v1/backends/${encodeURIComponent(target.slice(0, slash))}/servers/${encodeURIComponent(target.slice(slash + 1))}`
}

export class AdminClient {
  constructor(readonly target: AdminTarget) {}

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path)
  }

  post<T>(path: string, body?: unknown, options: { timeoutMs?: number } = {}): Promise<T> {
    return this.request<T>('POST', path, body, options.timeoutMs)
  }

  /** Sends a request and returns the parsed JSON answer; throws AdminApiError or SY_ERR_ADMIN_UNREACHABLE. */
  async request<T>(method: string, path: string, body?: unknown, timeoutMs = 30_000): Promise<T> {
    const url = this.target.url + path
    const headers: Record<string, string> = { accept: 'application/json' }
    if (this.target.token !== undefined) headers.authorization = `Bearer ${this.target.token}`
    if (body !== undefined) headers['content-type'] = 'application/json'
    let res: Response
    let text: string
    try {
      res = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      })
      text = await res.text()
    } catch (err) {
      throw this.unreachable(failureReason(err, timeoutMs))
    }
    const json = parseJson(text)
    if (res.ok && json !== undefined) return json as T
    const error = errorOf(json)
    if (error === undefined) throw this.unreachable(`HTTP ${res.status} without a Switchyard answer (is this the admin listener?)`)
    throw new AdminApiError(error.code, this.withHint(error.code, error.message), res.status, error.problems)
  }

  private unreachable(reason: string): SwitchyardError {
    return new SwitchyardError('SY_ERR_ADMIN_UNREACHABLE', { url: this.target.url, reason })
  }

  private withHint(code: string, message: string): string {
    if (code !== 'SY_ERR_UNAUTHORIZED' || this.target.token !== undefined) return message
    return `${message} (no token was sent: pass --token or set SWITCHYARD_TOKEN)`
  }
}

/** Prints a failure as one `CODE: message` line (a ConfigError's problems follow, one per line); returns 1. */
export function reportFailure(err: unknown): number {
  if (err instanceof AdminApiError || err instanceof SwitchyardError) {
    // A ConfigError (from -c FILE) has problems too; it is not imported here to keep the loader lazy.
    const problems = err instanceof AdminApiError ? err.problems : problemsOf(err)
    const summary = err.message.split('\n')[0]!
    process.stderr.write(`${err.code}: ${summary}\n`)
    for (const p of problems) process.stderr.write(`${p.file}:${p.line}:${p.col}: ${p.message}\n`)
    return 1
  }
  if (err instanceof UsageError) {
    process.stderr.write(`switchyard: ${err.message}\n`)
    return 1
  }
  throw err
}

function failureReason(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return `no answer within ${timeoutMs / 1000}s`
  const cause = err instanceof Error ? err.cause : undefined
  if (cause instanceof Error) return 'code' in cause && typeof cause.code === 'string' ? cause.code : cause.message
  return err instanceof Error ? err.message : String(err)
}

function problemsOf(err: object): readonly ConfigProblem[] {
  return 'problems' in err && Array.isArray(err.problems) ? (err.problems as ConfigProblem[]) : []
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch {
    return undefined
  }
}

interface ErrorBody {
  readonly code: string
  readonly message: string
  readonly problems: ConfigProblem[]
}

function errorOf(json: unknown): ErrorBody | undefined {
  if (typeof json !== 'object' || json === null || !('error' in json)) return undefined
  const error = json.error
  if (typeof error !== 'object' || error === null || !('code' in error) || typeof error.code !== 'string') return undefined
  const message = 'message' in error && typeof error.message === 'string' ? error.message : error.code
  const problems = 'problems' in error && Array.isArray(error.problems) ? (error.problems as ConfigProblem[]) : []
  return { code: error.code, message, problems }
}
