/**
 * The track file that moves the VIP away from this host on purpose (`switchyard ha yield`) and lets it come
 * back (`switchyard ha reclaim`). keepalived follows it with a `track_file` of weight 0: a non-zero number puts
 * this host's instance into FAULT, so it gives the VIP up at once (it sends a priority-0 advert and the peer
 * takes over without waiting for the master-down timer); 0 makes it eligible again (see keepalived-config.ts).
 */
import fsp from 'node:fs/promises'
import { join } from 'node:path'
import { writeTextAtomic } from './atomic-text.js'

export const TRACK_FILE = 'vrrp-yield'

export function trackFilePath(stateDir: string): string {
  return join(stateDir, TRACK_FILE)
}

export async function writeYield(file: string, yielded: boolean): Promise<void> {
  // keepalived reads the number at the start of the file; nothing else may come before it.
  await writeTextAtomic(file, yielded ? '1\n' : '0\n')
}

/** Whether the file asks keepalived to give the VIP up; a missing file does not (keepalived creates it with 0). */
export async function readYield(file: string): Promise<boolean> {
  try {
    const value = Number.parseInt(await fsp.readFile(file, 'utf8'), 10)
    return Number.isFinite(value) && value !== 0
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw err
  }
}
