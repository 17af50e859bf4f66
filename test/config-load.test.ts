import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { ConfigError, loadConfigFile, parseConfigText } from '../src/config/load-config.js'
import { findNotYetSupported, NOT_YET_SUPPORTED } from '../src/config/not-yet-supported.js'
import { isSwitchyardError } from '../src/errors.js'

/** YAML from lines, so that a test reads its own line numbers off the array (line 1 = index 0). */
function yaml(...lines: string[]): string {
  return `${lines.join('\n')}\n`
}

/** The `FILE:LINE:COL: message` lines of the ConfigError that parsing `text` throws. */
function problems(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfigText(text, 'sy.yaml', env)
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`)
    return err.format().split('\n')
  }
  assert.fail('expected the configuration to be rejected')
}

const MINIMAL = [
  'frontends:',
  '  web:',
  '    listen: 8080',
  '    default_backend: app',
  'backends:',
  '  app:',
  '    servers:',
  '      s1: { address: 127.0.0.1:38888 }',
]

describe('parseConfigText: a valid file', () => {
  const text = yaml(
    'admin:',
    '  token: secret',
    'frontends:',
    '  web:',
    '    listen: [0.0.0.0:8080, "[::1]:8081"]',
    '    routes:',
    '      - match: { host: "*.example.com", path_prefix: /api, header: { X-Env: beta } }',
    '        backend: api',
    '    default_backend: app',
    '    timeouts: { client: 1m30s }',
    '    max_body_size: 1mb',
    'backends:',
    '  app:',
    '    servers:',
    '      s1: { address: 127.0.0.1:38888 }',
    '      s2: { address: 127.0.0.1:38889, weight: 3, backup: true }',
    '  api:',
    '    balance: leastconn',
    '    retry_on: [conn-failure, 503]',
    '    timeouts: { connect: 500ms }',
    '    servers: { a1: { address: "localhost:9000" } }',
  )

  it('normalises durations, sizes and addresses and fills in defaults', () => {
    const config = parseConfigText(text, 'sy.yaml', {})
    assert.deepEqual(config.admin, { listen: { host: '127.0.0.1', port: 9900 }, token: 'secret' })
    assert.equal(config.state_dir, '.switchyard')
    assert.equal(config.access_log, true)
    const web = config.frontends.web!
    assert.deepEqual(web.listen, [
      { host: '0.0.0.0', port: 8080 },
      { host: '::1', port: 8081 },
    ])
    assert.equal(web.mode, 'http')
    assert.deepEqual(web.routes, [
      { match: { host: '*.example.com', path_prefix: '/api', header: { 'X-Env': 'beta' } }, backend: 'api' },
    ])
    assert.deepEqual(web.timeouts, { client: 90_000, http_request: 10_000, keep_alive: 10_000 })
    assert.equal(web.max_header_size, 16 * 1024)
    assert.equal(web.max_body_size, 1024 * 1024)
    assert.equal(web.trust_request_id, false)

    const app = config.backends.app!
    assert.equal(app.balance, 'roundrobin')
    assert.equal(app.hash_key, 'source')
    assert.equal(app.retries, 2)
    assert.deepEqual(app.retry_on, ['conn-failure', 'empty-response'])
    assert.equal(app.retry_buffer, 64 * 1024)
    assert.equal(app.queue_limit, 1000)
    assert.deepEqual(app.timeouts, { connect: 3000, server: 30_000, queue: 10_000 })
    assert.equal(app.max_connections, 0)
    assert.equal(app.health, undefined)
    assert.deepEqual(app.servers, {
      s1: { address: { host: '127.0.0.1', port: 38888 }, weight: 1, backup: false },
      s2: { address: { host: '127.0.0.1', port: 38889 }, weight: 3, backup: true },
    })
    const api = config.backends.api!
    assert.equal(api.balance, 'leastconn')
    assert.deepEqual(api.retry_on, ['conn-failure', '503'])
    assert.equal(api.timeouts.connect, 500)
  })

  it('returns a deeply frozen snapshot', () => {
    const config = parseConfigText(text, 'sy.yaml', {})
    assert.ok(Object.isFrozen(config))
    assert.ok(Object.isFrozen(config.frontends.web!.listen[0]))
    assert.ok(Object.isFrozen(config.frontends.web!.routes[0]!.match.header))
    assert.ok(Object.isFrozen(config.backends.app!.servers.s1!.address))
    assert.throws(() => {
      ;(config.backends.app!.servers.s1! as { weight: number }).weight = 9
    }, TypeError)
  })

  it('accepts an address without a host on frontends and uses all interfaces', () => {
    const config = parseConfigText(yaml(...MINIMAL), 'sy.yaml', {})
    assert.deepEqual(config.frontends.web!.listen, [{ host: '0.0.0.0', port: 8080 }])
  })
})

describe('parseConfigText: problems with their positions', () => {
  it('reports an unknown key at the key, with a "did you mean" hint', () => {
    const text = yaml(...MINIMAL.slice(0, 7), '      s1: { address: 127.0.0.1:38888, weigth: 2 }')
    assert.deepEqual(problems(text), [
      "sy.yaml:8:39: backends.app.servers.s1: unknown key 'weigth' (did you mean 'weight'?)",
    ])
  })

  it('reports each of several unknown keys in one map at its own key', () => {
    const text = yaml(...MINIMAL, '    retires: 3', '    colour: blue')
    assert.deepEqual(problems(text), [
      "sy.yaml:9:5: backends.app: unknown key 'retires' (did you mean 'retries'?)",
      "sy.yaml:10:5: backends.app: unknown key 'colour'",
    ])
  })

  it('reports a bad duration and a bad size at the value', () => {
    const text = yaml(...MINIMAL, '    timeouts:', '      connect: 3 seconds', '    retry_buffer: lots')
    assert.deepEqual(problems(text), [
      "sy.yaml:10:16: backends.app.timeouts.connect: '3 seconds' is not a duration (write it like 500ms, 2s, 1m or 1h)",
      "sy.yaml:11:19: backends.app.retry_buffer: 'lots' is not a size (write it like 512, 64kb or 1mb)",
    ])
  })

  it('words type, enum and range problems for people', () => {
    const text = yaml(...MINIMAL, '    retries: three', '    balance: fastest', '    queue_limit: -1', '    max_connections: 1.5')
    assert.deepEqual(problems(text), [
      "sy.yaml:9:14: backends.app.retries: expected a number, got a string ('three')",
      'sy.yaml:10:14: backends.app.balance: must be one of: roundrobin, leastconn, random, first, hash',
      'sy.yaml:11:18: backends.app.queue_limit: must be at least 0',
      'sy.yaml:12:22: backends.app.max_connections: expected a whole number, got 1.5',
    ])
  })

  it('reports a value that fits none of the allowed forms', () => {
    const text = yaml(...MINIMAL, '    retry_on: [conn-failure, 418]', '    hash_key: header', '    timeouts: { server: true }')
    assert.deepEqual(problems(text), [
      'sy.yaml:9:30: backends.app.retry_on[1]: must be one of: 502, 503, 504, conn-failure, empty-response',
      'sy.yaml:10:15: backends.app.hash_key: hash_key is source, uri, header:NAME or cookie:NAME',
      'sy.yaml:11:25: backends.app.timeouts.server: expected a string or a number, got a boolean (true)',
    ])
  })

  it('reports a bad address inside a listen list at that element', () => {
    const text = yaml(...MINIMAL.slice(0, 2), '    listen: [":8080", "host:99999"]', ...MINIMAL.slice(3))
    assert.deepEqual(problems(text), [
      "sy.yaml:3:23: frontends.web.listen[1]: port 99999 in 'host:99999' is out of range (0-65535)",
    ])
  })

  it('reports a missing required key at the map that lacks it', () => {
    const text = yaml(...MINIMAL.slice(0, 7), '      s1: { weight: 2 }')
    assert.deepEqual(problems(text), ["sy.yaml:8:7: backends.app.servers.s1: missing required key 'address'"])
    assert.deepEqual(problems(yaml(...MINIMAL.slice(0, 4))), ["sy.yaml:1:1: missing required key 'backends'"])
  })

  it('reports an invalid name at the key', () => {
    const text = yaml(...MINIMAL, '      "s 2": { address: 127.0.0.1:1 }')
    assert.deepEqual(problems(text), [
      `sy.yaml:9:7: backends.app.servers: 's 2' is not a valid name: names may use letters, digits, "_", "." and "-"`,
    ])
  })

  it('reports a route or default_backend naming a missing backend at that name', () => {
    const text = yaml(
      'frontends:',
      '  web:',
      '    listen: 8080',
      '    routes:',
      '      - match: { path_prefix: /a }',
      '        backend: api',
      '      - match: { path_prefix: /b }',
      '        backend: apii',
      '    default_backend: nope',
      'backends:',
      '  api: {}',
    )
    assert.deepEqual(problems(text), [
      "sy.yaml:8:18: route 2 of frontend 'web' names backend 'apii', which does not exist (did you mean 'api'?)",
      "sy.yaml:9:22: the default_backend of frontend 'web' names backend 'nope', which does not exist",
    ])
  })

  it('reports a frontend that has nowhere to send requests', () => {
    const text = yaml('frontends:', '  web:', '    listen: 8080', 'backends: {}')
    assert.deepEqual(problems(text), [
      "sy.yaml:2:3: frontend 'web' has neither routes nor a default_backend, so it has nowhere to send requests",
    ])
  })

  it('reports a listen address used twice, also across a wildcard and by the admin listener', () => {
    const text = yaml(
      'admin: { listen: "127.0.0.1:9000" }',
      'frontends:',
      '  a: { listen: "127.0.0.1:8080", default_backend: app }',
      '  b: { listen: ["0.0.0.0:8080", "0.0.0.0:8081", "0.0.0.0:8081"], default_backend: app }',
      '  c: { listen: "localhost:9000", default_backend: app }',
      '  d: { listen: "127.0.0.1:9000", default_backend: app }',
      'backends: { app: {} }',
    )
    assert.deepEqual(problems(text), [
      "sy.yaml:4:17: frontend 'b' listens on 0.0.0.0:8080, which overlaps 127.0.0.1:8080 of frontend 'a'",
      "sy.yaml:4:49: frontend 'b' lists 0.0.0.0:8081 twice",
      "sy.yaml:6:16: frontend 'd' listens on 127.0.0.1:9000, which the admin listener also uses",
    ])
  })

  it('reports every not-yet-supported feature at its key', () => {
    assert.deepEqual(NOT_YET_SUPPORTED, [])
    const raw = {
      frontends: { web: { listen: 8443, mode: 'tcp', tls: { cert: 'c.pem', key: 'k.pem' } }, api: { listen: 8080 } },
    }
    const found = findNotYetSupported(raw, ['frontends.*.tls', 'frontends.*.mode: tcp'])
    assert.deepEqual(found.map((p) => [p.path.join('.'), p.message]), [
      ['frontends.web.tls', "'frontends.web.tls' is not supported by this version of Switchyard yet"],
      ['frontends.web.mode', "'frontends.web.mode: tcp' is not supported by this version of Switchyard yet"],
    ])
  })

  it('tells what a tcp frontend cannot have', () => {
    const text = yaml(
      'frontends:',
      '  web:',
      '    listen: 8443',
      '    mode: tcp',
      '    tls: { cert: /nonexistent/c.pem, key: /nonexistent/k.pem }',
      '    routes: [{ match: { host: a }, backend: app }]',
      '  plain:',
      '    listen: 8080',
      '    default_backend: app',
      'backends:',
      '  app:',
      '    balance: hash',
      '    hash_key: uri',
      '    proxy_protocol: v2',
      '    sticky: { cookie: SRV }',
    )
    assert.deepEqual(problems(text), [
      "sy.yaml:5:5: frontend 'web': TLS termination on a tcp frontend is not supported yet; use mode: http, or let the servers terminate TLS (it passes through)",
      'sy.yaml:5:18: cannot read /nonexistent/c.pem: no such file',
      'sy.yaml:5:43: cannot read /nonexistent/k.pem: no such file',
      "sy.yaml:6:5: frontend 'web' is a tcp frontend: it sends every connection to its default_backend and has no routes (routes need mode: http)",
      "sy.yaml:9:22: backend 'app' sends a PROXY protocol header, which only tcp frontends can send; http frontend 'plain' cannot use it",
      "sy.yaml:13:15: backend 'app' serves tcp frontend 'web', which can only hash on the source address (hash_key: source)",
      "sy.yaml:15:5: backend 'app' serves tcp frontend 'web', which cannot set cookies; use balance: hash (on the source address) for affinity",
    ])
  })

  it('accepts mode: http, which is supported', () => {
    const text = yaml(...MINIMAL.slice(0, 3), '    mode: http', ...MINIMAL.slice(3))
    assert.equal(parseConfigText(text, 'sy.yaml', {}).frontends.web!.mode, 'http')
  })
})

describe('parseConfigText: YAML errors', () => {
  it('reports a syntax error at its position and nothing that depends on the broken structure', () => {
    const text = yaml('frontends:', '  web:', '    listen: [8080', '    default_backend: app', 'backends: {}')
    const lines = problems(text)
    assert.equal(lines.length, 1)
    assert.match(lines[0]!, /^sy\.yaml:4:5: invalid YAML: Flow sequence .* end with a \]$/)
  })

  it('reports a duplicate key at the second occurrence, together with other problems', () => {
    const text = yaml(...MINIMAL, '    retries: 1', '    retries: 2', '    balance: fastest')
    assert.deepEqual(problems(text), [
      "sy.yaml:10:5: duplicate key 'retries' (first defined on line 9)",
      'sy.yaml:11:14: backends.app.balance: must be one of: roundrobin, leastconn, random, first, hash',
    ])
  })

  it('rejects more than one document and an empty file', () => {
    assert.match(problems(yaml(...MINIMAL, '---', 'a: 1'))[0]!, /^sy\.yaml:9:1: the file holds more than one YAML document/)
    assert.deepEqual(problems(''), ['sy.yaml:1:1: the file is empty; a configuration needs at least frontends: and backends:'])
  })

  it('rejects a file that is not a map', () => {
    assert.deepEqual(problems(yaml('- a', '- b')), ['sy.yaml:1:1: expected a map, got a list'])
  })
})

describe('parseConfigText: environment variables', () => {
  const text = yaml(
    'admin:',
    '  token: ${TOKEN}',
    'state_dir: ${STATE:-/var/lib/sy}/state',
    'frontends:',
    '  web:',
    '    listen: ${PORT}',
    '    default_backend: app',
    'backends:',
    '  app:',
    '    retries: ${RETRIES:-1}',
    '    servers:',
    '      s1: { address: "${HOST}:38888" }',
  )

  it('replaces ${NAME} and ${NAME:-default} in values', () => {
    const config = parseConfigText(text, 'sy.yaml', { TOKEN: 's3cret', PORT: '9090', HOST: '10.0.0.5', STATE: '' })
    assert.equal(config.admin?.token, 's3cret')
    assert.equal(config.state_dir, '/var/lib/sy/state')
    assert.deepEqual(config.frontends.web!.listen, [{ host: '0.0.0.0', port: 9090 }])
    assert.equal(config.backends.app!.retries, 1)
    assert.deepEqual(config.backends.app!.servers.s1!.address, { host: '10.0.0.5', port: 38888 })
  })

  it('reads an unquoted reference that yields a number as a number, and a quoted one as a string', () => {
    const env = { TOKEN: 't', PORT: '1', HOST: 'h', RETRIES: '4' }
    assert.equal(parseConfigText(text, 'sy.yaml', env).backends.app!.retries, 4)
    const quoted = text.replace('retries: ${RETRIES:-1}', 'retries: "${RETRIES:-1}"')
    assert.deepEqual(problems(quoted, env), ["sy.yaml:10:14: backends.app.retries: expected a number, got a string ('4')"])
  })

  it('reports every variable that is not set, at its value', () => {
    assert.deepEqual(problems(text, { PORT: '8080' }), [
      'sy.yaml:2:10: admin.token: environment variable TOKEN is not set',
      'sy.yaml:12:22: backends.app.servers.s1.address: environment variable HOST is not set',
    ])
  })

  it('keeps $${ as a literal ${ and leaves keys alone', () => {
    const literal = text.replace('${TOKEN}', () => 'a$${TOKEN}b')
    assert.equal(parseConfigText(literal, 'sy.yaml', { PORT: '1', HOST: 'h' }).admin?.token, 'a${TOKEN}b')
    const inKey = yaml(...MINIMAL, '    ${X}: 1')
    assert.deepEqual(problems(inKey, { X: 'retries' }), ["sy.yaml:9:5: backends.app: unknown key '${X}'"])
  })

  it('reports a malformed reference', () => {
    const bad = text.replace('${TOKEN}', '${TOKEN').replace('${PORT}', '${1PORT}')
    assert.deepEqual(problems(bad, { HOST: 'h' }), [
      "sy.yaml:2:10: admin.token: '${' is not closed with '}' (write $${ for a literal '${')",
      "sy.yaml:6:13: frontends.web.listen: '${1PORT}' is not a valid reference (write ${NAME} or ${NAME:-default})",
    ])
  })
})

describe('parseConfigText: all problems at once', () => {
  it('reports schema, reference, environment and support problems from one file, sorted by position', () => {
    const text = yaml(
      'admin: { token: "${MISSING}" }',
      'frontends:',
      '  web:',
      '    listen: 8080',
      '    routes:',
      '      - match: { path_prefix: api }',
      '        backend: apii',
      '    default_backend: api',
      'backends:',
      '  api:',
      '    slow_start: 5s',
      '    timeouts: { connect: 3 seconds }',
      '    servers:',
      '      s1: { address: 127.0.0.1:1, weigth: 2 }',
    )
    assert.deepEqual(problems(text), [
      'sy.yaml:1:17: admin.token: environment variable MISSING is not set',
      'sy.yaml:6:31: frontends.web.routes[0].match.path_prefix: path_prefix starts with /',
      "sy.yaml:7:18: route 1 of frontend 'web' names backend 'apii', which does not exist (did you mean 'api'?)",
      "sy.yaml:12:26: backends.api.timeouts.connect: '3 seconds' is not a duration (write it like 500ms, 2s, 1m or 1h)",
      "sy.yaml:14:35: backends.api.servers.s1: unknown key 'weigth' (did you mean 'weight'?)",
    ])
  })

  it('throws a ConfigError with the SY_ERR_CONFIG_INVALID code, a count and sorted problems', () => {
    const text = yaml(...MINIMAL, '    retries: x', '    balance: y')
    const err = (() => {
      try {
        parseConfigText(text, 'sy.yaml', {})
      } catch (caught) {
        return caught
      }
      return undefined
    })()
    assert.ok(err instanceof ConfigError)
    assert.equal(err.code, 'SY_ERR_CONFIG_INVALID')
    assert.equal(err.params.count, 2)
    assert.deepEqual(
      err.problems.map((p) => [p.file, p.line, p.col]),
      [
        ['sy.yaml', 9, 14],
        ['sy.yaml', 10, 14],
      ],
    )
    assert.match(err.message, /^invalid configuration \(2 problem\(s\)\):\nsy\.yaml:9:14: /)
  })
})

describe('loadConfigFile', () => {
  it('reads and parses a file, naming it in problems', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sy-load-'))
    try {
      const good = join(dir, 'good.yaml')
      await writeFile(good, yaml(...MINIMAL))
      const config = await loadConfigFile(good, {})
      assert.deepEqual(Object.keys(config.backends), ['app'])
      const bad = join(dir, 'bad.yaml')
      await writeFile(bad, yaml(...MINIMAL, '    retries: x'))
      await assert.rejects(loadConfigFile(bad, {}), (err: unknown) => {
        assert.ok(err instanceof ConfigError)
        assert.equal(err.format(), `${bad}:9:14: backends.app.retries: expected a number, got a string ('x')`)
        return true
      })
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('throws SY_ERR_CONFIG_READ for a file that cannot be read', async () => {
    await assert.rejects(loadConfigFile('/nonexistent/sy.yaml'), (err: unknown) => {
      assert.ok(isSwitchyardError(err, 'SY_ERR_CONFIG_READ'))
      assert.deepEqual(err.params, { file: '/nonexistent/sy.yaml', reason: 'no such file' })
      return true
    })
  })
})
