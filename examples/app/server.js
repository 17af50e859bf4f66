#!/usr/bin/env node
// Switchyard's sample app: a tiny HTTP server that reports its version, so that tests, benchmarks and the demo
// can play good and bad releases. No dependencies; see README.md for the knobs.
import http from 'node:http'

const env = process.env
const version = env.APP_VERSION || env.SWITCHYARD_VERSION || 'dev'
const instance = env.SWITCHYARD_INSTANCE || String(process.pid)
const host = env.HOST || '127.0.0.1'
const port = Number(env.PORT ?? 3000)
const startDelayMs = Number(env.START_DELAY_MS || 0)
const errorRate = Math.min(1, Math.max(0, Number(env.ERROR_RATE || 0)))
const extraLatencyMs = Number(env.EXTRA_LATENCY_MS || 0)
const failHealth = env.FAIL_HEALTH === '1'
const FORCE_EXIT_MS = 10_000

let shuttingDown = false
let served = 0

// Deterministic error pattern: the n-th non-health request fails when floor(n * rate) grows, so any run of
// 1/rate requests holds exactly one failure (rate 0.5 fails requests 2, 4, 6, ...; rate 1 fails all).
function nextFails() {
  served += 1
  return Math.floor(served * errorRate) > Math.floor((served - 1) * errorRate)
}

function answer(res, status, contentType, body) {
  const headers = { 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'x-app-version': version }
  // Tell keep-alive clients to go elsewhere for their next request.
  if (shuttingDown) headers.connection = 'close'
  res.writeHead(status, headers)
  res.end(body)
}

const server = http.createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0]
  if (path === '/healthz') {
    if (shuttingDown) return answer(res, 503, 'text/plain', 'shutting down')
    if (failHealth) return answer(res, 500, 'text/plain', 'unhealthy (FAIL_HEALTH=1)')
    return answer(res, 200, 'text/plain', 'ok')
  }
  const status = nextFails() ? 500 : 200
  const body = JSON.stringify({ version, instance, path })
  // Drain the request body so that the connection stays usable.
  req.resume()
  if (extraLatencyMs > 0) setTimeout(() => answer(res, status, 'application/json', body), extraLatencyMs)
  else answer(res, status, 'application/json', body)
})

function shutdown(signal) {
  if (shuttingDown) return
  shuttingDown = true
  console.log(`sample app ${version} got ${signal}: finishing in-flight requests`)
  server.close(() => {
    console.log(`sample app ${version} stopped`)
    process.exit(0)
  })
  server.closeIdleConnections()
  setTimeout(() => {
    console.log(`sample app ${version}: in-flight requests still running after ${FORCE_EXIT_MS} ms, exiting anyway`)
    process.exit(1)
  }, FORCE_EXIT_MS).unref()
}

process.on('SIGTERM', () => shutdown('SIGTERM'))
process.on('SIGINT', () => shutdown('SIGINT'))

if (startDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, startDelayMs))
server.on('error', (err) => {
  console.error(`sample app ${version}: cannot listen on ${host}:${port}: ${err.message}`)
  process.exit(1)
})
server.listen(port, host, () => {
  const shownHost = host.includes(':') ? `[${host}]` : host
  console.log(`sample app ${version} (instance ${instance}) listening on http://${shownHost}:${server.address().port}`)
})
