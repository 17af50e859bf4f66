import net from 'node:net'
import type { Server } from './server.js'

/**
 * Brings back a server that was marked down after a refused connection, when no active health check is
 * configured: a TCP connect every `intervalMs`; the first that succeeds marks the server up.
 * Returns a function that stops probing.
 */
export function probeUntilUp(server: Server, intervalMs: number, timeoutMs: number): () => void {
  let stopped = false
  let timer: NodeJS.Timeout | undefined
  let socket: net.Socket | undefined

  const attempt = (): void => {
    if (stopped || server.health !== 'down') return
    socket = net.connect({ host: server.address.host, port: server.address.port })
    socket.setTimeout(timeoutMs)
    const retry = (): void => {
      socket?.destroy()
      if (!stopped) {
        timer = setTimeout(attempt, intervalMs)
        timer.unref()
      }
    }
    socket.once('connect', () => {
      socket?.destroy()
      if (!stopped) server.markUp()
    })
    socket.once('timeout', retry)
    socket.once('error', retry)
  }

  timer = setTimeout(attempt, intervalMs)
  timer.unref()
  return () => {
    stopped = true
    clearTimeout(timer)
    socket?.destroy()
  }
}
