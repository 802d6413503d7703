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
  const checked = (r: number) => {
    // 0 = dropped; -1 = queued under backpressure: cut off a client that stopped reading.
    if (r === 0 || (r < 0 && socket.getBufferedAmount() > SEND_BUFFER_LIMIT)) {
      socket.terminate()
      return false
    }
    return true
  }
  return {
    name: 'wkproto-ws',
    // Buffer, not Uint8Array: Bun sends it as one binary message as is.
    sendBinary: (frame) => checked(socket.sendBinary(Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength))),
    sendText: (text) => checked(socket.sendText(text)),
    close: () => socket.close(1000),
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
