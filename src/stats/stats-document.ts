import type { StateView } from '../admin/balancer-control.js'
import type { HaView } from '../ha/role-file.js'
import type { RateLookup } from './request-rates.js'
import { serviceStats, type ServiceStats } from './service-stats.js'
import { STATS_FIELDS, type StatsField, type StatsRow } from './stats-fields.js'
import { statsRows } from './stats-rows.js'

/** The body of /stats.json: the rows of /stats.csv as objects, plus the services (the page's release panels). */
export interface StatsDocument {
  /** Epoch ms. */
  readonly generated_at: number
  readonly fields: readonly StatsField[]
  readonly rows: StatsRow[]
  readonly services: ServiceStats[]
  /** The VRRP role (the page shows it as a badge when keepalived reports one). */
  readonly ha?: HaView
}

export function statsDocument(state: StateView, rates: RateLookup, now: number): StatsDocument {
  return { generated_at: now, fields: STATS_FIELDS, rows: statsRows(state, rates, now), services: serviceStats(state), ...(state.ha === undefined ? {} : { ha: state.ha }) }
}
