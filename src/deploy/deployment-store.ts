import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'
import { z } from 'zod'
import { StateFile } from '../runtime/state-file.js'
import type { DeploymentRecord } from './deployment-record.js'

const sampleSchema = z.object({ requests: z.number(), errors: z.number(), p50_ms: z.number(), p99_ms: z.number() })

const recordSchema = z.object({
  id: z.string(),
  service: z.string(),
  // JSON drops `from: undefined` (a first release), so the key may be missing.
  from: z.string().optional(),
  to: z.string(),
  strategy: z.string(),
  status: z.enum(['running', 'paused', 'succeeded', 'failed', 'rolled_back', 'aborted', 'interrupted']),
  started_at: z.number(),
  ended_at: z.number().optional(),
  error: z.string().optional(),
  steps: z.array(
    z.object({
      kind: z.string(),
      detail: z.string(),
      started_at: z.number(),
      ended_at: z.number().optional(),
      result: z.enum(['ok', 'failed']).optional(),
      error: z.string().optional(),
    }),
  ),
  timeline: z.array(z.object({ t: z.number(), releases: z.record(z.string(), sampleSchema), instances: z.record(z.string(), z.number()) })),
  start_instances: z.number().optional(),
  summary: z
    .object({
      duration_ms: z.number(),
      requests: z.number(),
      errors: z.number(),
      peak_instances: z.number(),
      extra_instances: z.number(),
      extra_instance_seconds: z.number(),
    })
    .optional(),
})

/** Validates a stored record; throws (with zod's message) when the shape is wrong. */
export function parseDeploymentRecord(data: unknown): DeploymentRecord {
  const result = recordSchema.safeParse(data)
  if (!result.success) {
    // One short line for the problem report rather than zod's JSON dump of every issue.
    const issues = result.error.issues.map((issue) => `${issue.path.join('.') || 'record'}: ${issue.message}`)
    throw new Error(issues.length > 3 ? `${issues.slice(0, 3).join('; ')}; ...` : issues.join('; '))
  }
  return { ...result.data, from: result.data.from }
}

/** Ids become file names: letters, digits, dot, dash and underscore, not starting with a dot. */
const ID_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/

export interface DeploymentStoreOptions {
  /** Told about unreadable files (each message names the file); default: process.emitWarning. */
  readonly onProblem?: (message: string) => void
  /** Epoch ms, for ids. */
  readonly now?: () => number
  /** Told of every record saved (a cluster shares it with the other balancers). */
  readonly onSaved?: (record: DeploymentRecord) => void
}

interface Pending {
  record: DeploymentRecord
  readonly promise: Promise<void>
  readonly resolve: () => void
  readonly reject: (err: unknown) => void
}

interface Slot {
  readonly file: StateFile<DeploymentRecord>
  writing: boolean
  pending: Pending | undefined
  /** The write in flight, if any (for flushed()). */
  inFlight: Promise<void> | undefined
}

/**
 * Deployment records, one durable file each: `<stateDir>/deployments/<id>.json` (written through StateFile, so
 * a crash mid-write leaves the previous copy). Saves of one id are coalesced: at most one write is in flight and
 * at most one waits, holding the latest record, so a release saving every second never builds a queue.
 */
export class DeploymentStore {
  readonly dir: string
  private readonly onProblem: (message: string) => void
  private readonly now: () => number
  private readonly onSaved: ((record: DeploymentRecord) => void) | undefined
  private readonly slots = new Map<string, Slot>()
  private readonly issued = new Set<string>()

  constructor(stateDir: string, options: DeploymentStoreOptions = {}) {
    this.dir = path.join(path.resolve(stateDir), 'deployments')
    this.onProblem = options.onProblem ?? ((message) => process.emitWarning(message))
    this.now = options.now ?? Date.now
    this.onSaved = options.onSaved
  }

  /**
   * Saves the record durably. Resolves once data at least as new as this call's is on disk; rejects when that
   * write fails. A call made while a write is in flight waits and replaces any save waiting before it.
   */
  save(record: DeploymentRecord): Promise<void> {
    this.onSaved?.(record)
    let slot: Slot
    try {
      slot = this.slot(record.id)
    } catch (err) {
      return Promise.reject(err)
    }
    if (!slot.writing) return this.write(slot, record)
    if (slot.pending !== undefined) {
      slot.pending.record = record
      return slot.pending.promise
    }
    let resolve!: () => void
    let reject!: (err: unknown) => void
    const promise = new Promise<void>((res, rej) => {
      resolve = res
      reject = rej
    })
    slot.pending = { record, promise, resolve, reject }
    return promise
  }

