/**
 * Runs one provider command (a static deploy_command, an exec start/stop_command) with /bin/sh -c in its own
 * process group: the group is killed with SIGKILL at the timeout or on abort, so that nothing the command started
 * outlives a failed attempt. A command that succeeds may leave background processes behind on purpose (an exec
 * start_command that launches a server): after it exits only its output pipes are closed, nothing is killed.
 */
import { spawn } from 'node:child_process'
import { signalGroup } from './process-group.js'

export interface CommandOptions {
  readonly timeoutMs: number
  readonly signal?: AbortSignal | undefined
  /** Added to (and overriding) the balancer's own environment. */
  readonly env?: Readonly<Record<string, string>> | undefined
  readonly cwd?: string | undefined
}

export interface CommandOutput {
  /** Standard output (its last 64 KiB). */
  readonly stdout: string
  /** Standard output and error as they arrived (their last 8 KiB). */
  readonly output: string
}

export type CommandFailure = 'exit' | 'timeout' | 'aborted' | 'spawn'

/** Why a command failed; `output` holds its last lines. */
export class CommandError extends Error {
  constructor(
    message: string,
    readonly failure: CommandFailure,
    readonly exitCode: number | null,
    readonly output: string,
  ) {
    super(message)
    this.name = 'CommandError'
  }
}

const MAX_STDOUT = 64 * 1024
const MAX_OUTPUT = 8 * 1024
/** Lines of output quoted in an error message. */
const QUOTED_LINES = 5
/** After the command exits, how long to wait for its pipes to close (a background child may hold them open). */
const OUTPUT_GRACE_MS = 100

/** The last `count` non-empty lines of `text`. */
export function lastLines(text: string, count: number): string[] {
  return text
    .split('\n')
    .map((line) => line.trimEnd())
    .filter((line) => line.trim() !== '')
    .slice(-count)
}

/** Runs `command`; resolves with its output when it exits 0, rejects with a CommandError naming `what` otherwise. */
export function runCommand(command: string, what: string, options: CommandOptions): Promise<CommandOutput> {
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted === true) {
      reject(new CommandError(`${what} was aborted before it started`, 'aborted', null, ''))
      return
    }
    const child = spawn('/bin/sh', ['-c', command], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
    })
    let stdout = ''
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => {
      stdout = (stdout + chunk.toString('utf8')).slice(-MAX_STDOUT)
      output = (output + chunk.toString('utf8')).slice(-MAX_OUTPUT)
    })
    child.stderr.on('data', (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-MAX_OUTPUT)
    })

    let settled = false
    let grace: NodeJS.Timeout | undefined
    const finish = (failure?: CommandFailure, message?: string, exitCode: number | null = null): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      clearTimeout(grace)
      options.signal?.removeEventListener('abort', onAbort)
      child.stdout.destroy()
      child.stderr.destroy()
      if (failure === undefined) return resolve({ stdout, output })
      const quoted = lastLines(output, QUOTED_LINES)
      const full = quoted.length === 0 ? `${message} (no output)` : `${message}; last output:\n${quoted.join('\n')}`
      reject(new CommandError(full, failure, exitCode, output))
    }
    const kill = (failure: CommandFailure, message: string): void => {
      if (child.pid !== undefined) signalGroup(child.pid, 'SIGKILL')
      finish(failure, message)
    }

    const timer = setTimeout(() => kill('timeout', `${what} timed out after ${options.timeoutMs} ms and was killed`), options.timeoutMs)
    const onAbort = (): void => kill('aborted', `${what} was aborted and killed`)
    options.signal?.addEventListener('abort', onAbort, { once: true })

    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined
    const decide = (): void => {
      if (exit === undefined) return
      const { code, signal } = exit
      if (code === 0) return finish()
      finish('exit', code === null ? `${what} was killed by ${signal ?? 'a signal'}` : `${what} failed with exit code ${code}`, code)
    }
    child.once('exit', (code, signal) => {
      exit = { code, signal }
      grace = setTimeout(decide, OUTPUT_GRACE_MS)
    })
    child.once('close', decide)
    child.once('error', (err) => finish('spawn', `${what} could not be started: ${err.message}`))
  })
}
