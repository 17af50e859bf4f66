/**
 * Following a deployment: poll its record until it ends, showing each one, and print the summary. Ctrl-C stops
 * only the following; the release runs in the balancer and goes on, so the way to steer it is printed instead.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { DeploymentRecord } from '../deploy/deployment-record.js'
import { isSwitchyardError } from '../errors.js'
import type { AdminClient } from './admin-client.js'
import { createDisplay, type DeploymentDisplay } from './deployment-display.js'
import { headline, inProgress, summaryLines } from './deployment-figures.js'

export const POLL_INTERVAL_MS = 250
/** A balancer busy with a release (or restarting) may miss a few polls; only a longer silence ends the following. */
const UNREACHABLE_GRACE_MS = 10_000
/** The conventional exit code after Ctrl-C (128 + SIGINT). */
export const EXIT_INTERRUPTED = 130

/** `deploy` and `rollback` after their POST: the id alone with --no-wait, else follow to the end. */
export async function followOrPrintId(client: AdminClient, record: DeploymentRecord, wait: boolean): Promise<number> {
  if (!wait) {
    process.stdout.write(`${record.id}\n`)
    return 0
  }
  process.stdout.write(`${headline(record)}\n`)
  const display = await createDisplay()
  const interrupt = new AbortController()
  const onSigint = (): void => interrupt.abort()
  process.once('SIGINT', onSigint)
  let last = record
  try {
    last = await follow(client, record, display, interrupt.signal)
  } catch (err) {
    display.close()
    process.stderr.write(`lost track of ${record.id}; it may still be running: switchyard report ${record.id}\n`)
    throw err
  } finally {
    process.off('SIGINT', onSigint)
  }
  display.close()
  if (inProgress(last.status)) {
    process.stdout.write(detachedLines(last).join('\n') + '\n')
    return EXIT_INTERRUPTED
  }
  process.stdout.write(summaryLines(last).join('\n') + '\n')
  return last.status === 'succeeded' ? 0 : 1
}

/** Polls until the deployment ended or `stop` fired; returns the last record seen. */
export async function follow(client: AdminClient, first: DeploymentRecord, display: DeploymentDisplay, stop: AbortSignal): Promise<DeploymentRecord> {
  const path = `/api/v1/deployments/${encodeURIComponent(first.id)}`
  let record = first
  let unreachableSince: number | undefined
  display.show(record)
  while (inProgress(record.status) && !stop.aborted) {
    try {
      await sleep(POLL_INTERVAL_MS, undefined, { signal: stop })
    } catch {
      break
    }
    try {
      record = await client.get<DeploymentRecord>(path)
      unreachableSince = undefined
    } catch (err) {
      if (!isSwitchyardError(err, 'SY_ERR_ADMIN_UNREACHABLE')) throw err
      unreachableSince ??= Date.now()
      if (Date.now() - unreachableSince > UNREACHABLE_GRACE_MS) throw err
      continue
    }
    display.show(record)
  }
  return record
}

function detachedLines(record: DeploymentRecord): string[] {
  return [
    `Stopped following ${record.id}: the release goes on in the balancer (${record.status}).`,
    `  stop it and go back:  switchyard abort ${record.id}`,
    `  pause it:             switchyard pause ${record.id}`,
    `  see how it went:      switchyard report ${record.id}`,
  ]
}
