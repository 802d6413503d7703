/**
 * WKProto over plain TCP (IM_TCP_PORT): the same bytes as over WebSocket, as a stream. Bun's
 * socket.write() may take only part of a buffer, so each socket keeps its own bounded write queue,
 * written once per event-loop turn (coalescing small packets) and on drain.
 */
import type { Socket, TCPSocketListener } from 'bun'
import type { AppContext } from '../../context'
import { wkprotoService } from './service'
import type { WkSession, WkTransport } from './session'

const SEND_BUFFER_LIMIT = 4 * 1024 * 1024

interface Conn {
  session: WkSession
  /** frames waiting for the next flush (or for drain) */
  queue: Uint8Array[]
  queued: number
  /** a flush is scheduled for the end of this event-loop turn */
  flushScheduled: boolean
  /** the kernel buffer was full: wait for drain */
  waitingDrain: boolean
  closing: boolean
}

/**
 * Writes everything queued as one buffer: the SENDACKs of a committed batch leave in one
 * syscall instead of one each. Whatever the kernel does not take waits for drain.
 */
function flush(socket: Socket<Conn>): void {
  const c = socket.data
  c.flushScheduled = false
  if (c.queue.length) {
    const all = c.queue.length === 1 ? c.queue[0]! : Buffer.concat(c.queue)
    const n = Math.max(socket.write(all), 0)
    if (n < all.length) {
      c.queue = [all.subarray(n)]
      c.queued = all.length - n
      c.waitingDrain = true
      return
    }
    c.queue = []
    c.queued = 0
  }
  c.waitingDrain = false
  if (c.closing) socket.end()
}

function tcpTransport(socket: Socket<Conn>): WkTransport {
  const schedule = (c: Conn) => {
    if (c.flushScheduled || c.waitingDrain) return
    c.flushScheduled = true
    setImmediate(() => {
      try {
        flush(socket)
      } catch {
        // the socket closed meanwhile: its close handler ends the session
      }
    })
  }
  const write = (bytes: Uint8Array) => {
    const c = socket.data
    if (c.closing) return false
    if (c.queued + bytes.length > SEND_BUFFER_LIMIT) {
      // A client that stopped reading is cut off; it recovers through history.
      c.closing = true
      socket.terminate()
      return false
    }
    // Copy: the caller may reuse its buffer.
    c.queue.push(Uint8Array.from(bytes))
    c.queued += bytes.length
    schedule(c)
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
      // Queued frames (a refusing CONNACK, a DISCONNECT) go out first; flush ends the socket.
      if (c.queue.length) schedule(c)
      else socket.end()
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
    // Bun.listen honours reusePort (SO_REUSEPORT) though Bun 1.4's typings declare it for connect only.
    ...({ reusePort: ctx.config.reusePort } as object),
    socket: {
      open(socket) {
        socket.data = { session: undefined as unknown as WkSession, queue: [], queued: 0, flushScheduled: false, waitingDrain: false, closing: false }
        socket.data.session = service.open(tcpTransport(socket), 'binary')
        // SENDACKs are small and latency-bound: no Nagle delay.
        socket.setNoDelay(true)
      },
      data(socket, chunk) {
        socket.data.session.onBinary(chunk)
      },
      drain(socket) {
        try {
          flush(socket)
        } catch {
          // closed meanwhile
        }
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
