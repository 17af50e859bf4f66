/**
 * `switchyard ha role`: the VRRP role of a balancer, from its admin API (`--admin URL` or `-c FILE`; works for
 * the peer too) or straight from its role file (`--state-dir DIR`, no balancer needed). With `--wait-for ROLE`
 * it returns once the role is reached (exit 1 after `--timeout`): the step "wait until the peer is MASTER" of an
 * upgrade.
 */
import type { StateView } from '../../admin/balancer-control.js'
import { formatDuration, parseDuration } from '../../config/units.js'
import { readRole, roleFilePath, UNKNOWN_ROLE, VRRP_ROLES, type HaView } from '../../ha/role-file.js'
import { AdminClient, reportFailure, resolveAdminTarget, UsageError, type AdminOptions } from '../admin-client.js'

export interface HaRoleOptions extends AdminOptions {
  readonly stateDir?: string
  readonly waitFor?: string
  readonly timeout: string
  readonly json?: boolean
}

const POLL_MS = 200

export async function haRoleCommand(opts: HaRoleOptions): Promise<number> {
  try {
    const timeoutMs = parseDuration(opts.timeout)
    if (timeoutMs === undefined) throw new UsageError(`--timeout '${opts.timeout}' is not a duration (write it like 30s)`)
    const wanted = opts.waitFor === undefined ? undefined : VRRP_ROLES.find((r) => r.toLowerCase() === opts.waitFor!.toLowerCase())
    if (opts.waitFor !== undefined && wanted === undefined) throw new UsageError(`--wait-for must be one of ${VRRP_ROLES.join(', ')}, got '${opts.waitFor}'`)
    const read = await reader(opts)
    const deadline = Date.now() + timeoutMs
    let view = await read()
    while (wanted !== undefined && view.role !== wanted && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, POLL_MS))
      view = await read()
    }
    process.stdout.write(opts.json === true ? `${JSON.stringify(view)}\n` : `${describe(view)}\n`)
    if (wanted !== undefined && view.role !== wanted) {
      process.stderr.write(`still ${view.role} after ${formatDuration(timeoutMs)}, not ${wanted}\n`)
      return 1
    }
    return 0
  } catch (err) {
    return reportFailure(err)
  }
}

async function reader(opts: HaRoleOptions): Promise<() => Promise<HaView>> {
  if (opts.stateDir !== undefined) {
    const file = roleFilePath(opts.stateDir)
    return async () => (await readRole(file)).view
  }
  const client = new AdminClient(await resolveAdminTarget(opts))
  // A balancer of a version without HA support has no `ha` field: its role is unknown.
  return async () => (await client.get<StateView>('/api/v1/state')).ha ?? UNKNOWN_ROLE
}

function describe(view: HaView): string {
  if (view.since === null) return view.role
  const ago = formatDuration(Math.max(0, Math.round((Date.now() - view.since) / 1000)) * 1000)
  return `${view.role} since ${new Date(view.since).toISOString()} (${ago} ago)`
}
