#!/usr/bin/env node
/**
 * The command table. Each command lives in its own file and is imported only when it runs, so that
 * `switchyard check` does not load the data plane. This is the only place that exits the process.
 */
import { Argument, Command } from 'commander'
import type { AdminOptions } from './admin-client.js'
import type { DeployOptions } from './commands/deploy.js'
import type { SteerAction } from './commands/steer.js'
import type { HaKeepalivedOptions } from './commands/ha-keepalived.js'
import type { HaRoleOptions } from './commands/ha-role.js'
import type { HaYieldOptions } from './commands/ha-yield.js'

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

/** The options of every command that talks to a running balancer. */
function adminCommand(name: string, description: string): Command {
  return program
    .command(name)
    .description(description)
    .option('-c, --config <file>', "find the balancer from this configuration file's admin section")
    .option('--admin <url>', 'admin listener URL (default: from -c, else http://127.0.0.1:9900)')
    .option('--token <token>', 'bearer token for changes (default: $SWITCHYARD_TOKEN, else from -c)')
}

adminCommand('status', 'show frontends, backends and servers with state, weight and traffic')
  .option('--json', 'print the state as JSON')
  .action(async (opts: AdminOptions & { json?: boolean }) => {
    const { statusCommand } = await import('./commands/status.js')
    process.exitCode = await statusCommand(opts)
  })

adminCommand('server', "change a server's admin state")
  .argument('<backend/server>', 'the server, e.g. app/s1')
  .addArgument(new Argument('<state>', 'the admin state').choices(['ready', 'drain', 'maint']))
  .option('--wait', 'with drain: return when no request is in flight any more (exit 1 on timeout)')
  .option('--timeout <duration>', 'how long --wait waits', '30s')
  .action(async (target: string, state: string, opts: AdminOptions & { wait?: boolean; timeout: string }) => {
    const { serverCommand } = await import('./commands/server.js')
    process.exitCode = await serverCommand(target, state, opts)
  })

adminCommand('weight', "change a server's weight live")
  .argument('<backend/server>', 'the server, e.g. app/s1')
  .argument('<weight>', 'a whole number from 0 to 256')
  .action(async (target: string, weight: string, opts: AdminOptions) => {
    const { weightCommand } = await import('./commands/weight.js')
    process.exitCode = await weightCommand(target, weight, opts)
  })

adminCommand('reload', 'reload the configuration file of the running balancer')
  .action(async (opts: AdminOptions) => {
    const { reloadCommand } = await import('./commands/reload.js')
    process.exitCode = await reloadCommand(opts)
  })

adminCommand('deploy', 'run a release of a service and follow it (exit 0 succeeded, 1 failed or rolled back)')
  .argument('<service>', 'the service, as named under services: in the configuration')
  .requiredOption('--version <version>', 'the version to release')
  .option('--strategy <strategy>', "rolling, surge or bluegreen for this release (default: the service's)")
  .option('--no-wait', 'print the deployment id and return at once')
  .action(async (service: string, opts: DeployOptions) => {
    const { deployCommand } = await import('./commands/deploy.js')
    process.exitCode = await deployCommand(service, opts)
  })

adminCommand('rollback', 'go back to the previous release of a service and follow it')
  .argument('<service>', 'the service')
  .option('--no-wait', 'print the deployment id and return at once')
  .action(async (service: string, opts: AdminOptions & { wait: boolean }) => {
    const { rollbackCommand } = await import('./commands/deploy.js')
    process.exitCode = await rollbackCommand(service, opts)
  })

const steering: Record<SteerAction, string> = {
  pause: 'pause a running release after its current step',
  resume: 'resume a paused or interrupted release',
  promote: 'canary: go on to the next step now; blue/green: stop the previous release kept warm now',
  abort: 'abort a release and restore the previous one',
}
for (const [action, description] of Object.entries(steering) as [SteerAction, string][]) {
  adminCommand(action, description)
    .argument('<deployment>', 'the deployment id')
    .action(async (id: string, opts: AdminOptions) => {
      const { steerCommand } = await import('./commands/steer.js')
      process.exitCode = await steerCommand(action, id, opts)
    })
}

adminCommand('history', 'list the past releases of a service, newest first')
  .argument('<service>', 'the service')
  .action(async (service: string, opts: AdminOptions) => {
    const { historyCommand } = await import('./commands/history.js')
    process.exitCode = await historyCommand(service, opts)
  })

adminCommand('report', "show one release: its steps, cost figures and traffic per version")
  .argument('<deployment>', 'the deployment id')
  .action(async (id: string, opts: AdminOptions) => {
    const { reportCommand } = await import('./commands/history.js')
    process.exitCode = await reportCommand(id, opts)
  })

program
  .command('demo')
  .description('the whole product end to end on this machine: a balancer, the sample app, three releases under load')
  .action(async () => {
    const { demoCommand } = await import('./commands/demo.js')
    // Everything the demo started is closed; exit now rather than wait for an idle keep-alive socket.
    process.exit(await demoCommand())
  })

program
  .command('import')
  .description('print a Switchyard configuration for an haproxy.cfg (exit 1 when lines do not translate), or the JSON Schema')
  .addArgument(new Argument('<format>', 'what to import').choices(['haproxy', 'schema']))
  .argument('[file]', 'the haproxy.cfg')
  .option('--partial', 'exit 0 even when some lines do not translate (they are still listed on stderr)')
  .action(async (format: string, file: string | undefined, opts: { partial?: boolean }) => {
    const { importCommand } = await import('./commands/import.js')
    process.exitCode = await importCommand(format, file, opts)
  })

