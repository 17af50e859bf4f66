/**
 * `switchyard ha keepalived`: writes (`--out DIR`) or prints the keepalived configuration of one balancer of a
 * pair, and the two scripts it calls. Defaults come from `-c FILE` (admin listener, state folder); every option is
 * checked first (keepalived-options.ts), and nothing is written when one is wrong.
 */
import { existsSync } from 'node:fs'
import { chmod, mkdir, writeFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { resolveStateDir } from '../../ha/ha-paths.js'
import { renderKeepalived, type RenderedFile } from '../../ha/keepalived-config.js'
import { checkKeepalivedInput, type KeepalivedInput } from '../../ha/keepalived-options.js'
import { reportFailure, resolveAdminTarget, UsageError } from '../admin-client.js'

/** The command line: the checked options (keepalived-options.ts), and where the admin URL and defaults come from. */
export type HaKeepalivedOptions = Omit<KeepalivedInput, 'admin' | 'scriptsDir'> & {
  readonly admin?: string
  readonly config?: string
  readonly out?: string
}

/** Where the printed configuration expects its scripts (keepalived's own folder on Debian and Red Hat). */
const DEFAULT_SCRIPTS_DIR = '/etc/keepalived'

export async function haKeepalivedCommand(opts: HaKeepalivedOptions): Promise<number> {
  try {
    const admin = (await resolveAdminTarget({ admin: opts.admin, config: opts.config })).url
    const stateDir = await resolveStateDir(opts)
    const scriptsDir = resolve(opts.out ?? DEFAULT_SCRIPTS_DIR)
    const checked = checkKeepalivedInput({
      ...opts,
      admin,
      stateDir,
      trackFile: opts.trackFile === undefined ? undefined : resolve(opts.trackFile),
      scriptsDir,
    })
    if (!checked.ok) {
      for (const p of checked.problems) process.stderr.write(`switchyard: ${p.option}: ${p.message}\n`)
      return 1
    }
    const files = renderKeepalived(checked.spec, commandLine())
    // keepalived cannot create the track file in a folder that does not exist yet, and then drops it silently.
    const trackDir = dirname(checked.spec.trackFile)
    if (!existsSync(trackDir)) {
      process.stderr.write(`switchyard: warning: ${trackDir} does not exist yet; start the balancer (it creates its state folder) before keepalived\n`)
    }
    if (opts.out === undefined) {
      process.stdout.write(files[0]!.text)
      const scripts = files.slice(1).map((f) => join(scriptsDir, f.name))
      process.stderr.write(`switchyard: this configuration calls ${scripts.join(' and ')}; --out ${scriptsDir} writes them with it\n`)
      return 0
    }
    await writeFiles(scriptsDir, files).catch((err: Error) => {
      throw new UsageError(`--out: ${err.message}`)
    })
    process.stdout.write(`${files.map((f) => join(scriptsDir, f.name)).join('\n')}\n`)
    return 0
  } catch (err) {
    return reportFailure(err)
  }
}

async function writeFiles(dir: string, files: readonly RenderedFile[]): Promise<void> {
  await mkdir(dir, { recursive: true })
  for (const file of files) {
    const path = join(dir, file.name)
    await writeFile(path, file.text, { mode: file.mode })
    // writeFile's mode applies only to a new file (and passes through the umask).
    await chmod(path, file.mode)
  }
}

/** The command as typed, for the comment at the top of the file (words with spaces quoted). */
function commandLine(): string {
  const words = process.argv.slice(2).map((w) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`))
  return ['switchyard', ...words].join(' ')
}
