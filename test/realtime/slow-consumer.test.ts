import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { connect, type Socket } from 'node:net'
import { startTestServer, type TestServer } from '../helpers/server'
import { eventually } from '../helpers/wait'
import { openSse, openWs, QuickIm } from '../api/quickim/client'

let server: TestServer
let q: QuickIm
beforeAll(async () => {
  server = await startTestServer()
  q = new QuickIm(server)
  // small limit: the kernel's socket buffers absorb a few MB before the server's queue grows
  server.ctx.hub.sendBufferLimit = 512 * 1024
}, 30_000)
afterAll(() => server.stop())

/** A client that sends its request, reads the first bytes of the answer, then never reads again. */
async function stalledClient(path: string): Promise<{ socket: Socket; closed: Promise<void> }> {
  const socket = connect(server.port, '127.0.0.1')
  const closed = new Promise<void>((r) => socket.on('close', () => r()))
  await new Promise<void>((resolve) => {
    socket.on('connect', () =>
      socket.write(
        path.includes('protoc=ws')
          ? `GET ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`
          : `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`,
      ),
    )
    socket.once('data', () => {
      socket.pause()
      resolve()
    })
  })
  return { socket, closed }
}

const big = new TextEncoder().encode('x'.repeat(256 * 1024))
const MESSAGES = 80 // 20 MiB: well past the kernel buffers plus the limit

describe('slow consumers', () => {
  for (const protoc of ['ws', 'sse'] as const) {
    test(`a ${protoc} client that stops reading is cut off; the others get everything`, async () => {
      const conv = await q.conversation([`slow-${protoc}`, `fast-${protoc}`, 'sender'])
      const slowToken = await q.token(`slow-${protoc}`)
      const fastToken = await q.token(`fast-${protoc}`)
      const stalled = await stalledClient(`/notify?protoc=${protoc}&token=${encodeURIComponent(slowToken)}`)
      const fastWs = protoc === 'ws' ? await openWs(q.wsUrl(fastToken)) : undefined
      const fastSse = protoc === 'sse' ? await openSse(`${server.url}/notify?protoc=sse&token=${encodeURIComponent(fastToken)}`) : undefined
      await eventually(() => server.ctx.hub.online([`slow-${protoc}`, `fast-${protoc}`]).length === 2)
      for (let i = 0; i < MESSAGES; i++) {
        await server.ctx.core.messages.send({ fromUid: 'sender', channelId: conv, channelType: 2, payload: big, header: { noPersist: 1 } })
        // a producer slower than loopback: live sends take no database round trip, and a burst of
        // 20 MiB in one tick would pass the limit of every socket, however fast its reader
        await Bun.sleep(1)
      }
      // cut off: detached from the hub, and its socket closed by the server
      await eventually(() => server.ctx.hub.online([`slow-${protoc}`]).length === 0, 10_000)
      stalled.socket.resume()
      await stalled.closed
      await eventually(() => (fastWs ? fastWs.raw.length : fastSse!.events.length) === MESSAGES, 20_000)
      expect(server.ctx.hub.online([`fast-${protoc}`]).length).toBe(1)
      fastWs?.ws.close()
      fastSse?.close()
    }, 40_000)
  }
})
