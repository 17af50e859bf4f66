import type { BackendView, FrontendView, ServerView, StateView, TrafficView } from '../admin/balancer-control.js'
import type { RateLookup } from './request-rates.js'
import { rowKey, type StatsField, type StatsRow, type StatsValue } from './stats-fields.js'

/**
 * The rows of /stats.csv and /stats.json, built from the state view: for each frontend one row, for each backend
 * one row followed by a row per server. Pure: `now` and the rates are passed in.
 */
export function statsRows(state: StateView, rates: RateLookup, now: number): StatsRow[] {
  const rows: StatsRow[] = state.frontends.map((f) => frontendRow(f, rates))
  for (const backend of state.backends) {
    rows.push(backendRow(backend, rates))
    for (const server of backend.servers) rows.push(serverRow(server, rates, now))
  }
  return rows
}

/** Cumulative request counters by row key, for the rate meter. */
export function requestCounts(state: StateView): Map<string, number> {
  const counts = new Map<string, number>()
  for (const f of state.frontends) if (f.traffic !== undefined) counts.set(rowKey('frontend', f.name, 'FRONTEND'), f.traffic.requests)
  for (const b of state.backends) {
    counts.set(rowKey('backend', b.name, 'BACKEND'), sum(b.servers, (s) => s.requests))
    for (const s of b.servers) counts.set(rowKey('server', b.name, s.name), s.requests)
  }
  return counts
}

const EMPTY: StatsRow = {
  pxname: null, svname: null, type: null, status: null, admin: null, health: null, addr: null, release: null,
  weight: null, uweight: null, act: null, bck: null, qcur: null, qmax: null, qlimit: null, scur: null, smax: null,
  slim: null, stot: null, rate: null, rate_max: null, bin: null, bout: null, ereq: null, econ: null, eresp: null,
  wretr: null, hrsp_1xx: null, hrsp_2xx: null, hrsp_3xx: null, hrsp_4xx: null, hrsp_5xx: null, chkfail: null,
  chkdown: null, downtime: null, lastchg: null, check_status: null, check_code: null, check_duration: null,
  check_desc: null, throttle: null,
}

function row(values: Partial<Record<StatsField, StatsValue>>): StatsRow {
  return { ...EMPTY, ...values }
}

function frontendRow(f: FrontendView, rates: RateLookup): StatsRow {
  const rate = rates.rate(rowKey('frontend', f.name, 'FRONTEND'))
  return row({
    pxname: f.name,
    svname: 'FRONTEND',
    type: 'frontend',
    status: 'OPEN',
    addr: f.listen.join(' '),
    scur: f.active,
    rate: rate?.current ?? null,
    rate_max: rate?.max ?? null,
    ...(f.traffic === undefined ? {} : { smax: f.traffic.max_active, stot: f.traffic.requests, ereq: f.traffic.request_errors, ...bytesAndCodes(f.traffic) }),
  })
}

function backendRow(b: BackendView, rates: RateLookup): StatsRow {
  const rate = rates.rate(rowKey('backend', b.name, 'BACKEND'))
  const up = b.servers.filter((s) => s.state === 'UP')
  const traffic = b.servers.flatMap((s) => (s.traffic === undefined ? [] : [s.traffic]))
  return row({
    pxname: b.name,
    svname: 'BACKEND',
    type: 'backend',
    status: up.length > 0 ? 'UP' : 'DOWN',
    weight: sum(up, (s) => s.effective_weight),
    uweight: sum(up, (s) => s.weight),
    act: up.filter((s) => !s.backup).length,
    bck: up.filter((s) => s.backup).length,
    qcur: b.queue.current,
    qmax: b.queue.max,
    qlimit: b.queue.limit,
    scur: sum(b.servers, (s) => s.active),
    stot: sum(b.servers, (s) => s.requests),
    rate: rate?.current ?? null,
    rate_max: rate?.max ?? null,
    wretr: b.retries,
    ...(traffic.length === 0
      ? {}
      : {
          bin: sum(traffic, (t) => t.bytes_in),
          bout: sum(traffic, (t) => t.bytes_out),
          econ: sum(traffic, (t) => t.connection_errors),
          eresp: sum(traffic, (t) => t.response_errors),
          hrsp_1xx: sum(traffic, (t) => t.responses['1xx']),
          hrsp_2xx: sum(traffic, (t) => t.responses['2xx']),
          hrsp_3xx: sum(traffic, (t) => t.responses['3xx']),
          hrsp_4xx: sum(traffic, (t) => t.responses['4xx']),
          hrsp_5xx: sum(traffic, (t) => t.responses['5xx']),
        }),
  })
}

function serverRow(s: ServerView, rates: RateLookup, now: number): StatsRow {
  const rate = rates.rate(rowKey('server', s.backend, s.name))
  const check = s.last_check
  return row({
    pxname: s.backend,
    svname: s.name,
    type: 'server',
    status: s.state,
    admin: s.admin,
    health: s.health,
    addr: s.address,
    release: s.release,
    weight: s.effective_weight,
    uweight: s.weight,
    act: s.backup ? 0 : 1,
    bck: s.backup ? 1 : 0,
    scur: s.active,
    slim: s.max_connections === 0 ? null : s.max_connections,
    stot: s.requests,
    rate: rate?.current ?? null,
    rate_max: rate?.max ?? null,
    lastchg: Math.max(0, Math.round((now - s.last_change) / 1000)),
    check_status: check === null ? null : check.ok ? 'ok' : 'failed',
    check_code: check?.code ?? null,
    check_duration: check === null ? null : Math.round(check.duration_ms),
    check_desc: check?.detail ?? null,
    // Slow start: the share of its weight the server gets while it ramps up (empty when not throttled).
    throttle: s.state === 'UP' && s.weight > 0 && s.effective_weight < s.weight ? Math.round((100 * s.effective_weight) / s.weight) : null,
    chkfail: s.check_counts?.failures ?? null,
    chkdown: s.down_transitions ?? null,
    downtime: s.downtime_ms === undefined ? null : Math.round(s.downtime_ms / 1000),
    ...(s.traffic === undefined
      ? {}
      : { smax: s.traffic.max_active, econ: s.traffic.connection_errors, eresp: s.traffic.response_errors, ...bytesAndCodes(s.traffic) }),
  })
}

function bytesAndCodes(t: TrafficView): Partial<Record<StatsField, number>> {
  return {
    bin: t.bytes_in,
    bout: t.bytes_out,
    hrsp_1xx: t.responses['1xx'],
    hrsp_2xx: t.responses['2xx'],
    hrsp_3xx: t.responses['3xx'],
    hrsp_4xx: t.responses['4xx'],
    hrsp_5xx: t.responses['5xx'],
  }
}

function sum<T>(items: readonly T[], value: (item: T) => number): number {
  let total = 0
  for (const item of items) total += value(item)
  return total
}
