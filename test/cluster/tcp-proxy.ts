/**
 * A loopback TCP proxy that a test can cut and restore: puts a real network failure between one
 * node and the NATS server without touching the shared NATS server.
 */
import type { Socket, TCPSocketListener } from 'bun'

interface Pair {
  upstream?: Socket<undefined>
  pending: Uint8Array[]
  closed: boolean
}

export class TcpProxy {
  private listener: TCPSocketListener<Pair> | undefined
  private readonly clients = new Set<Socket<Pair>>()
  port = 0

  constructor(
    private readonly upstreamHost: string,
    private readonly upstreamPort: number,
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`
  }

  /** Listens (again, on the same port once it has one). */
  start(): void {
    const self = this
    this.listener = Bun.listen<Pair>({
      hostname: '127.0.0.1',
      port: this.port,
      socket: {
        open(client) {
          const pair: Pair = { pending: [], closed: false }
          client.data = pair
          self.clients.add(client)
          Bun.connect({
            hostname: self.upstreamHost,
            port: self.upstreamPort,
            socket: {
              open(up) {
                if (pair.closed) return void up.end()
                pair.upstream = up
                for (const b of pair.pending) up.write(b)
                pair.pending = []
              },
              data(_up, chunk) {
                if (!pair.closed) client.write(chunk)
              },
              close() {
                pair.closed = true
                client.end()
              },
              error() {
                pair.closed = true
                client.end()
              },
            },
          }).catch(() => client.end())
        },
        data(client, chunk) {
          const pair = client.data
          if (pair.upstream) pair.upstream.write(chunk)
          else pair.pending.push(new Uint8Array(chunk))
        },
        close(client) {
          client.data.closed = true
          client.data.upstream?.end()
          self.clients.delete(client)
        },
        error(client) {
          client.data.closed = true
          client.data.upstream?.end()
        },
      },
    })
    this.port = this.listener.port
  }

  /** Drops every connection and stops listening: the far side sees the network go away. */
  cut(): void {
    this.listener?.stop(true)
    this.listener = undefined
    for (const c of [...this.clients]) {
      c.data.closed = true
      c.data.upstream?.end()
      c.end()
    }
    this.clients.clear()
  }
}
