/**
 * /notify with a large backlog: a poll answer is capped at 1000 messages and an SSE replay is
 * bounded by the send buffer; neither may lose a message or cut off a client that reads.
 */
import { describe, expect, test } from 'bun:test'
import { connect } from 'node:net'
import type { TestServer } from '../../helpers/server'
import { eventually } from '../../helpers/wait'
import { openSse, QuickIm, usingQuickImServer } from './client'

let server: TestServer, q: QuickIm
usingQuickImServer((s, client) => ([server, q] = [s, client]))

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

  test('sse: a client that stops reading during a replay is cut off once held-back live messages pass the buffer limit', async () => {
    const conv = await q.conversation(['st-reader', 'st-writer'])
    const reader = await q.token('st-reader')
    const writer = await q.token('st-writer')
    const before = await q.send(writer, conv, 'seen')
    const big = 'x'.repeat(256 * 1024)
    // 20 MiB of history: more than the kernel's socket buffers take, so the replay stalls
    for (let i = 0; i < 80; i += 10) await Promise.all(Array.from({ length: 10 }, (_, j) => q.send(writer, conv, `${i + j}${big}`)))
    const limit = server.ctx.hub.sendBufferLimit
    server.ctx.hub.sendBufferLimit = 512 * 1024
    try {
      const socket = connect(server.port, '127.0.0.1')
      const closed = new Promise<void>((r) => socket.on('close', () => r()))
      await new Promise<void>((resolve) => {
        socket.on('connect', () => socket.write(`GET /notify?protoc=sse&token=${encodeURIComponent(reader)} HTTP/1.1\r\nHost: x\r\nLast-Event-ID: ${before}\r\n\r\n`))
        socket.once('data', () => {
          socket.pause()
          resolve()
        })
      })
      await eventually(() => server.ctx.hub.online(['st-reader']).length === 1)
      // live messages while the replay waits for the reader: held back, counted, then cut off
      const payload = new TextEncoder().encode(big)
      for (let i = 0; i < 8 && server.ctx.hub.online(['st-reader']).length; i++)
        await server.ctx.core.messages.send({ fromUid: 'st-writer', channelId: conv, channelType: 2, payload, header: { noPersist: 1 } })
      await eventually(() => server.ctx.hub.online(['st-reader']).length === 0, 10_000)
      socket.resume()
      await closed
    } finally {
      server.ctx.hub.sendBufferLimit = limit
    }
  }, 60_000)
})
