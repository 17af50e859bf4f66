/** The keywords after `server NAME ADDRESS` (and `default-server`). */
import { haproxyDuration, wholeNumber } from './haproxy-common.js'

export interface ServerOptions {
  check: boolean
  backup: boolean
  weight?: number
  maxconn?: number
  cookie?: string
  /**
   * Settings Switchyard keeps per backend, keyed by their Switchyard names: health timing (health.*), slow_start,
   * and the connection options proxy_protocol, tls (`ssl`), check_tls (`check-ssl`), verify and ca.
   */
  perBackend: Record<string, string | number>
  problems: string[]
}

const DURATIONS: Readonly<Record<string, string>> = {
  inter: 'interval', fastinter: 'fast_interval', downinter: 'down_interval', slowstart: 'slow_start',
}
const COUNTS: Readonly<Record<string, string>> = { rise: 'rise', fall: 'fall' }

export function parseServerOptions(words: readonly string[]): ServerOptions {
  const options: ServerOptions = { check: false, backup: false, perBackend: {}, problems: [] }
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!
    const value = words[i + 1]
    if (word === 'check') options.check = true
    else if (word === 'no-check') options.check = false
    else if (word === 'backup') options.backup = true
    else if (word in DURATIONS) {
      i++
      const duration = haproxyDuration(value)
      if (duration === undefined) options.problems.push(`${word} '${value ?? ''}' is not a duration`)
      else options.perBackend[DURATIONS[word]!] = duration
    } else if (word in COUNTS) {
      i++
      const n = wholeNumber(value, 1, 1000)
      if (n === undefined) options.problems.push(`${word} '${value ?? ''}' is not a count`)
      else options.perBackend[COUNTS[word]!] = n
    } else if (word === 'port') {
      i++
      const n = wholeNumber(value, 1, 65535)
      if (n === undefined) options.problems.push(`port '${value ?? ''}' is not a port`)
      else options.perBackend.port = n
    } else if (word === 'weight' || word === 'maxconn') {
      i++
      const n = wholeNumber(value, 0, word === 'weight' ? 256 : 1_000_000)
      if (n === undefined) options.problems.push(`${word} '${value ?? ''}' is out of range`)
      else options[word] = n
    } else if (word === 'cookie') {
      i++
      options.cookie = value ?? ''
    } else if (word === 'send-proxy' || word === 'send-proxy-v2') {
      options.perBackend.proxy_protocol = word === 'send-proxy' ? 'v1' : 'v2'
    } else if (word === 'ssl' || word === 'check-ssl') {
      options.perBackend[word === 'ssl' ? 'tls' : 'check_tls'] = 'on'
    } else if (word === 'verify') {
      i++
      if (value !== 'none' && value !== 'required') options.problems.push(`verify '${value ?? ''}' is not none or required`)
      else options.perBackend.verify = value
    } else if (word === 'ca-file') {
      i++
      if (value === undefined) options.problems.push('ca-file needs a file')
      else options.perBackend.ca = value
    } else options.problems.push(`server option '${word}' is not translated`)
  }
  return options
}
