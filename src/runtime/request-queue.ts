/**
 * Requests of one backend that wait for a server (invariant 4): bounded in length and in time. A waiter is
 * woken in arrival order when a server may take a request again, or told that its time ran out.
 * Hand-written: a FIFO with per-entry timers and removal is a few lines, and it sits in the data plane.
 */
export interface QueueWaiter {
  /** A server may be free: try to pick one (the waiter re-queues itself at the front if it loses the race). */
  wake(): void
  /** The queue timeout passed. */
  expire(): void
}

interface Deadlined {
  /** Epoch ms until which the waiter may wait. */
  readonly queueDeadline: number
}

interface Entry {
  readonly waiter: QueueWaiter
  timer: NodeJS.Timeout | undefined
  readonly since: number
}

export class RequestQueue {
  private entries: Entry[] = []
  /** Highest number of waiters seen at once. */
  max = 0
  total = 0

  constructor(
    private readonly limit: number,
    /** How long a request may wait, from its first entry into the queue. */
    readonly timeoutMs: number,
  ) {}

  get length(): number {
    return this.entries.length
  }

  /** Requests waiting in data-plane workers' queues of this backend (set on the control plane). */
  waitingElsewhere = 0

  /** Requests waiting here and in the workers: what the views show. */
  get waiting(): number {
    return this.entries.length + this.waitingElsewhere
  }

  /**
   * Adds a waiter that may wait until `deadline` (epoch ms; a waiter that re-queues keeps its first deadline).
   * False when the queue is full (the caller answers 503).
   */
  push(waiter: QueueWaiter, deadline: number, front = false): boolean {
    if (this.entries.length >= this.limit) return false
    const entry: Entry = { waiter, timer: undefined, since: Date.now() }
    entry.timer = setTimeout(() => this.expire(entry), Math.max(0, deadline - entry.since))
    entry.timer.unref?.()
    if (front) this.entries.unshift(entry)
    else this.entries.push(entry)
    this.total++
    if (this.entries.length > this.max) this.max = this.entries.length
    return true
  }

  /** Wakes the oldest waiter, if any. Returns whether one was woken. */
  wakeOne(): boolean {
    const entry = this.entries.shift()
    if (entry === undefined) return false
    clearTimeout(entry.timer)
    entry.waiter.wake()
    return true
  }

  /** Removes a waiter that no longer waits (its client went away). */
  remove(waiter: QueueWaiter): void {
    const index = this.entries.findIndex((e) => e.waiter === waiter)
    if (index < 0) return
    clearTimeout(this.entries[index]!.timer)
    this.entries.splice(index, 1)
  }

  /** Takes over every waiter of `other` (a reload replaced its backend), keeping their order and deadlines. */
  adopt(other: RequestQueue, rebind: (waiter: QueueWaiter) => void): void {
    const entries = other.entries
    other.entries = []
    for (const entry of entries) {
      clearTimeout(entry.timer)
      rebind(entry.waiter)
      const deadline = (entry.waiter as Partial<Deadlined>).queueDeadline ?? Date.now() + this.timeoutMs
      if (!this.push(entry.waiter, deadline)) entry.waiter.expire()
    }
  }

  /** Ends every wait at once (shutdown or backend removed): each waiter's expire() runs. */
  expireAll(): void {
    const entries = this.entries
    this.entries = []
    for (const entry of entries) {
      clearTimeout(entry.timer)
      entry.waiter.expire()
    }
  }

  private expire(entry: Entry): void {
    const index = this.entries.indexOf(entry)
    if (index < 0) return
    this.entries.splice(index, 1)
    entry.waiter.expire()
  }
}
