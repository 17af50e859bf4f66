import { runDemo } from '../../demo/run-demo.js'

/** `switchyard demo`: exit 0 when every release succeeded with no failed request. */
export async function demoCommand(): Promise<number> {
  try {
    return await runDemo((line) => process.stdout.write(`${line}\n`))
  } catch (err) {
    process.stderr.write(`switchyard demo: ${err instanceof Error ? err.message : String(err)}\n`)
    return 1
  }
}
