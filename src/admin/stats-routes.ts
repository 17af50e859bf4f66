/**
 * The stats endpoints of the admin listener (docs/stats.md): the page, its data as JSON, the same rows as CSV,
 * and /metrics when the balancer provides it.
 */
import { STATS_PAGE } from '../stats/page/stats-page.js'
import type { RateLookup } from '../stats/request-rates.js'
import { statsCsv } from '../stats/stats-csv.js'
import { statsDocument } from '../stats/stats-document.js'
import { statsRows } from '../stats/stats-rows.js'
import { ok, textReply } from './admin-reply.js'
import type { AdminRoute } from './admin-router.js'
import type { BalancerControl } from './balancer-control.js'

/** What `/metrics` serves (the Prometheus text, rendered on each scrape). */
export interface MetricsEndpoint {
  readonly path: string
  render(): Promise<{ readonly contentType: string; readonly body: string }>
}

export function statsRoutes(control: BalancerControl, rates: RateLookup): AdminRoute[] {
  return [
    { path: '/stats', open: true, methods: { GET: () => textReply('text/html; charset=utf-8', STATS_PAGE.html, STATS_PAGE.headers) } },
    { path: '/stats.json', methods: { GET: () => ok(statsDocument(control.state(), rates, Date.now())) } },
    {
      path: '/stats.csv',
      methods: { GET: () => textReply('text/csv; charset=utf-8; header=present', statsCsv(statsRows(control.state(), rates, Date.now()))) },
    },
  ]
}

export function metricsRoute(metrics: MetricsEndpoint): AdminRoute {
  return {
    path: metrics.path,
    methods: {
      GET: async () => {
        const { contentType, body } = await metrics.render()
        return textReply(contentType, body)
      },
    },
  }
}
