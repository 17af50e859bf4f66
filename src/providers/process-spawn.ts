/**
 * Spawns one instance of a process-provider service: `/bin/sh -c command` as the leader of its own process group,
 * detached (a kill -9 of the balancer leaves it running, to be adopted later), output appended to its log file.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { appendFileSync, closeSync, mkdirSync, openSync, readSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { ProviderConfig } from '../config/schema.js'
import { lastLines } from './command.js'
import { signalGroup } from './process-group.js'
import { renderShellCommand, renderTemplate, type TemplateValues } from './template.js'

export type ProcessProviderConfig = Extract<ProviderConfig, { type: 'process' }>

/** Everything that makes an instance what it is; a restart reuses it unchanged. */
export interface InstanceSpec {
  readonly service: string
  readonly id: string
  readonly version: string
  /** 1-based number within its release. */
  readonly index: number
  /** Where it listens (HOST). */
  readonly host: string
  readonly port: number
}

export interface SpawnedInstance {
  readonly child: ChildProcess
  readonly logPath: string
  /** Size of the log before this start: what follows is this run's output. */
  readonly logOffset: number
}

export function instanceLogPath(stateDir: string, service: string, id: string): string {
  return join(stateDir, 'logs', service, `${id}.log`)
}

/** Appends one line of Switchyard's own to an instance's log (starts and ends, between the app's lines). */
export function appendLogLine(logPath: string, text: string): void {
  try {
    appendFileSync(logPath, `[switchyard ${new Date().toISOString()}] ${text}\n`)
  } catch {
    // A log line is not worth failing a start or a stop for.
  }
}

/** The last `maxBytes` of what the log got since `offset`. */
export function readLogSince(logPath: string, offset: number, maxBytes = 4096): string {
  let fd: number | undefined
  try {
    fd = openSync(logPath, 'r')
    const size = statSync(logPath).size
    const from = Math.max(offset, size - maxBytes)
    const buffer = Buffer.alloc(Math.max(0, size - from))
    readSync(fd, buffer, 0, buffer.length, from)
    return buffer.toString('utf8')
  } catch {
    return ''
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

function templateValues(spec: InstanceSpec): TemplateValues {
  return { version: spec.version, port: spec.port, instance: spec.index, service: spec.service, id: spec.id, host: spec.host }
}

/**
 * Starts the process. Throws for a command or env value that cannot be templated; a failure of spawn itself
 * (e.g. a missing cwd) arrives as the child's 'error' event, with `child.pid` undefined.
 */
/**
 * The balancer's environment for an application instance, less the admin token: the apps behind the balancer
 * must not be able to steer it. (Commands the operator configures - hooks, deploy and exec commands - keep it.)
 */
function withoutAdminToken(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { SWITCHYARD_TOKEN: _token, ...rest } = env
  return rest
}

export function spawnInstance(spec: InstanceSpec, config: ProcessProviderConfig, stateDir: string): SpawnedInstance {
  const values = templateValues(spec)
  const what = `service ${spec.service}`
  const command = renderShellCommand(config.command, values, `${what}: command`)
  const env: Record<string, string> = {
    ...withoutAdminToken(process.env),
    PORT: String(spec.port),
    HOST: spec.host,
    SWITCHYARD_SERVICE: spec.service,
    SWITCHYARD_VERSION: spec.version,
    SWITCHYARD_INSTANCE: String(spec.index),
    SWITCHYARD_INSTANCE_ID: spec.id,
  }
  for (const [name, value] of Object.entries(config.env)) env[name] = renderTemplate(value, values, `${what}: env ${name}`)

  const logPath = instanceLogPath(stateDir, spec.service, spec.id)
  mkdirSync(join(stateDir, 'logs', spec.service), { recursive: true })
  const fd = openSync(logPath, 'a')
  try {
    const logOffset = statSync(logPath).size
    const child = spawn('/bin/sh', ['-c', command], {
      cwd: config.cwd ?? process.cwd(),
      env,
      detached: true,
      stdio: ['ignore', fd, fd],
    })
    // The balancer must be able to exit (or be killed) without waiting for its instances.
    child.unref()
    if (child.pid !== undefined) appendLogLine(logPath, `started ${spec.id} (version ${spec.version}, ${spec.host}:${spec.port}) as pid ${child.pid}`)
    return { child, logPath, logOffset }
  } finally {
    // The child has its own copy of the descriptor.
    closeSync(fd)
  }
}

/** An instance that ended (or could not start) within its first moments; `output` is what it logged meanwhile. */
export class EarlyExitError extends Error {
  constructor(
    message: string,
    readonly output: string,
  ) {
    super(message)
    this.name = 'EarlyExitError'
  }

  /** Whether it failed because its port was taken meanwhile (worth another try on another port). */
  get portInUse(): boolean {
    return /EADDRINUSE|address already in use/i.test(this.output)
  }
}

/**
 * Resolves once the instance has run for `windowMs`; rejects if it exits or fails to spawn before, or on abort
 * (then its group is killed). Readiness is not checked here: that is the health checks' business.
 */
export function waitPastStart(spawned: SpawnedInstance, windowMs: number, signal: AbortSignal, what: string): Promise<void> {
  const { child } = spawned
  return new Promise((resolve, reject) => {
    const done = (err?: Error): void => {
      clearTimeout(timer)
      child.off('exit', onExit)
      child.off('error', onError)
      signal.removeEventListener('abort', onAbort)
      if (err === undefined) resolve()
      else reject(err)
    }
    const fail = (reason: string): void => {
      // Whatever it started must not linger and keep the port.
      if (child.pid !== undefined) signalGroup(child.pid, 'SIGKILL')
      const output = readLogSince(spawned.logPath, spawned.logOffset)
      const tail = lastLines(output, 5).join('\n')
      done(new EarlyExitError(`${what} ${reason}${tail === '' ? '' : `; its log (${spawned.logPath}) ends with:\n${tail}`}`, output))
    }
    const onExit = (code: number | null, killedBy: NodeJS.Signals | null): void =>
      fail(code === null ? `was killed by ${killedBy ?? 'a signal'} right after it started` : `exited right after it started, with exit code ${code}`)
    const onError = (err: Error): void => fail(`could not be started: ${err.message}`)
    const onAbort = (): void => {
      if (child.pid !== undefined) signalGroup(child.pid, 'SIGKILL')
      done(new Error(`${what}: start aborted`))
    }
    const timer = setTimeout(() => done(), windowMs)
    child.once('exit', onExit)
    child.once('error', onError)
    if (signal.aborted) onAbort()
    else signal.addEventListener('abort', onAbort, { once: true })
  })
}
