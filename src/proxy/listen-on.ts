import type { Server } from 'node:net'
import type { HostPort } from '../config/address.js'
import { SwitchyardError } from '../errors.js'
import type { Logger } from '../log.js'

/**
 * Connections the kernel may hold for accept() (capped by net.core.somaxconn). Node's default, 511, is small for a
 * burst of new connections: a SYN dropped because the queue is full is sent again only a second later. HAProxy and
 * the bench's nginx queue thousands.
 */
const LISTEN_BACKLOG = 4096

/**
 * Binds a frontend's listener. A bind failure (address in use, no permission) rejects with SY_ERR_LISTEN naming
 * the address; later listener errors are logged, never thrown (a live listener must not take the process down).
 */
export function listenOn<T extends Server>(server: T, address: HostPort, frontend: string, log: Logger): Promise<T> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const text = `${address.host}:${address.port}`
      reject(new SwitchyardError('SY_ERR_LISTEN', { address: text, reason: err.code ?? err.message }, { cause: err }))
    })
    server.listen({ host: address.host, port: address.port, backlog: LISTEN_BACKLOG }, () => {
      server.removeAllListeners('error')
      server.on('error', (err) => log.error({ event: 'frontend.error', frontend, err }, 'listener error'))
      resolve(server)
    })
  })
}
