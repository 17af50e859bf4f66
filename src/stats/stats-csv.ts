import { STATS_FIELDS, type StatsRow, type StatsValue } from './stats-fields.js'

/** RFC 4180 text: a header line of the field names, then one line per row; every line has every field. */
export function statsCsv(rows: readonly StatsRow[]): string {
  const lines = [STATS_FIELDS.join(',')]
  for (const row of rows) lines.push(STATS_FIELDS.map((field) => cell(row[field])).join(','))
  return `${lines.join('\r\n')}\r\n`
}

function cell(value: StatsValue): string {
  if (value === null) return ''
  const text = String(value)
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text
}
