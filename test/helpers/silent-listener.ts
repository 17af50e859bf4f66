import { spawn } from 'node:child_process'
import net from 'node:net'
import { createInterface } from 'node:readline'

export interface SilentListener {
  readonly port: number
  close(): Promise<void>
}

const LISTENER = `
const server = require('node:net').createServer()
server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => console.log(server.address().port))
`

/**
 * A port where a TCP connect never completes: a listener in a child process that is stopped (SIGSTOP) before it
 * accepts anything, whose accept queue is then filled, so that the kernel drops further SYNs. A listener in this
 * process cannot do that: node accepts every connection at once.
 */
export async function startSilentListener(): Promise<SilentListener> {
  const child = spawn(process.execPath, ['-e', LISTENER], { stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve)
    child.once('exit', () => reject(new Error('the silent listener exited before listening')))
  })
  const port = Number(line)
  child.kill('SIGSTOP')

  const fillers: net.Socket[] = []
  let silent = false
  for (let i = 0; i < 20 && !silent; i++) {
    const socket = net.connect({ host: '127.0.0.1', port })
    socket.on('error', () => {})
    fillers.push(socket)
    const connected = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 300)
      socket.once('connect', () => {
        clearTimeout(timer)
        resolve(true)
      })
    })
    silent = !connected
  }
  const close = async (): Promise<void> => {
    for (const s of fillers) s.destroy()
    child.kill('SIGKILL')
    await exited
  }
  if (!silent) {
    await close()
    throw new Error('could not fill the accept queue of the silent listener')
  }
  return { port, close }
}
