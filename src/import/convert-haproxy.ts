/**
 * A parsed haproxy.cfg -> a Switchyard configuration object, plus every line that was not translated. Pure.
 * `defaults` apply to the frontends and backends after them; a `listen` section is a frontend and a backend of
 * the same name. A line counts as translated when some part of the import acted on it and none refused it.
 */
import { BackendConverter } from './convert-backend.js'
import { handleCommon, handleGlobal, type CommonState } from './convert-common.js'
import { FrontendConverter } from './convert-frontend.js'
import { switchyardName, type BackendInput, type ConfigInput, type FrontendInput, type LineResult, type Untranslated } from './haproxy-common.js'
import type { HaproxyLine, HaproxySection, ParsedHaproxy } from './parse-haproxy.js'

export interface Note {
  readonly line: number
  readonly message: string
}

export interface Conversion {
  readonly config: ConfigInput
  /** Sorted by line. */
  readonly untranslated: Untranslated[]
  readonly notes: Note[]
}

/** Where Switchyard's stats page lives when the haproxy.cfg did not give it a listener of its own. */
export const DEFAULT_ADMIN_LISTEN = '127.0.0.1:9900'

interface Proxy {
  readonly section: HaproxySection
  readonly common: CommonState
  readonly frontend: FrontendConverter | undefined
  readonly backend: BackendConverter | undefined
}

export function convertHaproxy(parsed: ParsedHaproxy): Conversion {
  const results = new Map<number, { line: HaproxyLine; results: LineResult[] }>()
  const record = (line: HaproxyLine, result: LineResult) => {
    const entry = results.get(line.line) ?? { line, results: [] }
    entry.results.push(result)
    results.set(line.line, entry)
  }
  const notes = new Map<string, Note>()
  const sink = { note: (line: HaproxyLine, message: string) => notes.set(`${line.line}\n${message}`, { line: line.line, message }) }
  const untranslated: Untranslated[] = parsed.stray.map((l) => ({ line: l.line, text: l.text, reason: 'outside of any section' }))

  const proxies: Proxy[] = []
  let defaults: HaproxySection | undefined
  for (const section of parsed.sections) {
    if (section.kind === 'global') section.lines.forEach((l) => record(l, handleGlobal(l, sink)))
    if (section.kind === 'defaults') defaults = section
    if (section.kind === 'global' || section.kind === 'defaults') continue
    const proxy: Proxy = {
      section,
      common: { stats: false, httplog: false, tcplog: false, tcp: false },
      frontend: section.kind === 'backend' ? undefined : new FrontendConverter(),
      backend: section.kind === 'frontend' ? undefined : new BackendConverter(sink),
    }
    for (const line of [...(defaults?.lines ?? []), ...section.lines]) {
      record(line, handleCommon(line, proxy.common, sink))
      if (proxy.frontend !== undefined) record(line, proxy.frontend.handle(line))
      if (proxy.backend !== undefined) record(line, proxy.backend.handle(line))
    }
    proxies.push(proxy)
  }

  const config = assemble(proxies, (line, reason) => untranslated.push({ line: line.line, text: line.text, reason }))
  for (const { line, results: rs } of results.values()) {
    const refused = rs.find((r): r is { reason: string } => typeof r === 'object')
    if (refused !== undefined) untranslated.push({ line: line.line, text: line.text, reason: refused.reason })
    else if (!rs.includes('done')) untranslated.push({ line: line.line, text: line.text, reason: `'${line.words[0]!}' is not translated` })
  }
  return {
    config,
    untranslated: dedupe(untranslated).sort((a, b) => a.line - b.line),
    notes: [...notes.values()].sort((a, b) => a.line - b.line),
  }
}

type Report = (line: HaproxyLine, reason: string) => void

