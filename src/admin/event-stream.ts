import type http from 'node:http'
import type { BalancerEvent } from '../runtime/event-bus.js'
import type { AdminRoute } from './admin-router.js'
import type { EventFeed } from './balancer-control.js'

/** Proxies and idle-connection reapers close quiet connections; a comment line every so often keeps them open. */
export const DEFAULT_HEARTBEAT_MS = 15_000
/** A client that reads slower than events arrive is cut off rather than buffered without bound. */
const MAX_BUFFERED_BYTES = 1 << 20

/**
 * `GET /api/v1/events`: every event of the balancer as a server-sent event (`event: server|deployment|reload`,
 * `data:` the event's fields and `at`, in JSON), until the client goes away.
 */
export class EventStreams {
  private readonly open = new Set<http.ServerResponse>()

  constructor(
    private readonly feed: EventFeed | undefined,
    private readonly heartbeatMs = DEFAULT_HEARTBEAT_MS,
  ) {}

  route(): AdminRoute {
    return {
      path: '/api/v1/events',
      methods: {
        GET: () => ({
          status: 200,
          body: null,
          headers: { 'content-type': 'text/event-stream; charset=utf-8', 'x-accel-buffering': 'no' },
          stream: (res) => this.follow(res),
        }),
      },
    }
  }

  /** Streams being followed now (tests check that a client going away is cleaned up). */
  get size(): number {
    return this.open.size
  }

  closeAll(): void {
    for (const res of this.open) res.end()
  }

  private follow(res: http.ServerResponse): void {
    const send = (text: string): void => {
      if (res.destroyed || res.writableEnded) return
      if (res.writableLength > MAX_BUFFERED_BYTES) {
        res.destroy()
        return
      }
      res.write(text)
    }
    this.open.add(res)
    send('retry: 2000\n: connected\n\n')
    const unsubscribe = this.feed?.subscribe((event) => send(formatEvent(event))) ?? (() => undefined)
    const heartbeat = setInterval(() => send(': heartbeat\n\n'), this.heartbeatMs)
    heartbeat.unref()
    res.once('close', () => {
      clearInterval(heartbeat)
      unsubscribe()
      this.open.delete(res)
    })
  }
}

export function formatEvent(event: BalancerEvent): string {
  // JSON never contains a raw line break; the type is ours, but a line break in it would end the event early.
  return `event: ${event.type.replace(/[\r\n]/g, '')}\ndata: ${JSON.stringify({ ...event.data, at: event.at })}\n\n`
}