  /** Saves synchronously (at exit); supersedes every earlier save(), and resolves the one waiting. */
  saveSync(record: DeploymentRecord): void {
    this.onSaved?.(record)
    const slot = this.slot(record.id)
    slot.file.saveSync(record)
    const pending = slot.pending
    slot.pending = undefined
    pending?.resolve()
  }

  /** The record, or undefined when there is none or it is unreadable (reported). */
  async get(id: string): Promise<DeploymentRecord | undefined> {
    if (!ID_PATTERN.test(id)) return undefined
    return this.slot(id).file.load()
  }

  /** Every readable record (of one service, if given), newest first. Unreadable files are reported and skipped. */
  async list(service?: string): Promise<DeploymentRecord[]> {
    let names: string[]
    try {
      names = await fsp.readdir(this.dir)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw err
    }
    const records: DeploymentRecord[] = []
    for (const name of names) {
      if (!name.endsWith('.json')) continue // also skips `.json.prev` copies and temporary files
      const id = name.slice(0, -'.json'.length)
      if (!ID_PATTERN.test(id)) continue
      const record = await this.get(id)
      if (record !== undefined && (service === undefined || record.service === service)) records.push(record)
    }
    return records.sort((a, b) => b.started_at - a.started_at || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
  }

  /** A new id that sorts by time within a service, e.g. `app-20261121-213000-a3f` (UTC). */
  newId(service: string): string {
    const stamp = new Date(this.now()).toISOString() // 2026-11-21T21:30:00.000Z
    const time = `${stamp.slice(0, 10).replaceAll('-', '')}-${stamp.slice(11, 19).replaceAll(':', '')}`
    const prefix = `${service.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^\./, '-')}-${time}-`
    for (;;) {
      const id = prefix + randomBytes(2).toString('hex').slice(0, 3)
      if (this.issued.has(id) || fs.existsSync(this.fileOf(id))) continue
      this.issued.add(id)
      return id
    }
  }

  /**
   * At start: a deployment still 'running' or 'paused' on disk was cut short by a crash. Each becomes
   * 'interrupted' (saved) and is returned, newest first, so that resume or rollback can be offered.
   */
  async markInterrupted(): Promise<DeploymentRecord[]> {
    const interrupted: DeploymentRecord[] = []
    for (const record of await this.list()) {
      if (record.status !== 'running' && record.status !== 'paused') continue
      record.status = 'interrupted'
      await this.save(record)
      interrupted.push(record)
    }
    return interrupted
  }

  /** Resolves once every save called so far has been written (or has failed: save() callers hear of that). */
  async flushed(): Promise<void> {
    await Promise.all([...this.slots.values()].map((slot) => (slot.pending?.promise ?? slot.inFlight)?.catch(() => undefined)))
  }

  private write(slot: Slot, record: DeploymentRecord): Promise<void> {
    slot.writing = true
    const done = slot.file.save(record)
    slot.inFlight = done
    void done
      .catch(() => undefined)
      .then(() => {
        slot.writing = false
        slot.inFlight = undefined
        const next = slot.pending
        slot.pending = undefined
        if (next !== undefined) this.write(slot, next.record).then(next.resolve, next.reject)
      })
    return done
  }

  private slot(id: string): Slot {
    if (!ID_PATTERN.test(id)) throw new Error(`invalid deployment id ${JSON.stringify(id)}`)
    let slot = this.slots.get(id)
    if (slot === undefined) {
      // One StateFile per id for the store's lifetime: it tracks its own writes in flight and bad copies.
      const file = new StateFile<DeploymentRecord>(this.fileOf(id), { validate: parseDeploymentRecord, onProblem: this.onProblem })
      slot = { file, writing: false, pending: undefined, inFlight: undefined }
      this.slots.set(id, slot)
    }
    return slot
  }

  private fileOf(id: string): string {
    return path.join(this.dir, `${id}.json`)
  }
}
