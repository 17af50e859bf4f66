/** Lines that mean the same in every proxy and in `global`: mode, logging, stats, options with nothing to translate. */
import { unsupported, type LineResult, type NoteSink } from './haproxy-common.js'
import type { HaproxyLine } from './parse-haproxy.js'

/** What a proxy's common lines set; shared settings end up at the top of the Switchyard file. */
export interface CommonState {
  stats: boolean
  httplog: boolean
  /** `option tcplog`: an access line per connection. */
  tcplog: boolean
  /** `mode tcp`: the proxy becomes a tcp frontend (and its backend serves connections). */
  tcp: boolean
}

const STATS_ACCEPTED = new Set(['enable', 'refresh', 'uri', 'auth', 'admin', 'realm', 'hide-version'])
const PROCESS_ONLY = new Set(['daemon', 'user', 'group', 'chroot', 'pidfile', 'nbthread', 'master-worker', 'uid', 'gid'])

export function handleCommon(line: HaproxyLine, state: CommonState, notes: NoteSink): LineResult {
  const [head, first, ...rest] = line.words
  if (head === 'mode') {
    if (first !== 'http' && first !== 'tcp') return unsupported(`mode ${first ?? ''} has no Switchyard equivalent`)
    state.tcp = first === 'tcp'
    return 'done'
  }
  if (head === 'log') {
    notes.note(line, 'Switchyard writes its logs and access lines to stdout; route them with your service manager')
    return 'done'
  }
  if (head === 'option') return option(line, first, rest, state, notes)
  if (head === 'stats') return stats(line, first, rest, state, notes)
  return undefined
}

function option(line: HaproxyLine, name: string | undefined, args: readonly string[], state: CommonState, notes: NoteSink): LineResult {
  switch (name) {
    case 'redispatch':
      // Switchyard always retries a failed request on another server; there is nothing to switch on.
      return args.length === 0 ? 'done' : unsupported('option redispatch with an interval is not translated')
    case 'forwardfor':
      // Switchyard always adds X-Forwarded-For.
      return args.length === 0 ? 'done' : unsupported(`option forwardfor ${args.join(' ')} is not translated`)
    case 'httplog':
      state.httplog = true
      return 'done'
    case 'tcplog':
      state.tcplog = true
      return 'done'
    case 'dontlognull':
      notes.note(line, 'Switchyard logs every request, including connections without one')
      return 'done'
    default:
      return undefined
  }
}

function stats(line: HaproxyLine, what: string | undefined, args: readonly string[], state: CommonState, notes: NoteSink): LineResult {
  if (what === undefined || !STATS_ACCEPTED.has(what)) return unsupported(`stats ${what ?? ''} is not translated`)
  state.stats = true
  if (what === 'uri' && args[0] !== '/stats') notes.note(line, `the stats page is at /stats on the admin listener, not at ${args[0] ?? ''}`)
  if (what === 'auth' || what === 'admin') {
    notes.note(line, 'the admin listener uses a bearer token (admin.token, e.g. ${SWITCHYARD_TOKEN}) instead of user:password; writes always need it')
  }
  return 'done'
}

/** `global` lines: process management has no place in the configuration file. */
export function handleGlobal(line: HaproxyLine, notes: NoteSink): LineResult {
  const head = line.words[0]!
  if (PROCESS_ONLY.has(head)) {
    notes.note(line, `'${head}' is the service manager's job (systemd, a container), not the configuration's`)
    return 'done'
  }
  if (head === 'log') {
    notes.note(line, 'Switchyard writes its logs and access lines to stdout')
    return 'done'
  }
  if (head === 'stats') return unsupported('use the admin API (admin.listen) instead of the stats socket')
  return undefined
}
