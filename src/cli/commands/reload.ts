/** `switchyard reload`: asks the running balancer to re-read its configuration file. */
import { AdminApiError, AdminClient, reportFailure, resolveAdminTarget, type AdminOptions } from '../admin-client.js'

/** Reloading validates the whole file and builds the next runtime; allow it more than a plain request. */
const RELOAD_TIMEOUT_MS = 60_000

export async function reloadCommand(opts: AdminOptions): Promise<number> {
  try {
    const client = new AdminClient(await resolveAdminTarget(opts))
    await client.post<{ reloaded: boolean }>('/api/v1/reload', undefined, { timeoutMs: RELOAD_TIMEOUT_MS })
    process.stdout.write('reloaded\n')
    return 0
  } catch (err) {
    const code = reportFailure(err)
    if (err instanceof AdminApiError && err.code.startsWith('SY_ERR_CONFIG')) {
      process.stderr.write('reload refused: the running configuration is unchanged\n')
    }
    return code
  }
}
