import { describe, expect, test } from 'bun:test'
import { decodeMsgpack } from '../../../src/codec/msgpack'
import type { TestServer } from '../../helpers/server'
import { eventually } from '../../helpers/wait'
import { apiClient, b64 } from '../wukongim/client'
import { openWs, QuickIm, sessionNamer, usingQuickImServer } from './client'

let server: TestServer, q: QuickIm
usingQuickImServer((s, client) => ([server, q] = [s, client]))

const session = sessionNamer()

describe('/notify?protoc=ws', () => {
  test('every member, on every platform, including the sender (multi-device echo)', async () => {
    const [a, b] = [session('a'), session('b')]
    const conv = await q.conversation([a, b])
    const ta1 = await q.token(a, 1)
    const conns = await Promise.all([openWs(q.wsUrl(ta1)), openWs(q.wsUrl(await q.token(a, 2))), openWs(q.wsUrl(await q.token(b, 1)))])
    await eventually(() => server.ctx.hub.online([a, b]).length === 3)
    const msgId = await q.send(ta1, conv, 'héllo 👋')
    for (const c of conns) await eventually(() => c.frames.length === 1)
    for (const c of conns) {
      expect(c.frames[0]).toEqual({ MsgId: msgId, ConversationID: conv, FromSession: a, SendTime: expect.any(Number), Status: 0, Type: 1, Content: 'héllo 👋' })
      expect(typeof c.raw[0]).toBe('string')
      c.ws.close()
    }
  })

  test('format=msgpack: binary frames that decode to the same object as the JSON ones', async () => {
    const a = session('a')
    const conv = await q.conversation([a])
    const token = await q.token(a, 1)
    const json = await openWs(q.wsUrl(token))
    const packed = await openWs(q.wsUrl(await q.token(a, 2), '&format=msgpack'))
    await eventually(() => server.ctx.hub.online([a]).length === 2)
    await q.send(token, conv, 'packed')
    await eventually(() => json.frames.length === 1 && packed.raw.length === 1)
    expect(packed.raw[0]).toBeInstanceOf(ArrayBuffer)
    expect(decodeMsgpack(packed.raw[0] as ArrayBuffer)).toEqual(json.frames[0])
    json.ws.close()
    packed.ws.close()
  })

  test('a second connection for the same session and platform closes the older one with 4001', async () => {
    const a = session('a')
    const conv = await q.conversation([a])
    const token = await q.token(a, 3)
    const older = await openWs(q.wsUrl(token))
    await eventually(() => server.ctx.hub.online([a]).length === 1)
    const newer = await openWs(q.wsUrl(token))
    expect((await older.closed).code).toBe(4001)
    await eventually(() => server.ctx.hub.online([a]).length === 1)
    await q.send(token, conv, 'to the newer one')
    await eventually(() => newer.frames.length === 1)
    expect(older.frames).toEqual([])
    newer.ws.close()
  })

  test('kicked, left and joined sessions change at once, without reconnecting', async () => {
    const [a, b, c] = [session('a'), session('b'), session('c')]
    const conv = await q.conversation([a, b])
    const ta = await q.token(a)
    const tc = await q.token(c)
    const [wa, wb, wc] = await Promise.all([openWs(q.wsUrl(ta)), openWs(q.wsUrl(await q.token(b))), openWs(q.wsUrl(tc))])
    await eventually(() => server.ctx.hub.online([a, b, c]).length === 3)
    await q.ok('/inner/kickout_conversation', { conversation_id: conv, sessions: [b] })
    await q.ok('/join_conversation', { conversation_id: conv }, tc)
    await q.send(ta, conv, 'after kick')
    await eventually(() => wa.frames.length === 1 && wc.frames.length === 1)
    await q.ok('/leave_conversation', { conversation_id: conv }, tc)
    await q.send(ta, conv, 'after leave')
    await eventually(() => wa.frames.length === 2)
    // a later message to the kicked one's other conversation proves its socket still works
    const other = await q.conversation([a, b])
    await q.send(ta, other, 'elsewhere')
    await eventually(() => wb.frames.length === 1)
    expect(wb.frames.map((f) => f.Content)).toEqual(['elsewhere'])
    expect(wc.frames.map((f) => f.Content)).toEqual(['after kick'])
    for (const w of [wa, wb, wc]) w.ws.close()
  })

  test('WuKongIM sends reach /notify; person messages show the peer as ConversationID', async () => {
    const [a, b] = [session('a'), session('b')]
    const api = apiClient(server.url)
    const conv = await q.conversation([a, b])
    const [wa, wb] = await Promise.all([openWs(q.wsUrl(await q.token(a))), openWs(q.wsUrl(await q.token(b)))])
    await eventually(() => server.ctx.hub.online([a, b]).length === 2)
    const group = await api.post('/message/send', { from_uid: a, channel_id: conv, channel_type: 2, payload: b64('from wukongim') })
    expect(group.status).toBe(200)
    const person = await api.post('/message/send', { from_uid: a, channel_id: b, channel_type: 1, payload: b64('psst') })
    expect(person.status).toBe(200)
    await eventually(() => wa.frames.length === 2 && wb.frames.length === 2)
    expect(wb.frames.map((f) => [f.ConversationID, f.Content, f.FromSession])).toEqual([
      [conv, 'from wukongim', a],
      [a, 'psst', a],
    ])
    expect(wa.frames[1].ConversationID).toBe(b)
    wa.ws.close()
    wb.ws.close()
  })

  test('/send_msg messages appear in WuKongIM messagesync with the content as payload', async () => {
    const a = session('a')
    const conv = await q.conversation([a])
    await q.send(await q.token(a), conv, 'visible to wukongim')
    const r = await apiClient(server.url).post('/channel/messagesync', {
      login_uid: a,
      channel_id: conv,
      channel_type: 2,
      start_message_seq: 0,
      end_message_seq: 0,
      limit: 10,
      pull_mode: 1,
    })
    expect(r.status).toBe(200)
    expect(r.body.messages.map((m: any) => Buffer.from(m.payload, 'base64').toString())).toEqual(['visible to wukongim'])
  })

  test('protoc=ws without an upgrade request → 10001', async () => {
    const res = await fetch(`${server.url}/notify?protoc=ws&token=${encodeURIComponent(await q.token(session('a')))}`)
    expect(await res.json()).toEqual({ code: 10001, error: expect.stringContaining('protoc') })
  })
})
