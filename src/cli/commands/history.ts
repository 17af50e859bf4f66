/** `switchyard history SERVICE` and `switchyard report DEPLOYMENT`: past releases and one release's timeline. */
import type { DeploymentRecord } from '../../deploy/deployment-record.js'
import { formatHistory, formatReport } from '../../deploy/format-report.js'
import { AdminClient, reportFailure, resolveAdminTarget, type AdminOptions } from '../admin-client.js'

export async function historyCommand(service: string, opts: AdminOptions): Promise<number> {
  try {
    const client = new AdminClient(await resolveAdminTarget(opts))
    const { deployments } = await client.get<{ deployments: DeploymentRecord[] }>(`/api/v1/deployments?service=${encodeURIComponent(service)}`)
    process.stdout.write(formatHistory(deployments))
    return 0
  } catch (err) {
    return reportFailure(err)
  }
}

export async function reportCommand(id: string, opts: AdminOptions): Promise<number> {
  try {
    const client = new AdminClient(await resolveAdminTarget(opts))
    process.stdout.write(formatReport(await client.get<DeploymentRecord>(`/api/v1/deployments/${encodeURIComponent(id)}`)))
    return 0
  } catch (err) {
    return reportFailure(err)
  }
}
