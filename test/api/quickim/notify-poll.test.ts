import { describe, expect, test } from 'bun:test'
import { and, eq } from 'drizzle-orm'
import { parseMsgId } from '../../../src/core/quickim/msg-id'
import { pollCursors } from '../../../src/db/schema'
import type { TestServer } from '../../helpers/server'
import { eventually } from '../../helpers/wait'
import { QuickIm, sessionNamer, usingQuickImServer } from './client'

let server: TestServer, q: QuickIm
usingQuickImServer((s, client) => ([server, q] = [s, client]))

const session = sessionNamer()
const poll = (token: string, extra = '') => fetch(`${server.url}/notify?protoc=poll&token=${encodeURIComponent(token)}${extra}`)
const contents = async (res: Response) => {
  expect(res.status).toBe(200)
  const body = (await res.json()) as { code: number; data: { Msg: { Content: string }[] } }
  expect(body.code).toBe(0)
  return body.data.Msg.map((m) => m.Content)
}

describe('/notify?protoc=poll', () => {
  test('a first poll starts now (no history) and answers 204 when nothing came', async () => {
    const a = session('a')
    const conv = await q.conversation([a])
    const token = await q.token(a)
    await q.send(token, conv, 'before the first poll')
    const started = Date.now()
    const res = await poll(token, '&timeout=1')
    expect(res.status).toBe(204)
    expect(Date.now() - started).toBeGreaterThanOrEqual(900)
  })

  test('a waiting poll returns as soon as a message comes', async () => {
    const a = session('a')
    const conv = await q.conversation([a])
    const token = await q.token(a)
    expect((await poll(token, '&timeout=0')).status).toBe(204)
    const waiting = poll(token, '&timeout=20')
    await eventually(() => server.ctx.hub.stats()['quickim-poll'] === 1)
    const started = Date.now()
    await q.send(token, conv, 'wake up')
    expect(await contents(await waiting)).toEqual(['wake up'])
    expect(Date.now() - started).toBeLessThan(5000)
  })

  test('100 messages sent between two polls all arrive, exactly once, in order', async () => {
    const [a, b] = [session('a'), session('b')]
    const conv = await q.conversation([a, b])
    const ta = await q.token(a)
    const tb = await q.token(b, 4)
    expect((await poll(tb, '&timeout=0')).status).toBe(204)
    await Promise.all(Array.from({ length: 100 }, (_, i) => q.send(ta, conv, `m${i}`)))
    const got = await contents(await poll(tb, '&timeout=5'))
    expect(got.length).toBe(100)
    expect(new Set(got).size).toBe(100)
    expect((await poll(tb, '&timeout=0')).status).toBe(204)
    // the stored position is the newest delivered message
    const [row] = await server.ctx.database.db
      .select()
      .from(pollCursors)
      .where(and(eq(pollCursors.session, b), eq(pollCursors.platform, 4)))
    const history = await q.ok('/get_conversation_lastone_msg', { conversation_id: conv }, ta)
    expect(row!.lastMessageId).toBe(parseMsgId(history.Msg[0].MsgId) as number)
  })

  test('a poller polling in a loop while 100 messages are sent gets each exactly once, in send order', async () => {
    const [a, b] = [session('a'), session('b')]
    const conv = await q.conversation([a, b])
    const ta = await q.token(a)
    const tb = await q.token(b)
    expect((await poll(tb, '&timeout=0')).status).toBe(204)
    const got: { MsgId: string; Content: string }[] = []
    let sending = true
    const sender = (async () => {
      for (let i = 0; i < 100; i++) await q.send(ta, conv, `m${i}`)
      sending = false
    })()
    while (sending || got.length < 100) {
      const res = await poll(tb, '&timeout=2')
      if (res.status === 204) continue
      got.push(...((await res.json()) as any).data.Msg)
    }
    await sender
    expect(got.map((m) => m.Content)).toEqual(Array.from({ length: 100 }, (_, i) => `m${i}`))
    expect([...got.map((m) => m.MsgId)].sort()).toEqual(got.map((m) => m.MsgId))
  })

  test('positions are per platform; cursor= reads from there and moves the stored position', async () => {
    const a = session('a')
    const conv = await q.conversation([a])
    const t1 = await q.token(a, 1)
    const t2 = await q.token(a, 2)
    await Promise.all([poll(t1, '&timeout=0'), poll(t2, '&timeout=0')])
    const first = await q.send(t1, conv, 'one')
    await q.send(t1, conv, 'two')
    expect(await contents(await poll(t1, '&timeout=1'))).toEqual(['one', 'two'])
    expect(await contents(await poll(t2, `&timeout=1&cursor=${first}`))).toEqual(['two'])
    await q.send(t1, conv, 'three')
    expect(await contents(await poll(t2, '&timeout=1'))).toEqual(['three'])
    expect(await contents(await poll(t1, `&timeout=1&cursor=${parseMsgId(first)}`))).toEqual(['two', 'three'])
  })

  test('a malformed cursor or timeout → 10001', async () => {
    const token = await q.token(session('a'))
    expect(await (await poll(token, '&cursor=bogus')).json()).toEqual({ code: 10001, error: expect.stringContaining('cursor') })
    expect(await (await poll(token, '&timeout=soon')).json()).toEqual({ code: 10001, error: expect.stringContaining('timeout') })
  })
})
