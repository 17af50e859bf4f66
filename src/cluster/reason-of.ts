import { SwitchyardError } from '../errors.js'

/** The short reason of a failure, for logs and the cluster view (a SwitchyardError's `reason`, else the message). */
export function reasonOf(err: unknown): string {
  if (err instanceof SwitchyardError && typeof err.params.reason === 'string') return err.params.reason
  return err instanceof Error ? err.message : String(err)
}
