import { describe, expect, test } from 'bun:test'
import type { TestServer } from '../../helpers/server'
import { eventually } from '../../helpers/wait'
import { openSse, openWs, QuickIm, sessionNamer, usingQuickImServer } from './client'

let server: TestServer, q: QuickIm
usingQuickImServer((s, client) => ([server, q] = [s, client]))

const session = sessionNamer()
const sseUrl = (token: string) => `${server.url}/notify?protoc=sse&token=${encodeURIComponent(token)}`

/** a conversation of a (sender) and b, with b reading over SSE once its subscriptions are live */
async function senderAndSseReader() {
  const [a, b] = [session('a'), session('b')]
  const conv = await q.conversation([a, b])
  const ta = await q.token(a)
  const tb = await q.token(b)
  const first = await openSse(sseUrl(tb))
  await eventually(() => server.ctx.hub.online([b]).length === 1)
  return { a, b, conv, ta, tb, first }
}

describe('/notify?protoc=sse', () => {
  test('id: <MsgId>, event: message, data: <json>; a comment at once', async () => {
    const a = session('a')
    const conv = await q.conversation([a])
    const token = await q.token(a)
    const sse = await openSse(sseUrl(token))
    expect(sse.res.status).toBe(200)
    expect(sse.res.headers.get('content-type')).toBe('text/event-stream')
    await eventually(() => sse.comments.length >= 1)
    const msgId = await q.send(token, conv, 'over sse')
    await eventually(() => sse.events.length === 1)
    expect(sse.events[0]!.id).toBe(msgId)
    expect(sse.events[0]!.event).toBe('message')
    expect(JSON.parse(sse.events[0]!.data!)).toEqual({ MsgId: msgId, ConversationID: conv, FromSession: a, SendTime: expect.any(Number), Status: 0, Type: 1, Content: 'over sse' })
    sse.close()
  })

  test('a reconnect with Last-Event-ID replays exactly what was missed, then goes live', async () => {
    const { b, conv, ta, tb, first } = await senderAndSseReader()
    await q.send(ta, conv, 'seen')
    await eventually(() => first.events.length === 1)
    const lastId = first.events[0]!.id!
    first.close()
    await eventually(() => server.ctx.hub.online([b]).length === 0)
    for (let i = 0; i < 5; i++) await q.send(ta, conv, `missed ${i}`)
    const second = await openSse(sseUrl(tb), { 'last-event-id': lastId })
    await eventually(() => second.events.length === 5)
    await q.send(ta, conv, 'live')
    await eventually(() => second.events.length === 6)
    expect(second.messages().map((m) => m.Content)).toEqual(['missed 0', 'missed 1', 'missed 2', 'missed 3', 'missed 4', 'live'])
    const ids = second.events.map((e) => e.id!)
    expect([...ids].sort()).toEqual(ids)
    expect(ids[0]! > lastId).toBe(true)
    second.close()
  })

  test('a live-only (no_persist) event carries no id, so a resume after it neither repeats nor skips history', async () => {
    const { a, b, conv, ta, tb, first } = await senderAndSseReader()
    const sendLive = async (content: string) => {
      const res = await fetch(`${server.url}/message/send`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ header: { no_persist: 1 }, from_uid: a, channel_id: conv, channel_type: 2, payload: btoa(content) }),
      })
      expect(res.status).toBe(200)
    }
    // Live ids come from a block reserved ahead: the second live message's id is below 'stored 1'.
    await sendLive('live 1')
    await q.send(ta, conv, 'stored 1')
    await sendLive('live 2')
    await eventually(() => first.events.length === 3)
    expect(first.messages().map((m) => m.Content)).toEqual(['live 1', 'stored 1', 'live 2'])
    expect(first.events.map((e) => e.id === undefined)).toEqual([true, false, true])
    // What a browser's EventSource would send back: the last id it saw.
    const lastId = first.events.findLast((e) => e.id)!.id!
    first.close()
    await eventually(() => server.ctx.hub.online([b]).length === 0)
    await q.send(ta, conv, 'stored 2')
    const second = await openSse(sseUrl(tb), { 'last-event-id': lastId })
    await eventually(() => second.events.length === 1)
    await Bun.sleep(100)
    expect(second.messages().map((m) => m.Content)).toEqual(['stored 2'])
    second.close()
  })

  test('a second ws or sse of the same session and platform: the older sse gets event: kickout and ends', async () => {
    const a = session('a')
    const conv = await q.conversation([a])
    const token = await q.token(a, 9)
    const older = await openSse(sseUrl(token))
    await eventually(() => server.ctx.hub.online([a]).length === 1)
    const newer = await openWs(q.wsUrl(token))
    await older.done
    expect(older.events.map((e) => e.event)).toEqual(['kickout'])
    await q.send(token, conv, 'to ws')
    await eventually(() => newer.frames.length === 1)
    // and a newer sse closes the ws with 4001
    const newest = await openSse(sseUrl(token))
    expect((await newer.closed).code).toBe(4001)
    newest.close()
  })

  test('a malformed Last-Event-ID → 10001', async () => {
    const res = await fetch(sseUrl(await q.token(session('a'))), { headers: { 'last-event-id': 'not-an-id' } })
    expect(await res.json()).toEqual({ code: 10001, error: expect.stringContaining('Last-Event-ID') })
  })
})
