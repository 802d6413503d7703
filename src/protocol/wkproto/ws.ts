/**
 * GET /ws: WKProto over WebSocket (binary frames, exactly one packet per message since the SDK's
 * parser mishandles several), or its JSON-RPC variant when the first frame is text starting with `{`.
 * Upgrades through server.upgrade() with ws.data callbacks (Elysia's Bun adapter dispatches to
 * them), so there is no beforeHandle to abort the upgrade and Elysia never JSON-parses our text.
 * Authentication happens in CONNECT, after the upgrade.
 */
import type { ServerWebSocket } from 'bun'
import { Elysia } from 'elysia'
import type { AppContext } from '../../context'
import { wkprotoService } from './service'
import type { WkSession, WkTransport } from './session'

/** bytes a client may fall behind before it is cut off */
const SEND_BUFFER_LIMIT = 4 * 1024 * 1024

function wsTransport(socket: ServerWebSocket<unknown>): WkTransport {
  // Frames of one event-loop turn (e.g. the SENDACKs of a committed batch) go out corked: one
  // syscall, still one WebSocket message per packet.
  let pending: (Buffer | string)[] = []
  let closed = false
  const flush = () => {
    const frames = pending
    pending = []
    if (closed) return
    try {
      corked(frames)
    } catch {
      // the socket closed meanwhile: its close handler ends the session
      closed = true
    }
  }
  const corked = (frames: (Buffer | string)[]) =>
    socket.cork(() => {
      for (const f of frames) {
        const r = typeof f === 'string' ? socket.sendText(f) : socket.sendBinary(f)
        // 0 = dropped; -1 = queued under backpressure: cut off a client that stopped reading.
        if (r === 0 || (r < 0 && socket.getBufferedAmount() > SEND_BUFFER_LIMIT)) {
          closed = true
          socket.terminate()
          return
        }
      }
    })
  const queue = (f: Buffer | string) => {
    if (closed) return false
    if (pending.push(f) === 1) setImmediate(flush)
    return true
  }
  return {
    name: 'wkproto-ws',
    // Buffer, not Uint8Array: Bun sends it as one binary message as is. Copied: callers reuse buffers.
    sendBinary: (frame) => queue(Buffer.from(frame)),
    sendText: (text) => queue(text),
    close: () => {
      if (closed) return
      flush()
      closed = true
      socket.close(1000)
    },
  }
}

export function wkprotoWsRoutes(ctx: AppContext) {
  const service = wkprotoService(ctx)
  return new Elysia().get(
    '/ws',
    ({ request, server, set }) => {
      let session: WkSession | undefined
      const upgraded = server?.upgrade(request, {
        data: {
          open(socket: ServerWebSocket<unknown>) {
            session = service.open(wsTransport(socket))
          },
          message(_socket: ServerWebSocket<unknown>, message: string | Buffer) {
            if (typeof message === 'string') session?.onText(message)
            else session?.onBinary(message)
          },
          close() {
            session?.onTransportClosed()
          },
        },
      })
      if (upgraded) return undefined
      set.status = 400
      return { status: 400, msg: 'GET /ws expects a WebSocket upgrade (WKProto binary or JSON-RPC)' }
    },
    {
      detail: {
        summary: 'WKProto over WebSocket',
        description:
          'WuKongIM client protocol: binary frames (one packet per message; versions 2-5, X25519 + AES-CBC as WuKongIM), or JSON-RPC 2.0 text frames when the first frame is a JSON object.',
        tags: ['WKProto'],
      },
    },
  )
}
