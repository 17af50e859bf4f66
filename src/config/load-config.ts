/**
 * Reads a configuration file into a validated, normalised and deeply frozen snapshot. Every problem found is
 * reported at once, each with its line and column: YAML errors, environment references, schema issues,
 * cross-references and features this version does not support yet.
 */
import { readFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { LineCounter, parseDocument } from 'yaml'
import { formatMessage, SwitchyardError } from '../errors.js'
import { checkConfigFiles, readProblem, resolveConfigFiles } from './config-files.js'
import { interpolateEnv, type OffsetProblem } from './interpolate-env.js'
import { findNotYetSupported } from './not-yet-supported.js'
import { configSchema, type Config } from './schema.js'
import { validateReferences } from './validate-references.js'
import { resolveHealthSettings } from '../health/health-defaults.js'
import type { PathProblem } from './path-problem.js'
import type { PathSegment } from './path-problem.js'
import { locate } from './yaml-locate.js'
import { hasSyntaxErrors, yamlProblems } from './yaml-problems.js'
import { issuesToProblems, readableMessage } from './zod-issues.js'

export interface ConfigProblem {
  file: string
  /** 1-based */
  line: number
  /** 1-based */
  col: number
  message: string
}

export class ConfigError extends SwitchyardError {
  /** Sorted by line, then column. */
  readonly problems: ConfigProblem[]

  constructor(problems: readonly ConfigProblem[]) {
    const sorted = [...problems].sort((a, b) => a.line - b.line || a.col - b.col)
    const count = sorted.length
    super('SY_ERR_CONFIG_INVALID', { count }, { message: `${formatMessage('SY_ERR_CONFIG_INVALID', { count })}:\n${formatProblems(sorted)}` })
    this.name = 'ConfigError'
    this.problems = sorted
  }

  /** One `FILE:LINE:COL: message` line per problem. */
  format(): string {
    return formatProblems(this.problems)
  }
}

function formatProblems(problems: readonly ConfigProblem[]): string {
  return problems.map((p) => `${p.file}:${p.line}:${p.col}: ${p.message}`).join('\n')
}

/**
 * Parses configuration text; pure apart from reading `env` and the files it names (certificates, keys, CA
 * bundles), whose paths are resolved against the folder of `file`. Throws ConfigError listing every problem.
 */
export function parseConfigText(text: string, file: string, env: NodeJS.ProcessEnv = process.env): Config {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true })
  const toProblem = ({ offset, message }: OffsetProblem): ConfigProblem => {
    const { line, col } = lineCounter.linePos(offset)
    return { file, line, col, message }
  }
  const found: OffsetProblem[] = yamlProblems(doc, (offset) => lineCounter.linePos(offset).line)
  if (hasSyntaxErrors(doc)) throw new ConfigError(found.map(toProblem))

  const interpolation = interpolateEnv(doc, env)
  found.push(...interpolation.problems)

  let raw: unknown
  try {
    raw = doc.toJS({ maxAliasCount: 100 })
  } catch (err) {
    found.push({ offset: 0, message: `invalid YAML: ${err instanceof Error ? err.message : String(err)}` })
    throw new ConfigError(unique(found.map(toProblem)))
  }
  if (raw === null || raw === undefined) {
    found.push({ offset: 0, message: 'the file is empty; a configuration needs at least frontends: and backends:' })
    throw new ConfigError(found.map(toProblem))
  }

  const parsed = configSchema.safeParse(raw, { error: readableMessage })
  if (parsed.success) resolveConfigFiles(parsed.data, dirname(resolve(file)))
  const pathProblems = [
    ...(parsed.success ? [] : issuesToProblems(parsed.error.issues, raw)),
    ...validateReferences(raw),
    ...findNotYetSupported(raw),
    ...(parsed.success ? healthProblems(parsed.data) : []),
    ...(parsed.success ? checkConfigFiles(parsed.data) : []),
  ]
  for (const problem of pathProblems) {
    if (interpolation.failedPaths.some((failed) => startsWith(problem.path, failed))) continue
    found.push({ offset: locate(doc, problem.path, problem.at), message: problem.message })
  }
  if (found.length > 0 || !parsed.success) throw new ConfigError(unique(found.map(toProblem)))
  return deepFreeze(parsed.data)
}

/** Reads and parses a configuration file. A file that cannot be read throws SY_ERR_CONFIG_READ. */
export async function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw new SwitchyardError('SY_ERR_CONFIG_READ', { file, reason: readProblem(err) }, { cause: err })
  }
  return parseConfigText(text, file, env)
}

function startsWith(path: readonly PathSegment[], head: readonly PathSegment[]): boolean {
  return head.length <= path.length && head.every((segment, i) => segment === path[i])
}

function unique(problems: readonly ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>()
  return problems.filter((p) => {
    const key = `${p.line}:${p.col}:${p.message}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const child of Object.values(value)) deepFreeze(child)
  }
  return value
}

/** Health settings the schema accepts but that cannot work (a bad expect_status, an exec check without a command). */
function healthProblems(config: Config): PathProblem[] {
  const problems: PathProblem[] = []
  for (const [name, backend] of Object.entries(config.backends)) {
    try {
      resolveHealthSettings(backend.health)
    } catch (err) {
      problems.push({ path: ['backends', name, 'health'], at: 'key', message: `backends.${name}.health: ${err instanceof Error ? err.message : String(err)}` })
    }
  }
  return problems
}
