/** `switchyard server BACKEND/SERVER ready|drain|maint [--wait]`: changes a server's admin state. */
import type { DrainOutcome, ServerView } from '../../admin/balancer-control.js'
import { formatDuration, parseDuration } from '../../config/units.js'
import { AdminClient, reportFailure, resolveAdminTarget, serverPath, UsageError, type AdminOptions } from '../admin-client.js'

/** Time allowed on top of the drain timeout for the answer itself to arrive. */
const ANSWER_MARGIN_MS = 15_000

export async function serverCommand(
  target: string,
  admin: string,
  opts: AdminOptions & { wait?: boolean; timeout: string },
): Promise<number> {
  try {
    const path = serverPath(target)
    const wait = opts.wait === true
    if (wait && admin !== 'drain') throw new UsageError('--wait applies only to drain')
    const timeoutMs = parseDuration(opts.timeout)
    if (timeoutMs === undefined) throw new UsageError(`--timeout '${opts.timeout}' is not a duration (write it like 30s or 2m)`)
    const client = new AdminClient(await resolveAdminTarget(opts))
    if (!wait) {
      const view = await client.post<ServerView>(path, { admin })
      process.stdout.write(`${target}: admin ${view.admin}, state ${view.state}, ${view.active} in flight\n`)
      return 0
    }
    const query = `?wait=1&timeout=${encodeURIComponent(formatDuration(timeoutMs))}`
    const view = await client.post<ServerView & { drain: DrainOutcome }>(path + query, { admin }, { timeoutMs: timeoutMs + ANSWER_MARGIN_MS })
    const waited = formatDuration(view.drain.waited_ms)
    if (!view.drain.drained) {
      process.stderr.write(`${target}: drain timed out after ${waited} with ${view.drain.active} request(s) still in flight\n`)
      return 1
    }
    process.stdout.write(`${target}: drained after ${waited}, state ${view.state}\n`)
    return 0
  } catch (err) {
    return reportFailure(err)
  }
}
