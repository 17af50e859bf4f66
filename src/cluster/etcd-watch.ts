import { encode, parseKv, prefixEnd, revisionOf, toNumber, type EtcdEvent, type RawHeader, type RawKv } from './etcd-codec.js'
import type { EtcdClient } from './etcd-client.js'

export interface WatchHandlers {
  /**
   * Where to start: called before the first connection and after a compaction took the revision the watch
   * needed. It reads everything it needs (a full read) and resolves with the revision that read was made at;
   * the watch then goes on from the next one. It may reject (etcd unreachable): the watch tries again later.
   */
  resync(): Promise<number>
  /** Events of one revision or more, in order. */
  events(events: readonly EtcdEvent[]): void
  /** Connected (the watch is established) or not, with the reason. */
  status(connected: boolean, reason?: string): void
}

export interface WatchOptions {
  /** First wait before a reconnection; doubled up to `maxBackoffMs` while it keeps failing. */
  readonly minBackoffMs?: number
  readonly maxBackoffMs?: number
}

interface WatchMessage {
  result?: {
    header?: RawHeader
    created?: boolean
    canceled?: boolean
    compact_revision?: string
    cancel_reason?: string
    events?: { type?: string; kv?: RawKv }[]
  }
  error?: { message?: string }
}

/** The revision the watch needed was compacted away. */
class Compacted extends Error {}

/**
 * A watch on every key under a prefix that survives failures: it reconnects with backoff (to the next endpoint
 * when there are several), resumes from the revision after the last one it delivered, so that no change is
 * missed or seen twice, and when etcd has compacted that revision it asks for a full read and goes on from the
 * revision of that read.
 */
export class EtcdWatch {
  private next: number | undefined
  private closed = false
  private controller: AbortController | undefined
  private wake: (() => void) | undefined
  private running: Promise<void> | undefined
  private connected = false

  constructor(
    private readonly client: EtcdClient,
    private readonly prefix: string,
    private readonly handlers: WatchHandlers,
    private readonly options: WatchOptions = {},
  ) {}

  /** The revision the watch will resume from (undefined before the first full read). */
  get resumeRevision(): number | undefined {
    return this.next
  }

  /** Starts watching after `revision` (a full read made at it), or with a full read first when it is not given. */
  start(revision?: number): void {
    if (revision !== undefined) this.next = revision + 1
    this.running ??= this.loop()
  }

  /** Drops the current connection (e.g. when a keep-alive found etcd unreachable); the watch reconnects. */
  reconnect(): void {
    this.controller?.abort()
    this.wake?.()
  }

  async close(): Promise<void> {
    this.closed = true
    this.controller?.abort()
    this.wake?.()
    await this.running
  }

  private async loop(): Promise<void> {
    const min = this.options.minBackoffMs ?? 100
    const max = this.options.maxBackoffMs ?? 2000
    let backoff = min
    while (!this.closed) {
      try {
        if (this.next === undefined) this.next = (await this.handlers.resync()) + 1
        await this.watchOnce(() => (backoff = min))
        if (this.closed) break
        this.setStatus(false, 'the watch stream ended')
      } catch (err) {
        if (this.closed) break
        if (err instanceof Compacted) {
          // The history we needed is gone: read everything again, then watch from there. No wait.
          this.next = undefined
          this.setStatus(false, 'compacted')
          continue
        }
        this.setStatus(false, err instanceof Error ? err.message : String(err))
      }
      // Jitter, so that balancers that lost etcd together do not all come back in the same millisecond.
      await this.sleep(backoff / 2 + Math.random() * (backoff / 2))
      backoff = Math.min(max, backoff * 2)
    }
    this.setStatus(false, 'closed')
  }

  private async watchOnce(onCreated: () => void): Promise<void> {
    const controller = new AbortController()
    this.controller = controller
    try {
      const { endpoint, messages } = await this.client.stream(
        '/v3/watch',
        { create_request: { key: encode(this.prefix), range_end: prefixEnd(this.prefix), start_revision: String(this.next) } },
        controller.signal,
      )
      try {
        for await (const raw of messages) {
          const message = raw as WatchMessage
          if (message.error !== undefined) throw new Error(`watch: ${message.error.message ?? 'error'}`)
          const result = message.result
          if (result === undefined) continue
          if (result.created === true) {
            onCreated()
            this.setStatus(true)
          }
          if (result.canceled === true) {
            if (toNumber(result.compact_revision) > 0) throw new Compacted()
            throw new Error(`watch canceled: ${result.cancel_reason ?? 'no reason given'}`)
          }
          const events = (result.events ?? []).map((e): EtcdEvent => ({ type: e.type === 'DELETE' ? 'delete' : 'put', kv: parseKv(e.kv ?? {}) }))
          if (events.length > 0) {
            this.next = Math.max(this.next ?? 0, ...events.map((e) => e.kv.modRevision)) + 1
            this.handlers.events(events)
          } else if (!result.created) {
            // A progress notification: nothing changed up to this revision.
            const revision = revisionOf(result.header)
            if (revision >= (this.next ?? 0)) this.next = revision + 1
          }
        }
      } catch (err) {
        if (!(err instanceof Compacted) && !controller.signal.aborted) this.client.rotate(endpoint)
        throw err
      }
    } finally {
      controller.abort()
      this.controller = undefined
    }
  }

  private setStatus(connected: boolean, reason?: string): void {
    if (connected === this.connected && connected) return
    this.connected = connected
    this.handlers.status(connected, reason)
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms)
      function done(): void {
        clearTimeout(timer)
        resolve()
      }
      this.wake = done
    })
  }
}
