/** One key of the shared state as this balancer knows it: the parsed value and the revisions etcd gave it. */
export interface MirrorEntry {
  readonly value: unknown
  readonly modRevision: number
  readonly createRevision: number
  readonly lease: string | undefined
}

interface LocalValue {
  value: unknown
  /** Counts local changes, so that a write that lands knows whether a newer one is waiting. */
  generation: number
}

/**
 * The local copy of every key under the cluster prefix (keys relative to it). Committed entries only ever move
 * forward: a change older than what is known (a late watch event, the echo of our own write) is ignored, which
 * makes the copy the same whatever the order in which watch events, transaction results and full reads arrive.
 * Deletions leave a tombstone with their revision for the same reason.
 *
 * On top, local values: items this balancer changed and is still writing (a running release's service state
 * and record). Readers see the local value until the write lands, so that a remote change of another key
 * applied meanwhile cannot roll the release's own state back.
 */
export class SharedMirror {
  private readonly committed = new Map<string, MirrorEntry>()
  private readonly tombstones = new Map<string, number>()
  private readonly local = new Map<string, LocalValue>()
  /** The newest store revision seen (a full read, a transaction, a watch event). */
  revision = 0

  /** The committed entry (what etcd has, as far as we know). */
  entry(key: string): MirrorEntry | undefined {
    return this.committed.get(key)
  }

  /** What this balancer acts on: its own value while writing it, else the committed one. */
  value(key: string): unknown {
    const local = this.local.get(key)
    return local !== undefined ? local.value : this.committed.get(key)?.value
  }

  isLocal(key: string): boolean {
    return this.local.has(key)
  }

  /** Every key with a value (local values included), relative to the prefix. */
  keys(): string[] {
    return [...new Set([...this.committed.keys(), ...this.local.keys()])].filter((key) => this.value(key) !== undefined)
  }

  /**
   * A committed change: `entry` (or a deletion, undefined) as of `revision`. Returns false, changing nothing,
   * when the copy already holds that revision or a newer one.
   */
  observe(key: string, entry: MirrorEntry | undefined, revision: number): boolean {
    this.revision = Math.max(this.revision, revision)
    const known = this.committed.get(key)?.modRevision ?? this.tombstones.get(key) ?? 0
    if (revision <= known) return false
    if (entry === undefined) {
      this.committed.delete(key)
      this.tombstones.set(key, revision)
    } else {
      this.committed.set(key, entry)
      this.tombstones.delete(key)
    }
    return true
  }

  /**
   * A full read made at `revision`: the copy becomes exactly it (keys missing from it were deleted). Returns the
   * keys whose committed value changed, with the value before.
   */
  replaceAll(entries: ReadonlyMap<string, MirrorEntry>, revision: number): Map<string, unknown> {
    const changed = new Map<string, unknown>()
    for (const [key, entry] of this.committed) {
      if (!entries.has(key)) {
        changed.set(key, entry.value)
        this.committed.delete(key)
        this.tombstones.set(key, revision)
      }
    }
    for (const [key, entry] of entries) {
      const before = this.committed.get(key)
      if (before === undefined || before.modRevision !== entry.modRevision) changed.set(key, before?.value)
      this.committed.set(key, entry)
      this.tombstones.delete(key)
    }
    this.revision = Math.max(this.revision, revision)
    return changed
  }

  /** This balancer changed an item and will write it: readers see `value` from now on. Returns its generation. */
  setLocal(key: string, value: unknown): number {
    const local = this.local.get(key)
    const generation = (local?.generation ?? 0) + 1
    this.local.set(key, { value, generation })
    return generation
  }

  /** The local value and its generation (undefined when nothing is being written). */
  localValue(key: string): LocalValue | undefined {
    const local = this.local.get(key)
    return local === undefined ? undefined : { ...local }
  }

  /** The write of local generation `generation` landed at `revision`; the local value goes unless a newer one waits. */
  settle(key: string, generation: number, entry: MirrorEntry): void {
    this.observe(key, entry, entry.modRevision)
    if (this.local.get(key)?.generation === generation) this.local.delete(key)
  }
}
