/** `option httpchk`, `option tcp-check`, `option ssl-hello-chk` and `http-check send|expect` -> backends.*.health. */
import { unsupported, type HealthInput, type LineResult } from './haproxy-common.js'

export function applyHealthLine(health: Partial<HealthInput>, words: readonly string[]): LineResult {
  const [head, kind, ...args] = words
  if (head === 'option') {
    if (kind === 'httpchk') return httpchk(health, args)
    if (kind === 'tcp-check') return set(health, { type: 'tcp' })
    if (kind === 'ssl-hello-chk') return set(health, { type: 'tls', verify: false })
    return undefined
  }
  if (kind === 'send') return send(health, args)
  if (kind === 'expect') return expect(health, args)
  return unsupported(`http-check ${kind ?? ''} is not translated`)
}

function set(health: Partial<HealthInput>, values: Partial<HealthInput>): LineResult {
  Object.assign(health, values)
  return 'done'
}

/** `option httpchk`, `option httpchk URI` or `option httpchk METHOD URI [VERSION]`. */
function httpchk(health: Partial<HealthInput>, args: readonly string[]): LineResult {
  health.type = 'http'
  if (args.length === 1) health.path = args[0]!
  else if (args.length >= 2) {
    health.method = args[0]!
    health.path = args[1]!
  }
  // The old form smuggles headers into the version: "HTTP/1.1\r\nHost:\ www.example.com".
  const host = /host:\s*(\S+)/i.exec(args[2] ?? '')
  if (host !== null) health.host = host[1]!
  else if (args.length > 2 && !/^HTTP\/1\.[01]$/.test(args[2]!)) return unsupported(`httpchk version '${args[2]!}' is not translated`)
  return 'done'
}

/** `http-check send [meth M] [uri U] [ver V] [hdr Host H]`. */
function send(health: Partial<HealthInput>, args: readonly string[]): LineResult {
  const other: string[] = []
  for (let i = 0; i < args.length; i += 2) {
    const [key, value] = [args[i]!, args[i + 1] ?? '']
    if (key === 'meth') health.method = value
    else if (key === 'uri') health.path = value
    else if (key === 'ver') continue
    else if (key === 'hdr' && value.toLowerCase() === 'host') {
      health.host = args[i + 2] ?? ''
      i++
    } else other.push(key)
  }
  return other.length === 0 ? 'done' : unsupported(`http-check send ${other.join(', ')} is not translated`)
}

/** `http-check expect status N` or `http-check expect string TEXT`. */
function expect(health: Partial<HealthInput>, args: readonly string[]): LineResult {
  const [kind, value, ...rest] = args
  if (rest.length > 0 || value === undefined) return unsupported('only `expect status N` and `expect string TEXT` translate')
  if (kind === 'status' && /^[1-5]\d\d$/.test(value)) health.expect_status = Number(value)
  else if (kind === 'string') health.expect_body = value
  else return unsupported(`http-check expect ${kind ?? ''} ${value} is not translated`)
  return 'done'
}
