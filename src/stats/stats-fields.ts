/**
 * The stable field list of /stats.csv and /stats.json (docs/stats.md describes each). Fields are only ever added
 * at the end, so that a script reading columns by position keeps working.
 */
export const STATS_FIELDS = [
  'pxname',
  'svname',
  'type',
  'status',
  'admin',
  'health',
  'addr',
  'release',
  'weight',
  'uweight',
  'act',
  'bck',
  'qcur',
  'qmax',
  'qlimit',
  'scur',
  'smax',
  'slim',
  'stot',
  'rate',
  'rate_max',
  'bin',
  'bout',
  'ereq',
  'econ',
  'eresp',
  'wretr',
  'hrsp_1xx',
  'hrsp_2xx',
  'hrsp_3xx',
  'hrsp_4xx',
  'hrsp_5xx',
  'chkfail',
  'chkdown',
  'downtime',
  'lastchg',
  'check_status',
  'check_code',
  'check_duration',
  'check_desc',
  'throttle',
] as const

export type StatsField = (typeof STATS_FIELDS)[number]

/** null: the figure does not apply to this kind of row, or is not known (an empty CSV cell). */
export type StatsValue = string | number | null

export type StatsRow = Readonly<Record<StatsField, StatsValue>>

export type RowType = 'frontend' | 'backend' | 'server'

/** How rows are named in the rate meter (and nowhere else): one key per frontend, backend and server. */
export function rowKey(type: RowType, pxname: string, svname: string): string {
  return `${type}\u0000${pxname}\u0000${svname}`
}
