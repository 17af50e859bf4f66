/** `switchyard pause|resume|promote|abort DEPLOYMENT`: steers a release and prints its status after the change. */
import type { DeploymentRecord } from '../../deploy/deployment-record.js'
import { AdminClient, reportFailure, resolveAdminTarget, type AdminOptions } from '../admin-client.js'
import { inProgress } from '../deployment-figures.js'

export type SteerAction = 'pause' | 'resume' | 'promote' | 'abort'

export async function steerCommand(action: SteerAction, id: string, opts: AdminOptions): Promise<number> {
  try {
    const client = new AdminClient(await resolveAdminTarget(opts))
    const record = await client.post<DeploymentRecord>(`/api/v1/deployments/${encodeURIComponent(id)}/${action}`)
    // An abort answers at once; putting the previous release back takes the release's own steps.
    const note = action === 'abort' && inProgress(record.status) ? ' (aborting: the previous release is being restored)' : ''
    process.stdout.write(`${record.id}: ${record.status}${note}\n`)
    return 0
  } catch (err) {
    return reportFailure(err)
  }
}
