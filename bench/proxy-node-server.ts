/**
 * The bench's own HTTP server, run as a child process: the backend when nginx is not installed (GET /small: a
 * 12-byte body, GET /1mb: 1 MiB), and, with --name, a server that answers its name so that the release-time
 * bench can tell which server took a request. Usage: node proxy-node-server.js --port P [--name NAME]
 */
import { createServer } from 'node:http'

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : undefined
}

const port = Number(option('port') ?? 0)
const name = option('name')
// Allocated once: the backend must cost as little as possible so that the proxies are what is measured.
const SMALL = Buffer.from('hello world\n')
const LARGE = Buffer.alloc(1 << 20, 'x')
const NAMED = name === undefined ? undefined : Buffer.from(name)

const server = createServer((req, res) => {
  const body = NAMED ?? (req.url === '/1mb' ? LARGE : SMALL)
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length, ...(name === undefined ? {} : { 'x-server': name }) })
  res.end(body)
})
// Proxies keep their upstream connections for the whole run; the defaults (5 s idle) would close them between rounds.
server.keepAliveTimeout = 600_000
server.headersTimeout = 60_000
server.requestTimeout = 0
server.maxRequestsPerSocket = 0
server.listen(port, '127.0.0.1', () => process.stdout.write('listening\n'))
process.on('SIGTERM', () => process.exit(0))
