/** `switchyard status`: frontends, backends and their servers as a table, or the state JSON with `--json`. */
import type { BackendView, ServerView, StateView } from '../../admin/balancer-control.js'
import { AdminClient, reportFailure, resolveAdminTarget, type AdminOptions } from '../admin-client.js'

export async function statusCommand(opts: AdminOptions & { json?: boolean }): Promise<number> {
  try {
    const client = new AdminClient(await resolveAdminTarget(opts))
    const state = await client.get<StateView>('/api/v1/state')
    process.stdout.write(opts.json === true ? `${JSON.stringify(state, null, 2)}\n` : formatState(state))
    return 0
  } catch (err) {
    return reportFailure(err)
  }
}

export function formatState(state: StateView): string {
  const frontends = table(
    ['FRONTEND', 'MODE', 'LISTEN', 'ACTIVE'],
    state.frontends.map((f) => [f.name, f.mode, f.listen.join(','), String(f.active)]),
  )
  return [frontends, ...state.backends.map(formatBackend)].join('\n')
}

function formatBackend(backend: BackendView): string {
  const { current, limit } = backend.queue
  const title = `backend ${backend.name} (${backend.balance}, queue ${current}/${limit})\n`
  if (backend.servers.length === 0) return `${title}  (no servers)\n`
  const rows = backend.servers.map((s) => [
    s.name,
    s.address,
    s.state,
    s.admin,
    s.health,
    weight(s),
    String(s.active),
    String(s.requests),
    s.backup ? 'backup' : '',
  ])
  return title + table(['SERVER', 'ADDRESS', 'STATE', 'ADMIN', 'HEALTH', 'WEIGHT', 'ACTIVE', 'REQUESTS', ''], rows, '  ')
}

/** "3", or "1/3" while slow start ramps the effective weight up to the configured one. */
function weight(s: ServerView): string {
  return s.effective_weight === s.weight ? String(s.weight) : `${s.effective_weight}/${s.weight}`
}

function table(header: readonly string[], rows: readonly (readonly string[])[], indent = ''): string {
  const all = [header, ...rows]
  const widths = header.map((_, col) => Math.max(...all.map((row) => displayWidth(row[col] ?? ''))))
  return all
    .map((row) => indent + row.map((cell, col) => cell + ' '.repeat(widths[col]! - displayWidth(cell))).join('  ').trimEnd())
    .join('\n')
    .concat('\n')
}

/** Terminal columns: Hangul, CJK and full-width forms take two, so that Korean server names stay aligned. */
function displayWidth(text: string): number {
  let width = 0
  for (const ch of text) width += /[\u1100-\u115F\u2E80-\uA4CF\uAC00-\uD7A3\uF900-\uFAFF\uFE30-\uFE4F\uFF00-\uFF60\uFFE0-\uFFE6]/u.test(ch) ? 2 : 1
  return width
}
