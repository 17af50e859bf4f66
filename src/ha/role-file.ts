/**
 * The VRRP role file: keepalived's notify script (rendered by keepalived-config.ts) writes the state of this
 * host's keepalived instance into STATE_DIR/vrrp-role, and the balancer reads it (vrrp-role.ts). One word and a
 * newline, so that a shell script can test it too; the time of the change is the file's modification time
 * (the script replaces the file by a rename, so its mtime is when it was written).
 */
import fsp from 'node:fs/promises'
import { join } from 'node:path'

/** The states keepalived reports to a notify script for an instance. */
export const VRRP_STATES = ['MASTER', 'BACKUP', 'FAULT', 'STOP'] as const
export type VrrpState = (typeof VRRP_STATES)[number]
/** `unknown`: no notify seen yet (no keepalived, or it has not started), or a file we cannot read. */
export type VrrpRole = VrrpState | 'unknown'
export const VRRP_ROLES: readonly VrrpRole[] = [...VRRP_STATES, 'unknown']

export const ROLE_FILE = 'vrrp-role'

/** What /api/v1/state, the stats page and the metrics show. */
export interface HaView {
  readonly role: VrrpRole
  /** Epoch ms of the change to this role; null while unknown. */
  readonly since: number | null
}

export const UNKNOWN_ROLE: HaView = { role: 'unknown', since: null }

export function roleFilePath(stateDir: string): string {
  return join(stateDir, ROLE_FILE)
}

/** A state name as keepalived sends it (any case); undefined for anything else. */
export function parseVrrpState(text: string): VrrpState | undefined {
  const word = text.trim().toUpperCase()
  return (VRRP_STATES as readonly string[]).includes(word) ? (word as VrrpState) : undefined
}

/**
 * The role in the file. A missing file is `unknown` without a problem; an unreadable file or one with another
 * word is `unknown` with the reason, for the balancer's log.
 */
export async function readRole(file: string): Promise<{ view: HaView; problem?: string }> {
  let text: string
  let mtimeMs: number
  try {
    const handle = await fsp.open(file, 'r')
    try {
      // One open file for both: a rename between a stat and a read could pair one role with another's time.
      text = await handle.readFile('utf8')
      mtimeMs = (await handle.stat()).mtimeMs
    } finally {
      await handle.close()
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return { view: UNKNOWN_ROLE }
    return { view: UNKNOWN_ROLE, problem: `cannot read ${file}: ${code ?? String(err)}` }
  }
  const state = parseVrrpState(text)
  if (state === undefined) return { view: UNKNOWN_ROLE, problem: `${file} holds '${text.trim().slice(0, 40)}', not one of ${VRRP_STATES.join(', ')}` }
  return { view: { role: state, since: Math.round(mtimeMs) } }
}
