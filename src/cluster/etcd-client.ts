/**
 * A small client for etcd's v3 API through its JSON gateway (`POST /v3/...`, part of etcd itself since 3.3 and
 * served on the client port), over undici, which is already a dependency.
 *
 * Why not a library: the npm package `etcd3` (microsoft/etcd3, latest 1.1.2; the newest entry of its changelog is
 * 1.1.0 from 2020-11) talks gRPC and would add @grpc/grpc-js, @grpc/proto-loader, bignumber.js and cockatiel with
 * their trees for the dozen calls Switchyard makes. The gateway gives the same API (ranges, transactions on
 * revisions, leases, watches from a revision) as JSON over HTTP/1.1, so the whole client is this folder, and its
 * failure handling (one deadline per request, the next endpoint on a network failure) is ours to state and test.
 * The cost: base64 keys, 64-bit numbers as strings, and a watch is one streamed response per watcher.
 */
import { Agent, request, type Dispatcher } from 'undici'
import { SwitchyardError } from '../errors.js'
import { encode, parseKv, prefixEnd, revisionOf, toNumber, type EtcdKv, type RawHeader, type RawKv } from './etcd-codec.js'

export interface EtcdClientOptions {
  /** Deadline of one request, over every endpoint tried. */
  readonly timeoutMs: number
}

/** Compares of a transaction (all must hold): a key's mod_revision or create_revision equals the number (0: absent). */
export type TxnCompare =
  | { readonly key: string; readonly modRevision: number }
  | { readonly key: string; readonly createRevision: number }

export type TxnOp =
  | { readonly put: { readonly key: string; readonly value: string; readonly lease?: string } }
  | { readonly delete: { readonly key: string } }
  | { readonly range: { readonly key: string } }

export interface TxnResult {
  readonly succeeded: boolean
  /** The store's revision after the transaction (the mod_revision of what it wrote, when it succeeded). */
  readonly revision: number
  /** The keys read by the range operations of the branch that ran, in order. */
  readonly ranges: EtcdKv[][]
}

export interface RangeResult {
  readonly revision: number
  readonly kvs: EtcdKv[]
}

/** gRPC status codes that mean "not now" rather than "never": the request may succeed on another try or member. */
const TRANSIENT_CODES = new Set([4 /* DEADLINE_EXCEEDED */, 14 /* UNAVAILABLE */, 10 /* ABORTED */, 8 /* RESOURCE_EXHAUSTED */])

/** A request etcd answered with an error status (kept apart from "unreachable" so callers can tell). */
export class EtcdRejection extends SwitchyardError {
  constructor(
    readonly grpcCode: number,
    detail: string,
  ) {
    super('SY_ERR_INTERNAL', { reason: `etcd refused the request: ${detail}` })
  }
}

export class EtcdClient {
  readonly endpoints: readonly string[]
  private current = 0
  private readonly agent: Agent
  private readonly timeoutMs: number

  constructor(endpoints: readonly string[], options: EtcdClientOptions) {
    if (endpoints.length === 0) throw new Error('an etcd client needs at least one endpoint')
    this.endpoints = endpoints.map((e) => e.replace(/\/+$/, ''))
    this.timeoutMs = options.timeoutMs
    // keep-alive connections: a change is one round trip, not a TCP handshake and a round trip.
    this.agent = new Agent({ keepAliveTimeout: 30_000, connect: { timeout: options.timeoutMs } })
  }

  /** The endpoint requests go to first (the last one that answered). */
  get endpoint(): string {
    return this.endpoints[this.current]!
  }

  /** Moves on to the next endpoint (after a failure of the current one). */
  rotate(failed: string): void {
    if (this.endpoint === failed) this.current = (this.current + 1) % this.endpoints.length
  }

