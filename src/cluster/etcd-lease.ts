import type { EtcdClient } from './etcd-client.js'

export interface LeaseHandlers {
  /** The lease is ours: granted at first, or a new one after the previous one expired (`lost`: its id). */
  granted(id: string, lost: string | undefined): void
  /** A keep-alive (or grant) got through, or not, with the reason. */
  status(ok: boolean, reason?: string): void
}

/**
 * This balancer's lease: what keys that must vanish with the balancer (a release it runs) are bound to. Kept
 * alive three times per TTL; when etcd says it expired (the balancer was cut off for longer than the TTL), a new
 * one is granted and the owner is told, because every key bound to the old one is gone.
 */
export class LeaseKeeper {
  private current: string | undefined
  private granting: Promise<string> | undefined
  private timer: NodeJS.Timeout | undefined
  private stopped = false
  /** The lease that expired, until a new one is granted (the owner is told then). */
  private expired: string | undefined
  readonly ttlSeconds: number

  constructor(
    private readonly client: EtcdClient,
    ttlMs: number,
    private readonly handlers: LeaseHandlers,
  ) {
    // etcd counts lease TTLs in whole seconds.
    this.ttlSeconds = Math.max(1, Math.ceil(ttlMs / 1000))
  }

  get id(): string | undefined {
    return this.current
  }

  start(): void {
    this.stopped = false
    void this.tick()
  }

  /** The lease, granted now if there is none yet; rejects when etcd cannot be reached. */
  ensure(): Promise<string> {
    if (this.current !== undefined) return Promise.resolve(this.current)
    this.granting ??= this.client
      .grantLease(this.ttlSeconds)
      .then((id) => {
        const lost = this.expired
        this.expired = undefined
        this.current = id
        this.handlers.granted(id, lost)
        return id
      })
      .finally(() => {
        this.granting = undefined
      })
    return this.granting
  }

  /** Stops the keep-alives and revokes the lease: its keys are deleted at once (a clean stop). */
  async revoke(): Promise<void> {
    this.halt()
    const id = this.current
    this.current = undefined
    if (id !== undefined) await this.client.revokeLease(id)
  }

  /** Stops the keep-alives without revoking: the lease runs out after its TTL (what a crash looks like). */
  halt(): void {
    this.stopped = true
    clearTimeout(this.timer)
  }

  private async tick(): Promise<void> {
    if (this.stopped) return
    try {
      const id = this.current
      if (id === undefined) {
        await this.ensure()
      } else {
        const ttl = await this.client.keepAlive(id)
        if (ttl <= 0 && this.current === id) {
          // Expired while we could not reach etcd: whatever was bound to it is gone; start again.
          this.current = undefined
          this.expired = id
          await this.ensure()
        }
      }
      if (!this.stopped) this.handlers.status(true)
    } catch (err) {
      if (!this.stopped) this.handlers.status(false, err instanceof Error ? err.message : String(err))
    }
    if (this.stopped) return
    this.timer = setTimeout(() => void this.tick(), Math.max(200, (this.ttlSeconds * 1000) / 3))
    this.timer.unref()
  }
}
