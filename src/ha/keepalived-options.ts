/**
 * The options of `switchyard ha keepalived`, checked before anything is rendered: every problem names its option,
 * so that a wrong VIP or priority is caught here rather than by keepalived at 3 a.m. (keepalived logs most
 * mistakes and carries on with a default). Pure: the command resolves paths and defaults, this only judges them.
 */
import type { KeepalivedSpec } from './keepalived-config.js'
import { trackFilePath } from './track-file.js'

/** The options as typed on the command line (paths already resolved to absolute ones by the command). */
export interface KeepalivedInput {
  readonly vip?: string
  readonly interface?: string
  readonly priority?: string
  readonly peer?: readonly string[]
  readonly source?: string
  readonly routerId: string
  readonly advertInt: string
  readonly authPass?: string
  readonly instance: string
  readonly scriptUser: string
  /** The admin listener's URL, e.g. http://127.0.0.1:9900. */
  readonly admin: string
  readonly stateDir?: string
  readonly trackFile?: string
  /** Where the scripts are (the configuration calls them there). */
  readonly scriptsDir: string
}

export interface OptionProblem {
  /** The option as the user typed it, e.g. `--vip`. */
  readonly option: string
  readonly message: string
}

export type Checked = { readonly ok: true; readonly spec: KeepalivedSpec } | { readonly ok: false; readonly problems: OptionProblem[] }

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/
/** Linux interface names: up to 15 bytes, no slash, colon or white space. */
const INTERFACE = /^[A-Za-z0-9_.-]{1,15}$/
/** keepalived splits quoted script lines on white space and reads `#` and `!` as comments: none of them in a word. */
const CONFIG_WORD = /^[^\s"'#!\\]+$/
const INSTANCE = /^[A-Za-z0-9_-]{1,32}$/
const USER = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/
/** VRRPv2 simple-password authentication: keepalived keeps the first 8 characters only. */
const AUTH_PASS = /^[!-~]{1,8}$/

function integer(text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined || !/^\d+$/.test(text)) return undefined
  const n = Number(text)
  return n >= min && n <= max ? n : undefined
}

