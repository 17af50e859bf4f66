// Hand-written on purpose: durability depends on the order of a few fs calls, and libraries such as
// write-file-atomic do not keep a previous copy.
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'

/** The envelope's format version; a file with another version is treated as unusable (and falls back). */
export const STATE_FILE_VERSION = 1

export interface StateEnvelope<T> {
  readonly version: typeof STATE_FILE_VERSION
  readonly saved_at: string
  readonly data: T
}

export interface StateFileOptions<T> {
  /**
   * Returns the data when it is valid, undefined when not. It may also throw: the error's message is then
   * included in the problem report (handy with a schema library's parse()).
   */
  readonly validate: (data: unknown) => T | undefined
  /** Told about every problem with the files on disk (each message names the file); default: process.emitWarning. */
  readonly onProblem?: (message: string) => void
}

type ReadResult<T> = { readonly ok: true; readonly data: T } | { readonly ok: false; readonly missing: boolean; readonly problem: string }

// Module-wide so that two instances in one process never pick the same temp name.
let tempCounter = 0

/**
 * A durable JSON state file. `save()` writes a temp file, fsyncs it, keeps the current file as `<path>.prev`
 * (hard link, so at every instant at least one complete copy exists), renames the temp file over `<path>` and
 * fsyncs the directory. `load()` never throws: a bad file is reported and the previous copy is used instead.
 * One writing process per file: `load()` removes every leftover temp file of this path.
 */
export class StateFile<T> {
  readonly path: string
  readonly prevPath: string
  private readonly dir: string
  private readonly tempPrefix: string
  private readonly validate: (data: unknown) => T | undefined
  private readonly onProblem: (message: string) => void
  private queue: Promise<void> = Promise.resolve()
  private syncSaves = 0
  // Set when load() found `path` unusable: it must then not replace the good previous copy.
  private currentIsBad = false
  private readonly tempsInFlight = new Set<string>()

  constructor(file: string, options: StateFileOptions<T>) {
    this.path = path.resolve(file)
    this.prevPath = `${this.path}.prev`
    this.dir = path.dirname(this.path)
    this.tempPrefix = `${path.basename(this.path)}.tmp-`
    this.validate = options.validate
    this.onProblem = options.onProblem ?? ((message) => process.emitWarning(message))
  }

  /** Saves atomically and durably. Calls are serialised in call order, so the last call's data wins. */
  save(data: T): Promise<void> {
    const syncSavesAtCall = this.syncSaves
    const run = this.queue.then(() => this.writeAsync(data, syncSavesAtCall))
    this.queue = run.catch(() => undefined)
    return run
  }

  /** The same as save(), synchronously (a final save at exit); it supersedes every save() called before it. */
  saveSync(data: T): void {
    this.syncSaves++
    const temp = this.nextTemp()
    try {
      fs.mkdirSync(this.dir, { recursive: true })
      const fd = fs.openSync(temp, 'wx')
      try {
        fs.writeFileSync(fd, this.serialise(data))
        fs.fsyncSync(fd)
      } finally {
        fs.closeSync(fd)
      }
      this.replaceWith(temp)
      fsyncDirSync(this.dir)
    } catch (err) {
      fs.rmSync(temp, { force: true })
      throw err
    }
  }

  /** The saved data; undefined when nothing was saved yet or no copy is usable. Never throws. */
  async load(): Promise<T | undefined> {
    await this.removeLeftoverTemps()
    const current = await this.read(this.path)
    if (current.ok) return current.data
    if (current.missing) return undefined
    this.currentIsBad = true
    const previous = await this.read(this.prevPath)
    if (previous.ok) {
      this.report(`${current.problem}; using the previous copy ${this.prevPath}`)
      return previous.data
    }
    this.report(`${current.problem}; no usable previous copy (${previous.problem}); starting with empty state`)
    return undefined
  }

