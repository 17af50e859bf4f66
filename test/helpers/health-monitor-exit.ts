/**
 * Run as a child process by test/health-monitor.test.ts: checks a healthy peer and a silent one, pauses a target,
 * then stops the monitors and closes the peers without calling process.exit. The process ends only if the monitors
 * left no timer and no check connection behind (the silent peer cannot close while a check holds a socket to it).
 */
import net from 'node:net'
import { resolveHealthSettings } from '../../src/health/health-defaults.js'
import { HealthMonitor } from '../../src/health/health-monitor.js'
import { startBackend } from './backend.js'
import { waitFor } from './wait.js'

const healthy = await startBackend('healthy')
// Reads (so that it sees the checker's close) but never answers.
const silent = net.createServer((socket) => socket.resume())
let silentConnections = 0
silent.on('connection', () => (silentConnections += 1))
await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
const silentPort = (silent.address() as net.AddressInfo).port

const observer = { healthChanged: () => {} }
const tcp = new HealthMonitor(resolveHealthSettings({ type: 'tcp', interval: 50, fast_interval: 20, rise: 2 }), observer)
// Over http the silent peer keeps the check waiting for an answer until its (long) timeout.
const http = new HealthMonitor(resolveHealthSettings({ type: 'http', interval: 50, timeout: 60_000 }), observer)

const up = { host: '127.0.0.1', port: healthy.port, name: 'app/up' }
const paused = { host: '127.0.0.1', port: healthy.port, name: 'app/paused' }
tcp.add(up)
tcp.add(paused)
http.add({ host: '127.0.0.1', port: silentPort, name: 'app/silent' })
await waitFor('app/up to be up', () => (tcp.status(up)?.status === 'up' ? true : undefined))
tcp.pause(paused)
await waitFor('a check hanging on the silent peer', () => (silentConnections > 0 ? true : undefined))

tcp.stop()
http.stop()
await healthy.close()
await new Promise<void>((resolve) => silent.close(() => resolve()))
console.log('stopped')