program
  .command('openapi')
  .description('print the OpenAPI description of the admin API (docs/openapi.json)')
  .action(async () => {
    const { openApiCommand } = await import('./commands/openapi.js')
    process.exitCode = openApiCommand()
  })

const ha = program.command('ha').description('run two balancers as a keepalived (VRRP) pair: configuration, check, role, planned moves')
const stateDirOption = (cmd: Command): Command =>
  cmd
    .option('--state-dir <dir>', "the balancer's state folder (where vrrp-role and vrrp-yield live)")
    .option('-c, --config <file>', 'find the state folder from this configuration file (state_dir)')

ha.command('keepalived')
  .description("write (--out DIR) or print keepalived's configuration for one balancer of the pair, and its check and notify scripts")
  .option('--vip <cidr>', 'the virtual IP with its prefix length, e.g. 10.0.0.100/24')
  .option('--interface <name>', 'the interface that carries the VIP, e.g. eth0')
  .option('--priority <n>', '1-254: e.g. 150 on one balancer, 100 on the other (decides only who wins when both start)')
  .option('--peer <address>', "the other balancer's address, for unicast adverts (repeatable)", (v: string, all: string[] = []) => [...all, v])
  .option('--source <address>', "this balancer's own address for the adverts (default: the interface's primary address)")
  .option('--router-id <n>', 'virtual_router_id, 1-255: the same on both, unique on the network segment', '51')
  .option('--advert-int <seconds>', 'seconds between adverts', '1')
  .option('--auth-pass <password>', 'VRRP password, up to 8 characters (the same on both)')
  .option('--instance <name>', 'name of the vrrp_instance', 'switchyard')
  .option('--script-user <user>', 'user that runs the check and notify scripts (it must be able to write the state folder)', 'root')
  .option('--admin <url>', "the balancer's admin listener (default: from -c, else http://127.0.0.1:9900)")
  .option('--state-dir <dir>', "the balancer's state folder (default: from -c)")
  .option('-c, --config <file>', "the balancer's configuration file: admin listener and state folder")
  .option('--track-file <path>', 'the file `ha yield` writes (default: STATE_DIR/vrrp-yield)')
  .option('--out <dir>', 'write keepalived.conf and its two scripts into this folder (default: print the configuration, which expects them in /etc/keepalived)')
  .action(async (opts: HaKeepalivedOptions) => {
    const { haKeepalivedCommand } = await import('./commands/ha-keepalived.js')
    process.exitCode = await haKeepalivedCommand(opts)
  })

ha.command('check')
  .description("the request keepalived's check makes, with the reason: exit 0 when the balancer's /healthz answers 200 in time, else 1")
  .option('--admin <url>', 'admin listener URL (default: from -c, else http://127.0.0.1:9900)')
  .option('-c, --config <file>', "find the balancer from this configuration file's admin section")
  .option('--timeout <duration>', 'how long the answer may take', '500ms')
  .action(async (opts: AdminOptions & { timeout: string }) => {
    const { haCheckCommand } = await import('./commands/ha-check.js')
    process.exitCode = await haCheckCommand(opts)
  })

for (const [action, description] of [
  ['yield', 'move the VIP away from this balancer before maintenance (keepalived goes FAULT here)'],
  ['reclaim', 'make this balancer eligible for the VIP again after maintenance'],
] as const) {
  const command = stateDirOption(ha.command(action))
    .description(description)
    .option('--track-file <path>', 'the track file (default: STATE_DIR/vrrp-yield)')
    .option('--wait <duration>', "how long to wait for keepalived's confirmation (exit 1 without it)", '10s')
    .option('--no-wait', 'write the track file and return at once')
  if (action === 'yield') {
    command
      .option('--peer <url>', "the peer's admin listener: refuse unless it is BACKUP, then wait until it is MASTER")
      .option('--token <token>', "bearer token for the peer's reads, when they need one (default: $SWITCHYARD_TOKEN, else from -c)")
  }
  command.action(async (opts: HaYieldOptions) => {
    const { haYieldCommand } = await import('./commands/ha-yield.js')
    process.exitCode = await haYieldCommand(action, opts)
  })
}

ha.command('role')
  .description('show the VRRP role of a balancer (this one or the peer); --wait-for waits until it is reached')
  .option('--admin <url>', 'admin listener URL (default: from -c, else http://127.0.0.1:9900)')
  .option('-c, --config <file>', "find the balancer from this configuration file's admin section")
  .option('--token <token>', 'bearer token, when reads need one (default: $SWITCHYARD_TOKEN, else from -c)')
  .option('--state-dir <dir>', 'read the role file in this folder instead of asking the balancer')
  .option('--wait-for <role>', 'return once the role is this one: MASTER, BACKUP, FAULT, STOP')
  .option('--timeout <duration>', 'how long --wait-for waits (exit 1 after it)', '30s')
  .option('--json', 'print {"role", "since"}')
  .action(async (opts: HaRoleOptions) => {
    const { haRoleCommand } = await import('./commands/ha-role.js')
    process.exitCode = await haRoleCommand(opts)
  })

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`switchyard: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
})
