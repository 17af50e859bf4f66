/**
 * The balancer's view of its VRRP role: it follows STATE_DIR/vrrp-role, which keepalived's notify script
 * rewrites on every transition (role-file.ts). fs.watch on the folder sees the atomic rename at once; a slow poll
 * backs it up where watching is unavailable or misses an event (network filesystems, a folder created later).
 * Nothing here can fail the balancer: a missing or bad file reads as `unknown`.
 */
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import type { Logger } from '../log.js'
import { readRole, ROLE_FILE, roleFilePath, UNKNOWN_ROLE, type HaView } from './role-file.js'

export interface VrrpRoleWatcherOptions {
  readonly log?: Logger
  /** Called when the role changes (not for the first read). */
  readonly onChange?: (view: HaView) => void
  /** Period of the fallback poll (default 5 s). */
  readonly pollMs?: number
}

const DEFAULT_POLL_MS = 5000

export class VrrpRoleWatcher {
  readonly file: string
  private current: HaView = UNKNOWN_ROLE
  private watcher: fs.FSWatcher | undefined
  private timer: NodeJS.Timeout | undefined
  private reading: Promise<void> | undefined
  private readAgain = false
  private lastProblem: string | undefined
  private closed = false

  constructor(
    readonly stateDir: string,
    private readonly options: VrrpRoleWatcherOptions = {},
  ) {
    this.file = roleFilePath(stateDir)
  }

  view(): HaView {
    return this.current
  }

  /**
   * Creates the state folder when missing, reads the file once and starts following it; resolves after the first
   * read. The folder is made here, at start, because keepalived (started after the balancer) can set up its track
   * file only in an existing folder - otherwise it drops the track file, and `ha yield` would do nothing.
   */
  async start(): Promise<void> {
    await fsp.mkdir(this.stateDir, { recursive: true }).catch((err: Error) => this.options.log?.warn({ event: 'vrrp.no_state_dir', err }, `cannot create ${this.stateDir}`))
    this.watch()
    this.timer = setInterval(() => {
      this.watch()
      void this.refresh()
    }, this.options.pollMs ?? DEFAULT_POLL_MS)
    this.timer.unref()
    await this.refresh()
  }

  /** Reads the file now; reads never overlap, and a call during a read causes one more read after it. */
  refresh(): Promise<void> {
    if (this.reading !== undefined) {
      this.readAgain = true
      return this.reading
    }
    this.reading = (async () => {
      do {
        this.readAgain = false
        const { view, problem } = await readRole(this.file)
        if (this.closed) return
        this.apply(view, problem)
      } while (this.readAgain)
    })().finally(() => {
      this.reading = undefined
    })
    return this.reading
  }

  close(): void {
    this.closed = true
    clearInterval(this.timer)
    this.watcher?.close()
    this.watcher = undefined
  }

  private apply(view: HaView, problem: string | undefined): void {
    if (problem !== undefined && problem !== this.lastProblem) this.options.log?.warn({ event: 'vrrp.role_unreadable', file: this.file }, problem)
    this.lastProblem = problem
    const previous = this.current
    this.current = view
    if (view.role === previous.role) return
    this.options.log?.info({ event: 'vrrp.role', role: view.role, previous: previous.role, since: view.since }, `VRRP role ${view.role}`)
    this.options.onChange?.(view)
  }

  /** Watches the folder (the file itself is replaced by a rename, which would end a watch on it). */
  private watch(): void {
    if (this.watcher !== undefined || this.closed) return
    try {
      const watcher = fs.watch(this.stateDir, { persistent: false }, (_event, name) => {
        if (name === null || name === ROLE_FILE) void this.refresh()
      })
      // The folder was removed, say: drop the watch; the poll attaches a new one once the folder is back.
      watcher.on('error', () => {
        watcher.close()
        if (this.watcher === watcher) this.watcher = undefined
      })
      this.watcher = watcher
    } catch {
      // No folder yet (nothing was saved so far): the poll reads meanwhile and attaches later.
    }
  }
}
