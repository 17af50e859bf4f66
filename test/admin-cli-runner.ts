/** The real CLI (dist/src/cli/main.js) as a child process, for the tests of the admin commands. */
import { spawn, type ChildProcess } from 'node:child_process'
import { CLI, ROOT } from './helpers/balancer.js'

export interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

export interface RunningCli {
  readonly child: ChildProcess
  stdout(): string
  readonly done: Promise<Run>
}

/**
 * Starts `switchyard ARGS` with pipes (so stdout is not a terminal) and without the caller's SWITCHYARD_TOKEN,
 * so that a test decides which token is sent.
 */
export function startCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): RunningCli {
  const base = { ...process.env }
  delete base.SWITCHYARD_TOKEN
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...base, NO_COLOR: '1', ...env } })
  let stdout = ''
  let stderr = ''
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const done = new Promise<Run>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
  return { child, stdout: () => stdout, done }
}

export function cli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return startCli(args, env).done
}
