#!/usr/bin/env node
/**
 * The command table. Each command lives in its own file and is imported only when it runs, so that
 * `switchyard check` does not load the data plane. This is the only place that exits the process.
 */
import { Command } from 'commander'

const program = new Command()
program.name('switchyard').description('A load balancer that also runs releases.').showHelpAfterError()

program
  .command('run')
  .description('start the balancer in the foreground')
  .option('-c, --config <file>', 'configuration file', 'switchyard.yaml')
  .action(async (opts: { config: string }) => {
    const { runCommand } = await import('./commands/run.js')
    // The balancer has closed every handle; exit now so that a lingering client socket cannot hold the process.
    process.exit(await runCommand(opts))
  })

program
  .command('check')
  .description('validate a configuration file without starting')
  .option('-c, --config <file>', 'configuration file', 'switchyard.yaml')
  .action(async (opts: { config: string }) => {
    const { checkCommand } = await import('./commands/check.js')
    process.exitCode = await checkCommand(opts)
  })

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`switchyard: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
})
