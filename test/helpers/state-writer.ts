// Child process for the kill -9 test of StateFile: `node state-writer.js <file>` loads the file, prints "ready",
// then saves an increasing counter in a tight loop and prints each counter once its save() has resolved.
// (stdout to a pipe is synchronous on Linux, so a printed counter is never lost by the kill.)
import { pathToFileURL } from 'node:url'
import { StateFile } from '../../src/runtime/state-file.js'

export interface CounterState {
  readonly counter: number
  readonly payload: string
}

/** A few KB derived from the counter, so that a write takes time and a mixed-up file is detected. */
export function payloadFor(counter: number): string {
  return `${counter};`.repeat(Math.ceil(4096 / (String(counter).length + 1)))
}

export function validCounterState(data: unknown): CounterState | undefined {
  if (typeof data !== 'object' || data === null) return undefined
  const { counter, payload } = data as Record<string, unknown>
  return typeof counter === 'number' && payload === payloadFor(counter) ? { counter, payload } : undefined
}

async function main(file: string): Promise<never> {
  const state = new StateFile<CounterState>(file, { validate: validCounterState, onProblem: (m) => process.stderr.write(`${m}\n`) })
  let counter = (await state.load())?.counter ?? 0
  process.stdout.write('ready\n')
  for (;;) {
    counter++
    await state.save({ counter, payload: payloadFor(counter) })
    process.stdout.write(`${counter}\n`)
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main(process.argv[2] ?? 'state.json')
}
