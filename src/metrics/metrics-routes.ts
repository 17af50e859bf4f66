import type { LoadBalancer } from '../load-balancer.js'
import { PrometheusMetrics } from './prometheus.js'

/** GET /metrics on the admin listener, without a token: what the admin router mounts. */
export interface MetricsRoute {
  readonly path: '/metrics'
  render(): Promise<{ contentType: string; body: string }>
}

export function metricsRoutes(lb: LoadBalancer): MetricsRoute {
  const metrics = new PrometheusMetrics(lb)
  return {
    path: '/metrics',
    render: async () => ({ contentType: metrics.contentType, body: await metrics.render() }),
  }
}
