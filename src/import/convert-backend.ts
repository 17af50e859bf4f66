/** The backend half of a proxy: balance, servers, health checks, server-side timeouts, retries, persistence. */
import type { RetryCondition } from '../config/schema.js'
import {
  haproxyAddress, haproxyDuration, switchyardName, unsupported, wholeNumber,
  type BackendInput, type HealthInput, type LineResult, type NoteSink, type ServerInput,
} from './haproxy-common.js'
import type { HaproxyLine } from './parse-haproxy.js'
import { applyHealthLine } from './convert-health.js'
import { parseServerOptions, type ServerOptions } from './server-options.js'

const RETRY_ON: Readonly<Record<string, readonly RetryCondition[]>> = {
  'conn-failure': ['conn-failure'],
  'empty-response': ['empty-response'],
  '502': ['502'],
  '503': ['503'],
  '504': ['504'],
  'all-retryable-errors': ['conn-failure', 'empty-response', '502', '503', '504'],
  none: [],
}

const COOKIE_FLAGS = new Set(['insert', 'indirect', 'nocache', 'httponly'])

/** Settings Switchyard has once per backend but HAProxy per server: the first value wins, others are reported. */
interface PerBackend {
  readonly value: string | number
  readonly line: number
}

export class BackendConverter {
  readonly backend: BackendInput = {}
  readonly health: Partial<HealthInput> = {}
  private readonly servers: Record<string, ServerInput> = {}
  private defaultServer: readonly string[] = []
  private readonly checked: HaproxyLine[] = []
  private readonly unchecked: HaproxyLine[] = []
  private readonly perBackend = new Map<string, PerBackend>()
  /** Lines found wrong only once the whole section is read. */
  readonly lateProblems: { line: HaproxyLine; reason: string }[] = []

  constructor(private readonly notes: NoteSink) {}

  handle(line: HaproxyLine): LineResult {
    const [head, ...args] = line.words
    switch (head) {
      case 'balance': return this.balance(args)
      case 'server': return this.server(line, args)
      case 'default-server':
        this.defaultServer = args
        return 'done'
      case 'retries': {
        const n = wholeNumber(args[0], 0, 10)
        if (n === undefined) return unsupported('retries must be a number from 0 to 10 in Switchyard')
        this.backend.retries = n
        return 'done'
      }
      case 'retry-on': return this.retryOn(args)
      case 'cookie': return this.cookie(line, args)
      case 'timeout': return this.timeout(args)
      case 'option':
      case 'http-check': return applyHealthLine(this.health, line.words)
      default: return undefined
    }
  }

