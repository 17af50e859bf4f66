import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { parseConfigText } from '../../src/config/load-config.js'
import { LoadBalancer } from '../../src/load-balancer.js'

/** The project root (tests run from it: dist/test/... -> ../../..). */
export const ROOT = new URL('../../../', import.meta.url).pathname
export const CLI = join(ROOT, 'dist/src/cli/main.js')

export function tempDir(prefix = 'switchyard-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

/** A balancer in this process, from YAML text (ports 0 are fine: read them from lb.addresses()). */
export async function startBalancer(yaml: string): Promise<LoadBalancer & { url: (frontend?: string) => string }> {
  // A file in a fresh folder: `reload` can read it again, and `state_dir` lands there, not in the project.
  const configFile = join(tempDir(), 'switchyard.yaml')
  writeFileSync(configFile, yaml)
  const config = parseConfigText(yaml, configFile, {})
  const lb = await LoadBalancer.start(config, { configFile })
  return Object.assign(lb, {
    url: (frontend = 'web') => {
      const a = lb.addresses(frontend)[0]!
      return `http://${a.host}:${a.port}`
    },
  })
}

export interface BalancerProcess {
  readonly proc: ChildProcess
  readonly configFile: string
  /** Frontend name -> "host:port" list, from the "ready" log line. */
  readonly frontends: Record<string, string[]>
  readonly admin: string
  /** Every log line so far, parsed. */
  readonly lines: Record<string, unknown>[]
  /** Every line of standard output so far, as text (JSON or not). */
  readonly rawLines: string[]
  url(frontend?: string): string
  /** Resolves with the exit code. */
  readonly exited: Promise<number | null>
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

/** `switchyard run -c FILE` as a real child process; resolves once it logged "ready". */
export async function startBalancerProcess(yaml: string, env: NodeJS.ProcessEnv = {}, options: { dir?: string } = {}): Promise<BalancerProcess> {
  const dir = options.dir ?? tempDir()
  const configFile = join(dir, 'switchyard.yaml')
  writeFileSync(configFile, yaml)
  const proc = spawn(process.execPath, [CLI, 'run', '-c', configFile], {
    cwd: dir,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: Record<string, unknown>[] = []
  const rawLines: string[] = []
  let stderr = ''
  proc.stderr!.on('data', (c: Buffer) => (stderr += c.toString()))
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)))
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const rl = createInterface({ input: proc.stdout! })
    rl.on('line', (line) => {
      rawLines.push(line)
      try {
        const entry = JSON.parse(line) as Record<string, unknown>
        lines.push(entry)
        if (entry.event === 'ready') resolve(entry)
      } catch {
        // not a log line
      }
    })
    void exited.then((code) => reject(new Error(`balancer exited with ${code} before ready: ${stderr}`)))
  })
  const frontends = ready.frontends as Record<string, string[]>
  return {
    proc,
    configFile,
    frontends,
    admin: ready.admin as string,
    lines,
    rawLines,
    url: (frontend = 'web') => `http://${frontends[frontend]![0]}`,
    exited,
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (proc.exitCode === null) proc.kill(signal)
      return exited
    },
  }
}

/** One admin API call to a balancer process with the bearer `token`: the status and the parsed JSON answer. */
export async function adminCall(lb: BalancerProcess, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`http://${lb.admin}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  return { status: res.status, json: await res.json() }
}