  async range(key: string, options: { prefix?: boolean; revision?: number } = {}): Promise<RangeResult> {
    const body: Record<string, unknown> = { key: encode(key) }
    if (options.prefix === true) body.range_end = prefixEnd(key)
    if (options.revision !== undefined) body.revision = String(options.revision)
    const res = (await this.call('/v3/kv/range', body)) as { header?: RawHeader; kvs?: RawKv[] }
    return { revision: revisionOf(res.header), kvs: (res.kvs ?? []).map(parseKv) }
  }

  async put(key: string, value: string, options: { lease?: string } = {}): Promise<number> {
    const res = (await this.call('/v3/kv/put', putBody({ key, value, lease: options.lease }))) as { header?: RawHeader }
    return revisionOf(res.header)
  }

  async delete(key: string, options: { prefix?: boolean } = {}): Promise<number> {
    const body: Record<string, unknown> = { key: encode(key) }
    if (options.prefix === true) body.range_end = prefixEnd(key)
    const res = (await this.call('/v3/kv/deleterange', body)) as { header?: RawHeader }
    return revisionOf(res.header)
  }

  async txn(compare: readonly TxnCompare[], success: readonly TxnOp[], failure: readonly TxnOp[] = []): Promise<TxnResult> {
    const res = (await this.call('/v3/kv/txn', {
      compare: compare.map((c) =>
        'modRevision' in c
          ? { target: 'MOD', result: 'EQUAL', key: encode(c.key), mod_revision: String(c.modRevision) }
          : { target: 'CREATE', result: 'EQUAL', key: encode(c.key), create_revision: String(c.createRevision) },
      ),
      success: success.map(requestOp),
      failure: failure.map(requestOp),
    })) as { header?: RawHeader; succeeded?: boolean; responses?: { response_range?: { kvs?: RawKv[] } }[] }
    const ranges = (res.responses ?? []).filter((r) => r.response_range !== undefined).map((r) => (r.response_range!.kvs ?? []).map(parseKv))
    return { succeeded: res.succeeded === true, revision: revisionOf(res.header), ranges }
  }

  /** A new lease of `ttlSeconds`; resolves with its id. */
  async grantLease(ttlSeconds: number): Promise<string> {
    const res = (await this.call('/v3/lease/grant', { TTL: String(ttlSeconds) })) as { ID?: string }
    if (res.ID === undefined) throw new EtcdRejection(0, 'lease grant answered without an id')
    return res.ID
  }

  /** One keep-alive; resolves with the TTL left (0: the lease is gone, expired or revoked). */
  async keepAlive(id: string): Promise<number> {
    // A bidirectional stream in gRPC; through the gateway one request body gives one answer, then the stream ends.
    const res = (await this.call('/v3/lease/keepalive', { ID: id })) as { result?: { TTL?: string } }
    return toNumber(res.result?.TTL)
  }

  /** Revokes a lease (its keys are deleted). A lease already gone is not an error. */
  async revokeLease(id: string): Promise<void> {
    try {
      await this.call('/v3/lease/revoke', { ID: id })
    } catch (err) {
      if (err instanceof EtcdRejection && err.grpcCode === 5 /* NOT_FOUND */) return
      throw err
    }
  }

  /** Drops history before `revision` (operators and tests; Switchyard itself never compacts). */
  async compact(revision: number): Promise<void> {
    await this.call('/v3/kv/compaction', { revision: String(revision), physical: true })
  }

  /**
   * Opens a streamed POST (a watch) on the current endpoint: resolves once the response headers arrived, with
   * the parsed messages. The stream has no deadline; `signal` ends it.
   */
  async stream(path: string, body: unknown, signal: AbortSignal): Promise<{ endpoint: string; messages: AsyncIterable<unknown> }> {
    const endpoint = this.endpoint
    let res: Dispatcher.ResponseData
    try {
      res = await request(`${endpoint}${path}`, {
        method: 'POST',
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
        dispatcher: this.agent,
        signal,
        headersTimeout: this.timeoutMs,
        bodyTimeout: 0,
      })
    } catch (err) {
      this.rotate(endpoint)
      throw unavailable(endpoint, err)
    }
    if (res.statusCode !== 200) {
      const text = await res.body.text().catch(() => '')
      throw rejection(endpoint, res.statusCode, text)
    }
    return { endpoint, messages: jsonLines(res.body) }
  }