  private balance(args: readonly string[]): LineResult {
    const [algorithm, ...rest] = args
    if (rest.length > 0) return unsupported(`balance options '${rest.join(' ')}' are not translated`)
    const header = /^hdr\(([!#$%&'*+.^_`|~0-9A-Za-z-]+)\)$/.exec(algorithm ?? '')
    if (header !== null) Object.assign(this.backend, { balance: 'hash', hash_key: `header:${header[1]}` })
    else if (algorithm === 'source' || algorithm === 'uri') Object.assign(this.backend, { balance: 'hash', hash_key: algorithm })
    else if (algorithm === 'roundrobin' || algorithm === 'leastconn' || algorithm === 'first' || algorithm === 'random') {
      this.backend.balance = algorithm
    } else return unsupported(`balance '${algorithm ?? ''}' has no Switchyard equivalent`)
    return 'done'
  }

  private server(line: HaproxyLine, args: readonly string[]): LineResult {
    const [rawName, rawAddress, ...own] = args
    const address = haproxyAddress(rawAddress, undefined)
    if (rawName === undefined || address === undefined) {
      return unsupported(`server address '${rawAddress ?? ''}' is not host:port`)
    }
    const options = parseServerOptions([...this.defaultServer, ...own])
    const server: ServerInput = { address }
    if (options.weight !== undefined) server.weight = options.weight
    if (options.backup) server.backup = true
    if (options.maxconn !== undefined) server.max_connections = options.maxconn
    this.servers[switchyardName(rawName)] = server
    ;(options.check ? this.checked : this.unchecked).push(line)
    if (options.cookie !== undefined) {
      this.notes.note(line, `server cookie '${options.cookie}': Switchyard chooses the cookie value itself, so clients keep their server only after their next visit`)
    }
    const problems = [...options.problems, ...this.recordPerBackend(line, options)]
    return problems.length === 0 ? 'done' : unsupported(problems.join('; '))
  }

  private recordPerBackend(line: HaproxyLine, options: ServerOptions): string[] {
    const problems: string[] = []
    for (const [key, value] of Object.entries(options.perBackend)) {
      const seen = this.perBackend.get(key)
      if (seen === undefined) this.perBackend.set(key, { value, line: line.line })
      else if (seen.value !== value) {
        problems.push(`${key} ${value} differs from ${seen.value} on line ${seen.line}; Switchyard has one value per backend`)
      }
    }
    return problems
  }

  private retryOn(args: readonly string[]): LineResult {
    const conditions = new Set<RetryCondition>()
    const unknown = args.filter((value) => {
      const mapped = RETRY_ON[value]
      mapped?.forEach((c) => conditions.add(c))
      return mapped === undefined
    })
    this.backend.retry_on = [...conditions]
    return unknown.length === 0 ? 'done' : unsupported(`retry-on ${unknown.join(' ')} has no Switchyard equivalent`)
  }

  private cookie(line: HaproxyLine, args: readonly string[]): LineResult {
    const [cookieName, ...flags] = args
    if (cookieName === undefined || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(cookieName)) return unsupported('not a valid cookie name')
    if (!flags.includes('insert')) return unsupported('only `cookie NAME insert` translates (rewrite and prefix do not)')
    this.backend.sticky = { cookie: cookieName }
    const other = flags.filter((f) => !COOKIE_FLAGS.has(f))
    if (other.length > 0) return unsupported(`cookie options '${other.join(' ')}' are not translated`)
    this.notes.note(line, 'Switchyard sets the persistence cookie with Path=/; HttpOnly; SameSite=Lax')
    return 'done'
  }

  private timeout(args: readonly string[]): LineResult {
    const key = ({ connect: 'connect', server: 'server', queue: 'queue', check: 'check' } as const)[args[0] ?? '']
    if (key === undefined) return undefined
    const value = haproxyDuration(args[1])
    if (value === undefined) return unsupported(`'${args[1] ?? ''}' is not a duration`)
    if (key === 'check') this.health.timeout = value
    else this.backend.timeouts = { ...this.backend.timeouts, [key]: value }
    return 'done'
  }

  /** The backend, once every line of the section (and its defaults) has been seen. */
  finish(): BackendInput {
    const backend: BackendInput = { ...this.backend, servers: this.servers }
    const per = Object.fromEntries([...this.perBackend].map(([k, v]) => [k, v.value]))
    const { slow_start: slowStart, proxy_protocol: proxyProtocol, tls, check_tls: checkTls, verify, ca, ...healthTiming } = per
    if (proxyProtocol !== undefined) backend.proxy_protocol = proxyProtocol as 'v1' | 'v2'
    // HAProxy verifies server certificates only with `verify required` (or a global default); Switchyard's default
    // is to verify, so `verify none` - and no verify at all - are written out as verify: false.
    const verifies = verify === 'required'
    if (tls !== undefined) backend.tls = { verify: verifies, ...(ca !== undefined ? { ca: String(ca) } : {}) }
    if (this.checked.length > 0) {
      // `ssl` servers are checked over TLS too (HAProxy's default), as are `check-ssl` ones; an HTTP check keeps its
      // request (a tls check with a path is HTTP over TLS).
      const overTls: Partial<HealthInput> = (checkTls !== undefined || tls !== undefined) && this.health.type !== 'tls'
        ? { type: 'tls', verify: verifies, ...(this.health.type === 'http' ? { path: this.health.path ?? '/' } : {}), ...(ca !== undefined ? { ca: String(ca) } : {}) }
        : {}
      backend.health = { type: 'tcp', ...this.health, ...overTls, ...healthTiming } as HealthInput
      for (const line of this.unchecked) {
        this.lateProblems.push({ line, reason: 'this server has no `check` but others do; Switchyard checks every server of a backend' })
      }
      if (slowStart !== undefined) backend.slow_start = String(slowStart)
    } else if (this.perBackend.has('slow_start')) {
      backend.slow_start = String(this.perBackend.get('slow_start')!.value)
    }
    return backend
  }
}
