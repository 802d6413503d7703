/**
 * /notify with a large backlog: a poll answer is capped at 1000 messages and an SSE replay is
 * bounded by the send buffer; neither may lose a message or cut off a client that reads.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { startTestServer, type TestServer } from '../../helpers/server'
import { eventually } from '../../helpers/wait'
import { openSse, QuickIm } from './client'

let server: TestServer
let q: QuickIm
beforeAll(async () => {
  server = await startTestServer()
  q = new QuickIm(server)
}, 30_000)
afterAll(() => server.stop())

async function sendMany(token: string, conv: string, count: number, prefix: string, content = ''): Promise<string[]> {
  const ids: string[] = []
  for (let i = 0; i < count; i += 100) {
    const chunk = Array.from({ length: Math.min(100, count - i) }, (_, j) => q.send(token, conv, `${prefix}${i + j}${content}`))
    ids.push(...(await Promise.all(chunk)))
  }
  return ids
}

describe('backlog', () => {
  test('poll: a backlog over one answer (1000) while new messages keep coming: each exactly once, in order', async () => {
    const conv = await q.conversation(['bl-reader', 'bl-writer'])
    const reader = await q.token('bl-reader')
    const writer = await q.token('bl-writer')
    expect((await fetch(`${server.url}/notify?protoc=poll&timeout=0&token=${encodeURIComponent(reader)}`)).status).toBe(204)
    // big enough that reading one answer's page takes a while: live commits land meanwhile
    const sent = await sendMany(writer, conv, 1100, 'old-', ` ${'x'.repeat(16 * 1024)}`)
    // keep sending while the reader catches up: live messages arrive during its polls
    let live = 0
    let sending = true
    const liveSender = (async () => {
      while (sending && live < 400) {
        const burst = Array.from({ length: 8 }, () => q.send(writer, conv, `live-${live++}`))
        sent.push(...(await Promise.all(burst)))
      }
    })()
    const got: string[] = []
    for (let i = 0; i < 30 && got.length < 1100 + 20; i++) {
      const res = await fetch(`${server.url}/notify?protoc=poll&timeout=0&token=${encodeURIComponent(reader)}`)
      if (res.status === 200) got.push(...((await res.json()) as { data: { Msg: { MsgId: string }[] } }).data.Msg.map((m) => m.MsgId))
    }
    sending = false
    await liveSender
    for (;;) {
      const res = await fetch(`${server.url}/notify?protoc=poll&timeout=0&token=${encodeURIComponent(reader)}`)
      if (res.status === 204) break
      got.push(...((await res.json()) as { data: { Msg: { MsgId: string }[] } }).data.Msg.map((m) => m.MsgId))
    }
    expect(live).toBeGreaterThan(0)
    expect(got).toEqual([...sent].sort())
  }, 60_000)

  test('sse: a Last-Event-ID replay bigger than the send buffer reaches a reading client whole', async () => {
    const conv = await q.conversation(['rp-reader', 'rp-writer'])
    const reader = await q.token('rp-reader')
    const writer = await q.token('rp-writer')
    const before = await q.send(writer, conv, 'seen')
    const missed = await sendMany(writer, conv, 60, 'missed-', ` ${'x'.repeat(4096)}`)
    const limit = server.ctx.hub.sendBufferLimit
    server.ctx.hub.sendBufferLimit = 64 * 1024 // 60 × 4 KiB of history: far past it
    try {
      const sse = await openSse(`${server.url}/notify?protoc=sse&token=${encodeURIComponent(reader)}`, { 'last-event-id': before })
      await eventually(() => sse.ended || sse.messages().length >= missed.length, 20_000)
      expect(sse.ended).toBe(false)
      expect(sse.messages().map((m) => m.MsgId)).toEqual([...missed].sort())
      // then live
      const next = await q.send(writer, conv, 'live')
      await eventually(() => sse.messages().length === missed.length + 1)
      expect(sse.messages().at(-1)!.MsgId).toBe(next)
      sse.close()
    } finally {
      server.ctx.hub.sendBufferLimit = limit
    }
  }, 60_000)
})
