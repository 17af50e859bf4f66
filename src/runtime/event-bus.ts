/** One state change as the events stream (`GET /api/v1/events`) and the stats page see it. */
export interface BalancerEvent {
  /** "server" (a server's state, health, admin state or weight changed), "deployment", "reload". */
  readonly type: string
  /** Epoch ms. */
  readonly at: number
  readonly data: Readonly<Record<string, unknown>>
}

export type EventListener = (event: BalancerEvent) => void

/**
 * Publish/subscribe for state changes. Hand-written: a set of callbacks; a listener that throws is dropped
 * rather than allowed to break the publisher (the data plane publishes server changes).
 */
export class EventBus {
  private readonly listeners = new Set<EventListener>()

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  publish(type: string, data: Readonly<Record<string, unknown>>): void {
    if (this.listeners.size === 0) return
    const event: BalancerEvent = { type, at: Date.now(), data }
    for (const listener of this.listeners) {
      try {
        listener(event)
      } catch {
        this.listeners.delete(listener)
      }
    }
  }

  get size(): number {
    return this.listeners.size
  }
}
