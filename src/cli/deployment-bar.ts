/** The live progress display of a followed deployment on a terminal (cli-progress). */
import cliProgress from 'cli-progress'
import type { DeploymentRecord } from '../deploy/deployment-record.js'
import type { DeploymentDisplay, StepLog } from './deployment-display.js'
import { progressOf, type Progress } from './deployment-figures.js'

const FORMAT = '  {bar} {value} steps done | {current} | {elapsed} | {requests} requests, {errors} errors'

export class BarDisplay implements DeploymentDisplay {
  // A MultiBar even for one bar: it is the one that can print lines above the bar (log) without breaking it.
  private readonly bars: cliProgress.MultiBar
  private bar: cliProgress.SingleBar | undefined

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly log: StepLog,
  ) {
    this.bars = new cliProgress.MultiBar(
      {
        stream: out,
        format: FORMAT,
        barsize: 24,
        hideCursor: true,
        // Ctrl-C is the follower's to handle (it stops following, the release goes on); close() restores the cursor.
        gracefulExit: false,
        clearOnComplete: false,
        stopOnComplete: false,
      },
      cliProgress.Presets.shades_classic,
    )
  }

  show(record: DeploymentRecord): void {
    for (const line of this.log.changes(record)) this.bars.log(`${line}\n`)
    const progress = progressOf(record, Date.now())
    if (this.bar === undefined) {
      this.bar = this.bars.create(progress.total, progress.finished, payload(progress))
      return
    }
    this.bar.setTotal(progress.total)
    this.bar.update(progress.finished, payload(progress))
  }

  note(line: string): void {
    if (this.bar === undefined) this.out.write(`${line}\n`)
    else this.bars.log(`${line}\n`)
  }

  close(): void {
    if (this.bar === undefined) return
    // stop() renders the bar once more but drops lines logged since the last redraw: flush them first.
    this.bars.update()
    this.bars.stop()
    this.bar = undefined
  }
}

function payload(progress: Progress): Record<string, string> {
  return { current: progress.current, elapsed: progress.elapsed, requests: progress.requests, errors: progress.errors }
}
