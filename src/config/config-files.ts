/**
 * Files a configuration names (certificates, keys, CA bundles): their paths are made absolute against the
 * configuration file's folder, and each is read and parsed when the file is loaded, so that `check` and a reload
 * report a missing or broken certificate at its line instead of the balancer failing on it later.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { isAbsolute, resolve } from 'node:path'
import { createSecureContext } from 'node:tls'
import type { PathProblem, PathSegment } from './path-problem.js'
import type { Config } from './schema.js'

type FileKind = 'cert' | 'key' | 'ca'

interface FileRef {
  readonly path: readonly PathSegment[]
  readonly kind: FileKind
  readonly file: string
  /** Writes a new path into the (not yet frozen) configuration. */
  readonly set: (file: string) => void
}

interface PairRef {
  readonly cert: FileRef
  readonly key: FileRef
}

function fileRefs(config: Config): { files: FileRef[]; pairs: PairRef[] } {
  const files: FileRef[] = []
  const pairs: PairRef[] = []
  const ref = <T extends object, K extends keyof T & string>(owner: T, key: K, path: PathSegment[], kind: FileKind): FileRef | undefined => {
    const file = owner[key]
    if (typeof file !== 'string') return undefined
    const found: FileRef = { path: [...path, key], kind, file, set: (value) => ((owner as Record<string, unknown>)[key] = value) }
    files.push(found)
    return found
  }
  const pair = <T extends { cert: string; key: string }>(owner: T, path: PathSegment[]): void => {
    const cert = ref(owner, 'cert', path, 'cert')
    const key = ref(owner, 'key', path, 'key')
    if (cert !== undefined && key !== undefined) pairs.push({ cert, key })
  }
  for (const [name, frontend] of Object.entries(config.frontends)) {
    if (frontend.tls === undefined) continue
    pair(frontend.tls, ['frontends', name, 'tls'])
    frontend.tls.certificates.forEach((c, i) => pair(c, ['frontends', name, 'tls', 'certificates', i]))
  }
  for (const [name, backend] of Object.entries(config.backends)) {
    if (backend.tls !== undefined) ref(backend.tls, 'ca', ['backends', name, 'tls'], 'ca')
    if (backend.health !== undefined) ref(backend.health, 'ca', ['backends', name, 'health'], 'ca')
  }
  return { files, pairs }
}

/** Makes every file path absolute against `baseDir` (mutates: call before the configuration is frozen). */
export function resolveConfigFiles(config: Config, baseDir: string): void {
  for (const ref of fileRefs(config).files) if (!isAbsolute(ref.file)) ref.set(resolve(baseDir, ref.file))
}

/** Reads and parses every file; one problem per file that is missing or not what its key expects. */
export function checkConfigFiles(config: Config): PathProblem[] {
  const problems: PathProblem[] = []
  const { files, pairs } = fileRefs(config)
  const contents = new Map<FileRef, Buffer>()
  for (const ref of files) {
    let data: Buffer
    try {
      data = readFileSync(ref.file)
    } catch (err) {
      problems.push({ path: ref.path, at: 'value', message: `cannot read ${ref.file}: ${readProblem(err)}` })
      continue
    }
    const problem = parseProblem(ref.kind, data)
    if (problem !== undefined) problems.push({ path: ref.path, at: 'value', message: `${ref.file}: ${problem}` })
    else contents.set(ref, data)
  }
  for (const { cert, key } of pairs) {
    const certData = contents.get(cert)
    const keyData = contents.get(key)
    if (certData === undefined || keyData === undefined) continue
    try {
      createSecureContext({ cert: certData, key: keyData })
    } catch (err) {
      problems.push({ path: key.path, at: 'value', message: `${key.file} does not go with ${cert.file}: ${messageOf(err)}` })
    }
  }
  return problems
}

function parseProblem(kind: FileKind, data: Buffer): string | undefined {
  try {
    if (kind === 'key') createPrivateKey(data)
    else if (!data.includes('-----BEGIN CERTIFICATE-----')) return 'not a PEM certificate (no BEGIN CERTIFICATE block)'
    else new X509Certificate(data)
    return undefined
  } catch (err) {
    return `not a valid ${kind === 'key' ? 'private key' : 'certificate'} (${messageOf(err)})`
  }
}

/** Why a file could not be read, in words. */
export function readProblem(err: unknown): string {
  const code = typeof err === 'object' && err !== null && 'code' in err ? err.code : undefined
  if (code === 'ENOENT') return 'no such file'
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied'
  if (code === 'EISDIR') return 'it is a directory'
  return messageOf(err)
}

/** OpenSSL's own words without its error-code prefix ("key values mismatch"). */
function messageOf(err: unknown): string {
  const reason = (err as { reason?: unknown } | undefined)?.reason
  if (typeof reason === 'string' && reason !== '') return reason
  return err instanceof Error ? err.message : String(err)
}
