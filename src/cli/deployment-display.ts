/**
 * How a followed deployment is shown. On a terminal: a live progress bar with the current step and counters, the
 * finished steps printed above it. Anywhere else (pipes, CI logs, tests): plain lines as steps start and end,
 * because a redrawn bar would fill a log file with carriage returns.
 */
import type { DeploymentRecord, DeploymentStatus } from '../deploy/deployment-record.js'
import { stepEndLine, stepStartLine } from './deployment-figures.js'

export interface DeploymentDisplay {
  /** Called with every polled record. */
  show(record: DeploymentRecord): void
  /** A message of its own, on its own line (above the bar while there is one). */
  note(line: string): void
  /** Ends the live part; what was printed stays. */
  close(): void
}

/** The lines to print for what changed since the previous record: steps that started or ended, pause and resume. */
export class StepLog {
  private readonly seen: ('started' | 'ended')[] = []
  private status: DeploymentStatus | undefined

  /** `starts`: print a line when a step starts too (the bar shows the running step itself). */
  constructor(private readonly starts: boolean) {}

  changes(record: DeploymentRecord): string[] {
    const lines: string[] = []
    record.steps.forEach((step, i) => {
      if (step.ended_at !== undefined) {
        if (this.seen[i] !== 'ended') lines.push(stepEndLine(step))
        this.seen[i] = 'ended'
      } else if (this.seen[i] === undefined) {
        if (this.starts) lines.push(stepStartLine(step))
        this.seen[i] = 'started'
      }
    })
    if (record.status === 'paused' && this.status !== 'paused') lines.push(`  ‖ paused: continue with switchyard resume ${record.id}`)
    if (record.status === 'running' && this.status === 'paused') lines.push('  ▸ resumed')
    this.status = record.status
    return lines
  }
}

export class LineDisplay implements DeploymentDisplay {
  private readonly log = new StepLog(true)

  constructor(private readonly out: NodeJS.WritableStream) {}

  show(record: DeploymentRecord): void {
    for (const line of this.log.changes(record)) this.out.write(`${line}\n`)
  }

  note(line: string): void {
    this.out.write(`${line}\n`)
  }

  close(): void {}
}

/** The bar when stdout is a terminal (cli-progress is loaded only then), plain lines otherwise. */
export async function createDisplay(out: NodeJS.WriteStream = process.stdout): Promise<DeploymentDisplay> {
  if (out.isTTY !== true) return new LineDisplay(out)
  const { BarDisplay } = await import('./deployment-bar.js')
  return new BarDisplay(out, new StepLog(false))
}
