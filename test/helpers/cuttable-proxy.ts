import net from 'node:net'

export interface CuttableProxy {
  /** host:port to connect to instead of the target. */
  readonly address: string
  /** A network partition: open connections are reset and new ones refused until `restore`. */
  cut(): void
  restore(): void
  close(): Promise<void>
}

/**
 * A TCP forwarder on 127.0.0.1 to `target` ("host:port") that a test can cut off and restore: one balancer's
 * link to etcd fails while the others keep theirs.
 */
export async function startCuttableProxy(target: string): Promise<CuttableProxy> {
  const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))]
  const open = new Set<net.Socket>()
  let isCut = false
  const server = net.createServer((client) => {
    if (isCut) {
      client.resetAndDestroy()
      return
    }
    const upstream = net.connect(port, host)
    open.add(client)
    open.add(upstream)
    client.pipe(upstream)
    upstream.pipe(client)
    const end = () => {
      client.destroy()
      upstream.destroy()
      open.delete(client)
      open.delete(upstream)
    }
    client.on('error', end).on('close', end)
    upstream.on('error', end).on('close', end)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = `127.0.0.1:${(server.address() as net.AddressInfo).port}`
  return {
    address,
    cut: () => {
      isCut = true
      for (const socket of open) socket.resetAndDestroy()
      open.clear()
    },
    restore: () => {
      isCut = false
    },
    close: async () => {
      for (const socket of open) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
