/**
 * WKProto over plain TCP (IM_TCP_PORT): the same bytes as over WebSocket, as a stream. Bun's
 * socket.write() may take only part of a buffer, so each socket keeps its own bounded write queue,
 * flushed on drain.
 */
import type { Socket, TCPSocketListener } from 'bun'
import type { AppContext } from '../../context'
import { wkprotoService } from './service'
import type { WkSession, WkTransport } from './session'

const SEND_BUFFER_LIMIT = 4 * 1024 * 1024

interface Conn {
  session: WkSession
  queue: Uint8Array[]
  queued: number
  closing: boolean
}

function flush(socket: Socket<Conn>): void {
  const c = socket.data
  while (c.queue.length) {
    const head = c.queue[0]!
    const n = socket.write(head)
    if (n < head.length) {
      c.queue[0] = head.subarray(Math.max(n, 0))
      c.queued -= Math.max(n, 0)
      return
    }
    c.queue.shift()
    c.queued -= head.length
  }
  if (c.closing) socket.end()
}

function tcpTransport(socket: Socket<Conn>): WkTransport {
  const write = (bytes: Uint8Array) => {
    const c = socket.data
    if (c.closing) return false
    if (c.queue.length === 0) {
      const n = socket.write(bytes)
      if (n === bytes.length) return true
      bytes = bytes.subarray(Math.max(n, 0))
    }
    if (c.queued + bytes.length > SEND_BUFFER_LIMIT) {
      // A client that stopped reading is cut off; it recovers through history.
      c.closing = true
      socket.terminate()
      return false
    }
    // Copy: the caller may reuse its buffer.
    c.queue.push(Uint8Array.from(bytes))
    c.queued += bytes.length
    return true
  }
  return {
    name: 'wkproto-tcp',
    sendBinary: write,
    sendText: (text) => write(Buffer.from(text, 'utf8')),
    close: () => {
      const c = socket.data
      if (c.closing) return
      c.closing = true
      if (!c.queue.length) socket.end()
    },
  }
}

/** Starts the TCP listener; port 0 in config means off (returns undefined). */
export function startWkprotoTcp(ctx: AppContext, port = ctx.config.tcpPort): TCPSocketListener<Conn> | undefined {
  if (!port) return undefined
  const service = wkprotoService(ctx)
  return Bun.listen<Conn>({
    hostname: ctx.config.host,
    port,
    socket: {
      open(socket) {
        socket.data = { session: undefined as unknown as WkSession, queue: [], queued: 0, closing: false }
        socket.data.session = service.open(tcpTransport(socket), 'binary')
        // SENDACKs are small and latency-bound: no Nagle delay.
        socket.setNoDelay(true)
      },
      data(socket, chunk) {
        socket.data.session.onBinary(chunk)
      },
      drain(socket) {
        flush(socket)
      },
      close(socket) {
        socket.data?.session?.onTransportClosed()
      },
      error(socket) {
        socket.data?.session?.onTransportClosed()
      },
    },
  })
}