function assemble(proxies: readonly Proxy[], report: Report): ConfigInput {
  const frontends: Record<string, FrontendInput> = {}
  const backends: Record<string, BackendInput> = {}
  let adminListen: string | undefined
  for (const proxy of proxies) {
    const name = switchyardName(proxy.section.name)
    const tcp = proxy.common.tcp
    const backend = proxy.backend?.finish()
    if (tcp && backend?.sticky !== undefined) {
      report(headerLine(proxy.section), 'cookie persistence does not exist in TCP mode; it is left out (balance source keeps a client on its server)')
      delete backend.sticky
    }
    proxy.backend?.lateProblems.forEach((p) => report(p.line, p.reason))
    const frontend = proxy.frontend
    const statsOnly = proxy.common.stats && frontend !== undefined && frontend.routes.length === 0 && frontend.tlsListen.length === 0 &&
      frontend.defaultBackend === undefined && Object.keys(backend?.servers ?? {}).length === 0
    if (statsOnly) {
      // A proxy that only serves HAProxy's stats page becomes the admin listener, where Switchyard's page lives.
      adminListen ??= frontend.listen[0]
      continue
    }
    if (backend !== undefined) backends[name] = backend
    if (frontend === undefined) continue
    if (frontend.listen.length === 0 && frontend.tlsListen.length === 0) {
      report(headerLine(proxy.section), `${proxy.section.kind} '${proxy.section.name}' has no address Switchyard can listen on, so it is left out`)
      continue
    }
    if (tcp && frontend.tls !== undefined) {
      report(frontend.tls.line, `TLS termination on a TCP frontend is not supported yet, so ${proxy.section.kind} '${proxy.section.name}' is left out`)
      continue
    }
    if (tcp) {
      // Switchyard's tcp frontends send every connection to their default backend.
      for (const route of frontend.routes) report(route.line, 'use_backend in TCP mode does not translate: a tcp frontend has one default_backend')
      frontend.routes.length = 0
    }
    const { client } = frontend.timeouts
    const timeouts = tcp ? (client === undefined ? {} : { client }) : frontend.timeouts
    const common: FrontendInput = {
      listen: [],
      ...(tcp ? { mode: 'tcp' as const } : {}),
      ...(frontend.routes.length > 0 ? { routes: frontend.routes.map((r) => r.route) } : {}),
      ...(frontend.defaultBackend !== undefined ? { default_backend: frontend.defaultBackend.name } : backend !== undefined ? { default_backend: name } : {}),
      ...(Object.keys(timeouts).length > 0 ? { timeouts } : {}),
    }
    const listen = (list: readonly string[]): string | string[] => (list.length === 1 ? list[0]! : [...list])
    // One frontend has one TLS setting: plain binds beside `ssl` ones become a frontend of their own, which
    // redirects to https when the section did (`redirect scheme https if !{ ssl_fc }`).
    const plainName = frontend.tlsListen.length > 0 ? `${name}_plain` : name
    if (frontend.tlsListen.length > 0) frontends[name] = { ...common, listen: listen(frontend.tlsListen), tls: frontend.tls!.value }
    if (frontend.listen.length > 0) {
      frontends[plainName] = { ...common, listen: listen(frontend.listen), ...(frontend.httpsRedirect ? { https_redirect: true } : {}) }
    }
  }
  dropMissingReferences(proxies, frontends, backends, report)
  return {
    ...(proxies.some((p) => p.common.stats) ? { admin: { listen: adminListen ?? DEFAULT_ADMIN_LISTEN } } : {}),
    ...(proxies.some((p) => p.common.httplog) ? { access_log: { format: 'httplog' as const } } : proxies.some((p) => p.common.tcplog) ? { access_log: true } : {}),
    frontends,
    backends,
  }
}

/** Routes to a backend that is not in the result would fail `check`; they are reported at their line instead. */
function dropMissingReferences(proxies: readonly Proxy[], frontends: Record<string, FrontendInput>, backends: Record<string, BackendInput>, report: Report): void {
  for (const proxy of proxies) {
    for (const key of [switchyardName(proxy.section.name), `${switchyardName(proxy.section.name)}_plain`]) {
      const frontend = frontends[key]
      if (frontend !== undefined && proxy.frontend !== undefined) keepKnownBackends(proxy.frontend, frontend, backends, report)
    }
  }
}

/** Keeps the routes and default of one frontend that name translated backends; reports the others at their line. */
function keepKnownBackends(source: FrontendConverter, frontend: FrontendInput, backends: Record<string, BackendInput>, report: Report): void {
  const kept = source.routes.filter((r) => {
    if (r.route.backend in backends) return true
    report(r.line, `backend '${r.route.backend}' is not in the translated configuration`)
    return false
  })
  if (kept.length > 0) frontend.routes = kept.map((r) => r.route)
  else delete frontend.routes
  const fallback = source.defaultBackend
  if (frontend.default_backend !== undefined && !(frontend.default_backend in backends)) {
    if (fallback !== undefined) report(fallback.line, `backend '${fallback.name}' is not in the translated configuration`)
    delete frontend.default_backend
  }
}

function headerLine(section: HaproxySection): HaproxyLine {
  return { line: section.line, text: section.text, words: [section.kind, section.name] }
}

function dedupe(list: readonly Untranslated[]): Untranslated[] {
  const seen = new Map<string, Untranslated>()
  for (const u of list) if (!seen.has(`${u.line}\n${u.reason}`)) seen.set(`${u.line}\n${u.reason}`, u)
  return [...seen.values()]
}