export function checkKeepalivedInput(input: KeepalivedInput): Checked {
  const problems: OptionProblem[] = []
  const problem = (option: string, message: string): void => {
    problems.push({ option, message })
  }

  let vip: string | undefined
  if (input.vip === undefined) problem('--vip', 'the virtual IP is required, with its prefix length, e.g. --vip 10.0.0.100/24')
  else {
    const [address, length, ...rest] = input.vip.split('/')
    if (address !== undefined && address.includes(':')) problem('--vip', `'${input.vip}' is IPv6; only an IPv4 VIP is supported (VRRPv2)`)
    else if (address === undefined || !IPV4.test(address) || rest.length > 0) problem('--vip', `'${input.vip}' is not an IPv4 address with a prefix length, e.g. 10.0.0.100/24`)
    else if (length === undefined) problem('--vip', `'${input.vip}' has no prefix length; write it as ${address}/24 (or /32 for a host address)`)
    else if (integer(length, 1, 32) === undefined) problem('--vip', `the prefix length of '${input.vip}' must be 1 to 32`)
    else vip = `${address}/${Number(length)}`
  }
  const vipAddress = vip?.split('/')[0]

  if (input.interface === undefined) problem('--interface', 'the network interface that carries the VIP is required, e.g. --interface eth0')
  else if (!INTERFACE.test(input.interface)) problem('--interface', `'${input.interface}' is not an interface name (up to 15 letters, digits, '.', '_' or '-')`)

  const priority = integer(input.priority, 1, 254)
  if (input.priority === undefined) problem('--priority', 'required: e.g. 150 on the balancer that should hold the VIP when both start, 100 on the other')
  else if (priority === undefined) problem('--priority', `'${input.priority}' must be a whole number from 1 to 254 (255 is reserved for an address owner)`)

  const peers = input.peer ?? []
  if (peers.length === 0) problem('--peer', 'the address of the other balancer is required (unicast VRRP), e.g. --peer 10.0.0.12')
  for (const peer of peers) {
    if (!IPV4.test(peer)) problem('--peer', `'${peer}' is not an IPv4 address`)
    else if (peer === vipAddress) problem('--peer', `'${peer}' is the VIP itself; give the peer's own address`)
  }
  if (new Set(peers).size !== peers.length) problem('--peer', 'the same peer is given twice')

  if (input.source !== undefined) {
    if (!IPV4.test(input.source)) problem('--source', `'${input.source}' is not an IPv4 address`)
    else if (input.source === vipAddress) problem('--source', "the source must be this balancer's own address, not the VIP")
    else if (peers.includes(input.source)) problem('--source', `'${input.source}' is also given as --peer`)
  }

  const routerId = integer(input.routerId, 1, 255)
  if (routerId === undefined) problem('--router-id', `'${input.routerId}' must be a whole number from 1 to 255, the same on both balancers and unique on the network segment`)
  const advertInt = integer(input.advertInt, 1, 255)
  if (advertInt === undefined) problem('--advert-int', `'${input.advertInt}' must be a whole number of seconds from 1 to 255 (VRRPv2)`)

  if (input.authPass !== undefined && !(AUTH_PASS.test(input.authPass) && CONFIG_WORD.test(input.authPass))) {
    problem('--auth-pass', `must be 1 to 8 printable characters without spaces, quotes, '#', '!' or '\\' (VRRPv2 keeps only 8)`)
  }
  if (!INSTANCE.test(input.instance)) problem('--instance', `'${input.instance}' must be 1 to 32 letters, digits, '_' or '-'`)
  if (!USER.test(input.scriptUser)) problem('--script-user', `'${input.scriptUser}' is not a user name`)

  const admin = adminAddress(input.admin)
  if (typeof admin === 'string') problem('--admin', admin)

  if (input.stateDir === undefined) problem('--state-dir', "name the balancer's state folder with --state-dir DIR or its configuration with -c FILE: the notify script writes the VRRP role there")
  const paths: [option: string, value: string | undefined][] = [
    ['--state-dir', input.stateDir],
    ['--track-file', input.trackFile],
    ['--out', input.scriptsDir],
  ]
  for (const [option, value] of paths) {
    if (value !== undefined && !CONFIG_WORD.test(value)) problem(option, `'${value}' has white space, a quote, '#', '!' or '\\', which keepalived cannot read in a path`)
    else if (value !== undefined && !value.startsWith('/')) problem(option, `'${value}' must be an absolute path: keepalived runs from /`)
  }

  if (
    problems.length > 0 ||
    vip === undefined ||
    priority === undefined ||
    routerId === undefined ||
    advertInt === undefined ||
    input.interface === undefined ||
    input.stateDir === undefined ||
    typeof admin === 'string'
  ) {
    return { ok: false, problems }
  }
  return {
    ok: true,
    spec: {
      vip,
      interface: input.interface,
      priority,
      peers,
      source: input.source,
      routerId,
      advertInt,
      authPass: input.authPass,
      instance: input.instance,
      scriptUser: input.scriptUser,
      admin,
      stateDir: input.stateDir,
      trackFile: input.trackFile ?? trackFilePath(input.stateDir),
      scriptsDir: input.scriptsDir,
    },
  }
}

/** Host and port of an http:// admin URL (the check speaks plain HTTP/1.0 over bash's /dev/tcp), or the problem. */
function adminAddress(text: string): { host: string; port: number } | string {
  const bad = `'${text}' must be the admin listener's plain-HTTP URL without a path, e.g. http://127.0.0.1:9900`
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return bad
  }
  if (url.protocol !== 'http:') return `${bad} (the admin listener does not speak TLS)`
  if (url.pathname !== '/' || url.search !== '' || url.username !== '' || url.password !== '') return bad
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1')
  if (!/^[A-Za-z0-9.:-]+$/.test(host)) return bad
  return { host, port: url.port === '' ? 80 : Number(url.port) }
}