  private async writeAsync(data: T, syncSavesAtCall: number): Promise<void> {
    const temp = this.nextTemp()
    this.tempsInFlight.add(temp)
    try {
      await fsp.mkdir(this.dir, { recursive: true })
      const handle = await fsp.open(temp, 'wx')
      try {
        await handle.writeFile(this.serialise(data))
        await handle.sync()
      } finally {
        await handle.close()
      }
      if (syncSavesAtCall !== this.syncSaves) {
        // A saveSync() called after this save() already wrote newer data.
        await fsp.rm(temp, { force: true })
        return
      }
      // Synchronous, so that no saveSync() can run between the check above and the rename.
      this.replaceWith(temp)
      await fsyncDir(this.dir)
    } catch (err) {
      await fsp.rm(temp, { force: true }).catch(() => undefined)
      throw err
    } finally {
      this.tempsInFlight.delete(temp)
    }
  }

  private replaceWith(temp: string): void {
    if (!this.currentIsBad) keepAsPrevious(this.path, this.prevPath)
    fs.renameSync(temp, this.path)
    this.currentIsBad = false
  }

  private nextTemp(): string {
    return path.join(this.dir, `${this.tempPrefix}${process.pid}-${++tempCounter}`)
  }

  private serialise(data: T): string {
    const envelope: StateEnvelope<T> = { version: STATE_FILE_VERSION, saved_at: new Date().toISOString(), data }
    return JSON.stringify(envelope, null, 2) + '\n'
  }

  private async read(file: string): Promise<ReadResult<T>> {
    const bad = (problem: string): ReadResult<T> => ({ ok: false, missing: false, problem: `state file ${file} ${problem}` })
    let text: string
    try {
      text = await fsp.readFile(file, 'utf8')
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return { ok: false, missing: true, problem: `state file ${file} does not exist` }
      return bad(`cannot be read (${errorMessage(err)})`)
    }
    let envelope: unknown
    try {
      envelope = JSON.parse(text)
    } catch (err) {
      return bad(`is truncated or not valid JSON (${errorMessage(err)})`)
    }
    if (!isRecord(envelope) || !('version' in envelope) || !('data' in envelope)) return bad('has no version/data envelope')
    if (envelope.version !== STATE_FILE_VERSION) {
      return bad(`has format version ${JSON.stringify(envelope.version)}; this Switchyard reads version ${STATE_FILE_VERSION}`)
    }
    try {
      const data = this.validate(envelope.data)
      return data === undefined ? bad('holds invalid data') : { ok: true, data }
    } catch (err) {
      return bad(`holds invalid data (${errorMessage(err)})`)
    }
  }

  private async removeLeftoverTemps(): Promise<void> {
    let names: string[]
    try {
      names = await fsp.readdir(this.dir)
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') this.report(`cannot list ${this.dir} for leftover temporary files (${errorMessage(err)})`)
      return
    }
    for (const name of names) {
      const file = path.join(this.dir, name)
      if (!name.startsWith(this.tempPrefix) || this.tempsInFlight.has(file)) continue
      await fsp.rm(file, { force: true }).catch((err: unknown) => {
        this.report(`cannot remove leftover temporary file ${file} (${errorMessage(err)})`)
      })
    }
  }

  private report(message: string): void {
    try {
      this.onProblem(message)
    } catch {
      // A failing problem handler must not turn a bad state file into a failed start.
    }
  }
}

/** Makes `prev` a second name of the current file (if any); `file` itself stays in place until it is replaced. */
function keepAsPrevious(file: string, prev: string): void {
  fs.rmSync(prev, { force: true })
  try {
    fs.linkSync(file, prev)
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return
    // File systems without hard links: a copy keeps the guarantee, as `file` is complete all along.
    fs.copyFileSync(file, prev)
  }
}

// Windows cannot open a directory for fsync, so there the rename is as durable as the file system makes it.
async function fsyncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return
  const handle = await fsp.open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

function fsyncDirSync(dir: string): void {
  if (process.platform === 'win32') return
  const fd = fs.openSync(dir, 'r')
  try {
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function errorCode(err: unknown): string | undefined {
  return isRecord(err) && typeof err.code === 'string' ? err.code : undefined
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
