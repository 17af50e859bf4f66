/**
 * Traffic counters of one frontend or server, for the stats page and /metrics. Plain numbers bumped on the
 * request path and read only when someone looks (a scrape, a stats refresh): nothing is computed per request.
 */
export class TrafficStats {
  requests = 0
  /** Request body bytes received from clients / sent to servers. */
  bytesIn = 0
  /** Response body bytes sent to clients / received from servers. */
  bytesOut = 0
  /** Requests the balancer refused itself (400, 404, 408, 413, 431 on a frontend). */
  requestErrors = 0
  /** Attempts that could not connect (a server). */
  connectionErrors = 0
  /** Attempts that failed after connecting: reset, empty or invalid answer, timeout (a server). */
  responseErrors = 0
  /** Highest number of requests in flight at once. */
  maxActive = 0
  /** Answers by status (100-599), per frontend name ('' when not split). */
  readonly codes = new Map<string, Float64Array>()

  countStatus(frontend: string, status: number): void {
    let counts = this.codes.get(frontend)
    if (counts === undefined) {
      counts = new Float64Array(600)
      this.codes.set(frontend, counts)
    }
    if (status >= 100 && status < 600) counts[status]!++
  }

  /** Adds `count` answers of `status` (counts gathered elsewhere, e.g. by a data-plane worker). */
  addStatus(frontend: string, status: number, count: number): void {
    let counts = this.codes.get(frontend)
    if (counts === undefined) {
      counts = new Float64Array(600)
      this.codes.set(frontend, counts)
    }
    if (status >= 100 && status < 600) counts[status]! += count
  }

  /** Answers of one class (1-5) over every frontend. */
  statusClass(klass: number): number {
    let total = 0
    for (const counts of this.codes.values()) for (let s = klass * 100; s < klass * 100 + 100; s++) total += counts[s]!
    return total
  }
}
