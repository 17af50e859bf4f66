/** `switchyard weight BACKEND/SERVER N`: changes a server's weight live. */
import type { ServerView } from '../../admin/balancer-control.js'
import { AdminClient, reportFailure, resolveAdminTarget, serverPath, UsageError, type AdminOptions } from '../admin-client.js'

export async function weightCommand(target: string, weight: string, opts: AdminOptions): Promise<number> {
  try {
    const path = serverPath(target)
    if (!/^\d{1,3}$/.test(weight) || Number(weight) > 256) throw new UsageError(`weight must be a whole number from 0 to 256, got '${weight}'`)
    const client = new AdminClient(await resolveAdminTarget(opts))
    const view = await client.post<ServerView>(path, { weight: Number(weight) })
    process.stdout.write(`${target}: weight ${view.weight}, state ${view.state}\n`)
    return 0
  } catch (err) {
    return reportFailure(err)
  }
}