  async close(): Promise<void> {
    await this.agent.close().catch(() => undefined)
  }

  /**
   * One unary call within the deadline: on a network failure or a transient error the next endpoint is tried,
   * each attempt getting an equal share of the time left.
   */
  private async call(path: string, body: unknown): Promise<unknown> {
    const deadline = Date.now() + this.timeoutMs
    let lastError: SwitchyardError | undefined
    for (let tried = 0; tried < this.endpoints.length; tried++) {
      const left = deadline - Date.now()
      if (left <= 0) break
      const endpoint = this.endpoint
      const share = Math.max(1, Math.floor(left / (this.endpoints.length - tried)))
      try {
        const res = await request(`${endpoint}${path}`, {
          method: 'POST',
          body: JSON.stringify(body),
          headers: { 'content-type': 'application/json' },
          dispatcher: this.agent,
          signal: AbortSignal.timeout(share),
        })
        const text = await res.body.text()
        if (res.statusCode === 200) return JSON.parse(text) as unknown
        const error = rejection(endpoint, res.statusCode, text)
        if (!(error instanceof EtcdRejection)) {
          lastError = error
          this.rotate(endpoint)
          continue
        }
        throw error
      } catch (err) {
        if (err instanceof EtcdRejection) throw err
        lastError = err instanceof SwitchyardError ? err : unavailable(endpoint, err)
        this.rotate(endpoint)
      }
    }
    throw lastError ?? new SwitchyardError('SY_ERR_CLUSTER_UNAVAILABLE', { reason: `no answer from etcd within ${this.timeoutMs} ms` })
  }
}

function putBody(put: { key: string; value: string; lease?: string | undefined }): Record<string, string> {
  const body: Record<string, string> = { key: encode(put.key), value: encode(put.value) }
  if (put.lease !== undefined) body.lease = put.lease
  return body
}

function requestOp(op: TxnOp): Record<string, unknown> {
  if ('put' in op) return { request_put: putBody(op.put) }
  if ('delete' in op) return { request_delete_range: { key: encode(op.delete.key) } }
  return { request_range: { key: encode(op.range.key) } }
}

/** An error status from the gateway: transient ones (no leader, timeouts) count as unreachable. */
function rejection(endpoint: string, status: number, text: string): SwitchyardError {
  let code = 0
  let message = text.trim() || `HTTP ${status}`
  try {
    const parsed = JSON.parse(text) as { code?: number; message?: string; error?: string }
    code = parsed.code ?? 0
    message = parsed.message ?? parsed.error ?? message
  } catch {
    // not JSON: keep the text
  }
  if (status >= 500 || TRANSIENT_CODES.has(code)) return new SwitchyardError('SY_ERR_CLUSTER_UNAVAILABLE', { reason: `${endpoint}: ${message}` })
  return new EtcdRejection(code, message)
}

function unavailable(endpoint: string, err: unknown): SwitchyardError {
  const e = err as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string } }
  const detail =
    e.name === 'TimeoutError' || e.name === 'AbortError'
      ? 'no answer in time'
      : (e.cause?.code ?? e.code ?? e.cause?.message ?? e.message ?? String(err))
  return new SwitchyardError('SY_ERR_CLUSTER_UNAVAILABLE', { reason: `${endpoint}: ${detail}` })
}

/** The gateway streams one JSON message per line. */
async function* jsonLines(body: AsyncIterable<Buffer | string>): AsyncIterable<unknown> {
  let buffered = ''
  for await (const chunk of body) {
    buffered += typeof chunk === 'string' ? chunk : chunk.toString('utf8')
    let newline: number
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline).trim()
      buffered = buffered.slice(newline + 1)
      if (line !== '') yield JSON.parse(line) as unknown
    }
  }
  if (buffered.trim() !== '') yield JSON.parse(buffered) as unknown
}
