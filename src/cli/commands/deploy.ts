/** `switchyard deploy SERVICE --version V` and `switchyard rollback SERVICE`: start a release, then follow it. */
import type { DeploymentRecord } from '../../deploy/deployment-record.js'
import { AdminClient, reportFailure, resolveAdminTarget, type AdminOptions } from '../admin-client.js'
import { followOrPrintId } from '../follow-deployment.js'

export interface DeployOptions extends AdminOptions {
  readonly version: string
  readonly strategy?: string
  /** False with --no-wait. */
  readonly wait: boolean
}

export async function deployCommand(service: string, opts: DeployOptions): Promise<number> {
  try {
    const client = new AdminClient(await resolveAdminTarget(opts))
    const body = { service, version: opts.version, ...(opts.strategy === undefined ? {} : { strategy: opts.strategy }) }
    const record = await client.post<DeploymentRecord>('/api/v1/deployments', body)
    return await followOrPrintId(client, record, opts.wait)
  } catch (err) {
    return reportFailure(err)
  }
}

export async function rollbackCommand(service: string, opts: AdminOptions & { wait: boolean }): Promise<number> {
  try {
    const client = new AdminClient(await resolveAdminTarget(opts))
    const record = await client.post<DeploymentRecord>(`/api/v1/services/${encodeURIComponent(service)}/rollback`)
    return await followOrPrintId(client, record, opts.wait)
  } catch (err) {
    return reportFailure(err)
  }
}
