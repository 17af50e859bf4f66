/**
 * Replaces a small text file atomically: a reader (the balancer watching its VRRP role, keepalived watching its
 * track file) sees the old content or the new one, never an empty or half-written file. keepalived's inotify
 * watch and fs.watch both see the rename into place.
 */
import { randomBytes } from 'node:crypto'
import fsp from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

export async function writeTextAtomic(file: string, text: string): Promise<void> {
  const dir = dirname(file)
  await fsp.mkdir(dir, { recursive: true })
  // Unique per writer: two keepalived notify scripts may run at once for one file.
  const temp = join(dir, `.${basename(file)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`)
  try {
    const handle = await fsp.open(temp, 'wx', 0o644)
    try {
      await handle.writeFile(text)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await fsp.rename(temp, file)
  } catch (err) {
    await fsp.rm(temp, { force: true })
    throw err
  }
  // The rename itself survives a power cut only once the folder is synced too.
  const folder = await fsp.open(dir, 'r')
  try {
    await folder.sync()
  } finally {
    await folder.close()
  }
}
