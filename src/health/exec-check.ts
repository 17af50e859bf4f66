import { spawn } from 'node:child_process'
import { attempt, describeError } from './check-attempt.js'
import type { CheckResult, CheckTarget, HealthCheck } from './health-check.js'

/** Output kept for the result's detail (its last line): enough for an error message, bounded whatever the command prints. */
const MAX_OUTPUT = 4096
/** After the command exits, how long to wait for its output pipes to close (a background child may hold them). */
const OUTPUT_GRACE_MS = 100

/**
 * Runs `command` with /bin/sh -c; exit status 0 passes. The server is in the environment as
 * SWITCHYARD_SERVER_HOST, SWITCHYARD_SERVER_PORT and SWITCHYARD_SERVER_NAME. The command runs in its own process
 * group, which is killed (SIGKILL) at the timeout or on abort, so that nothing it started outlives the check.
 */
export class ExecCheck implements HealthCheck {
  constructor(
    private readonly timeoutMs: number,
    private readonly command: string,
  ) {}

  run(target: CheckTarget, signal: AbortSignal): Promise<CheckResult> {
    return attempt(this.timeoutMs, signal, (settle) => {
      const child = spawn('/bin/sh', ['-c', this.command], {
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          SWITCHYARD_SERVER_HOST: target.host,
          SWITCHYARD_SERVER_PORT: String(target.port),
          SWITCHYARD_SERVER_NAME: target.name,
        },
      })
      let output = ''
      const keep = (chunk: Buffer): void => {
        output = (output + chunk.toString('utf8')).slice(-MAX_OUTPUT)
      }
      child.stdout.on('data', keep)
      child.stderr.on('data', keep)

      let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined
      let grace: NodeJS.Timeout | undefined
      let released = false
      const decide = (): void => {
        if (exit === undefined) return
        const { code, signal: killedBy } = exit
        if (code === 0) return settle(true, 'exit 0', 0)
        const last = output.trim().split('\n').pop()?.trim().slice(0, 200) ?? ''
        const what = code === null ? `killed by ${killedBy ?? 'a signal'}` : `exit ${code}`
        settle(false, last === '' ? what : `${what}: ${last}`, code ?? undefined)
      }
      child.once('exit', (code, killedBy) => {
        if (released) return
        exit = { code, signal: killedBy }
        grace = setTimeout(decide, OUTPUT_GRACE_MS)
      })
      child.once('close', decide)
      child.on('error', (err) => settle(false, describeError(err)))

      return () => {
        released = true
        clearTimeout(grace)
        killGroup(child.pid)
        child.stdout.destroy()
        child.stderr.destroy()
      }
    })
  }
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return
  try {
    process.kill(-pid, 'SIGKILL')
  } catch {
    // ESRCH: the group is already gone.
  }
}
