/**
 * Edge cases of the quick-im contract (SPEC §4) found by an adversarial audit: bounds, field
 * names in 10001, authentication before parsing, MsgId forms, conversation listing, OpenAPI.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { startTestServer, type TestServer } from '../../helpers/server'
import { parseMsgId } from '../../../src/core/quickim/msg-id'
import { eventually } from '../../helpers/wait'
import { openSse, QuickIm } from './client'

let server: TestServer
let q: QuickIm
let alice: string
beforeAll(async () => {
  server = await startTestServer({ maxPayloadBytes: 1024 })
  q = new QuickIm(server)
  alice = await q.token('alice')
}, 30_000)
afterAll(() => server.stop())

const wk = (path: string, body: unknown) =>
  fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })

describe('10001 names the field, never 10002', () => {
  test('conversation_type beyond what can be stored', async () => {
    for (const conversation_type of [1e30, 2 ** 63, -(2 ** 60)]) {
      expect(await q.post('/create_conversation', { conversation_type }, alice)).toEqual({ code: 10001, error: expect.stringContaining('conversation_type') })
      expect(await q.post('/inner/create_conversation', { conversation_type, sessions: ['alice'] })).toEqual({ code: 10001, error: expect.stringContaining('conversation_type') })
    }
    expect((await q.post('/create_conversation', { conversation_type: Number.MAX_SAFE_INTEGER }, alice)).code).toBe(0)
  })

  test('integers are JSON numbers: numeric strings are refused, like Go decoding refuses them', async () => {
    expect(await q.post('/inner/get_token', { session: 'alice', platform: '1' })).toEqual({ code: 10001, error: expect.stringContaining('platform') })
    const id = await q.conversation(['alice'])
    expect(await q.post('/send_msg', { conversation_id: id, content: 'x', type: '5' }, alice)).toEqual({ code: 10001, error: expect.stringContaining('type') })
    expect(await q.post('/create_conversation', { conversation_type: '3' }, alice)).toEqual({ code: 10001, error: expect.stringContaining('conversation_type') })
    expect((await q.ok('/get_conversation_last_30_msg', { conversation_id: id }, alice)).Msg).toEqual([])
  })

  test('a NUL character in an id (Postgres text cannot hold it) names the field', async () => {
    const nul = 'a\u0000b'
    expect(await q.post('/inner/get_token', { session: nul, platform: 1 })).toEqual({ code: 10001, error: expect.stringContaining('session') })
    expect(await q.post('/inner/create_conversation', { sessions: ['alice', nul] })).toEqual({ code: 10001, error: expect.stringContaining('sessions') })
    for (const path of ['/send_msg', '/join_conversation', '/get_conversation_detail', '/check_joined_conversation'])
      expect(await q.post(path, { conversation_id: nul, content: 'x' }, alice)).toEqual({ code: 10001, error: expect.stringContaining('conversation_id') })
    expect(await q.post('/inner/set_archive_conversations', { conversation_ids: [nul], is_archive: true })).toEqual({ code: 10001, error: expect.stringContaining('conversation_ids') })
    // content is bytes: a NUL there is just a character
    const id = await q.conversation(['alice'])
    await q.send(alice, id, nul)
    expect((await q.ok('/get_conversation_lastone_msg', { conversation_id: id }, alice)).Msg[0].Content).toBe(nul)
  })

  test('an object with a "toString" or "valueOf" key where text belongs (the validator could not print it) names the field', async () => {
    expect(await q.post('/inner/get_token', { session: { toString: 'x' }, platform: 1 })).toEqual({ code: 10001, error: expect.stringMatching(/^session: /) })
    expect(await q.post('/send_msg', { conversation_id: { valueOf: 1 }, content: 'x' }, alice)).toEqual({ code: 10001, error: expect.stringMatching(/^conversation_id: /) })
    expect(await q.post('/inner/create_conversation', { sessions: ['alice', { toString: 'x' }] })).toEqual({ code: 10001, error: expect.stringMatching(/^sessions\.1: /) })
    expect(await q.post('/inner/get_token', '{"session":{"valu\\u0065Of":"x"},"platform":1}')).toEqual({ code: 10001, error: expect.stringMatching(/^session: /) })
    // still authentication first
    expect((await q.post('/send_msg', { conversation_id: { valueOf: 1 }, content: 'x' }, 'not-a-token')).code).toBe(10101)
  })

  test('content over the payload limit names content', async () => {
    const id = await q.conversation(['alice'])
    const r = await q.post('/send_msg', { conversation_id: id, content: 'é'.repeat(600) }, alice)
    expect(r).toEqual({ code: 10001, error: expect.stringContaining('content') })
    expect((await q.ok('/get_conversation_last_30_msg', { conversation_id: id }, alice)).Msg).toEqual([])
  })

  test('a bad poll timeout names timeout', async () => {
    for (const timeout of ['-1', 'abc', '1e999']) {
      const res = await fetch(`${server.url}/notify?protoc=poll&timeout=${timeout}&token=${encodeURIComponent(alice)}`)
      expect(await res.json()).toEqual({ code: 10001, error: expect.stringContaining('timeout') })
    }
  })
})

describe('authentication comes before parsing', () => {
  test('malformed JSON without a valid client token → 10101', async () => {
    for (const token of [undefined, 'garbage']) {
      const r = await q.post('/send_msg', '{not json', token)
      expect(r).toEqual({ code: 10101, error: expect.any(String) })
    }
    expect(await q.post('/send_msg', '{not json', alice)).toEqual({ code: 10001, error: expect.stringContaining('body') })
  })

  test('malformed JSON without the manager token → 10003', async () => {
    const guarded = await startTestServer({ managerToken: 'm-secret' })
    const g = new QuickIm(guarded)
    expect(await g.post('/inner/get_token', '{not json')).toEqual({ code: 10003, error: expect.any(String) })
    expect(await g.post('/inner/get_token', '{not json', 'm-secret')).toEqual({ code: 10001, error: expect.stringContaining('body') })
    await guarded.stop()
  }, 30_000)
})

describe('bodies are JSON whatever their content-type (the Go gateway decodes the body as JSON)', () => {
  const raw = (path: string, body: string, headers: Record<string, string>) =>
    fetch(`${server.url}${path}`, { method: 'POST', headers, body }).then((r) => r.json() as Promise<any>)

  test('form, text or no content-type', async () => {
    const id = await q.conversation(['alice'])
    for (const contentType of ['application/x-www-form-urlencoded', 'text/plain', 'multipart/form-data; boundary=x', undefined]) {
      const headers: Record<string, string> = { authorization: alice, ...(contentType ? { 'content-type': contentType } : {}) }
      const r = await raw('/send_msg', JSON.stringify({ conversation_id: id, content: `as ${contentType}` }), headers)
      expect(r).toEqual({ code: 0, data: { MsgID: expect.any(String) } })
      const t = await raw('/inner/get_token', JSON.stringify({ session: 'alice', platform: 2 }), contentType ? { 'content-type': contentType } : {})
      expect(t).toEqual({ code: 0, data: expect.any(String) })
      expect(await raw('/send_msg', 'conversation_id=x&content=y', headers)).toEqual({ code: 10001, error: expect.stringContaining('body') })
    }
    expect((await q.ok('/get_conversation_last_30_msg', { conversation_id: id }, alice)).Msg).toHaveLength(4)
  })
})

describe('MsgId forms', () => {
  test('well-formed ids above 2^53−1, as JSON numbers or long decimals → 10004', async () => {
    const id = await q.conversation(['alice'])
    const first = await q.send(alice, id, 'one')
    const bodies = [
      { msg_id: 1e300 },
      { msg_id: 2 ** 64 },
      { msg_id: '1' + '0'.repeat(40) },
      { msg_id: '0'.repeat(40) + '1' + '0'.repeat(20) },
    ]
    for (const b of bodies) {
      const r = await q.post('/get_conversation_30msg_after_the_id', { conversation_id: id, ...b }, alice)
      expect(r).toEqual({ code: 10004, error: expect.stringContaining('msg_id') })
    }
    // a decimal with leading zeros still names that message
    const decimal = '0'.repeat(30) + String(parseMsgId(first))
    const r = await q.post('/get_conversation_msg_by_range', { conversation_id: id, start_msg_id: decimal, end_msg_id: first }, alice)
    expect(r.data.Msg.map((m: { MsgId: string }) => m.MsgId)).toEqual([first])
  })
})

describe('conversations', () => {
  test('/get_joined_conversation lists group channels only (not other WuKongIM channel types)', async () => {
    const session = 'lister'
    const token = await q.token(session)
    const conv = await q.conversation([session])
    expect((await wk('/channel', { channel_id: 'cs-room', channel_type: 3, subscribers: [session] })).status).toBe(200)
    expect((await wk('/channel', { channel_id: conv, channel_type: 5, subscribers: [session] })).status).toBe(200)
    expect((await q.ok('/get_joined_conversation', {}, token)).Conversations).toEqual([conv])
  })
})

describe('OpenAPI', () => {
  test('every quick-im route documents its request and its enveloped response', async () => {
    const doc = (await (await fetch(`${server.url}/swagger/json`)).json()) as { paths: Record<string, Record<string, any>> }
    const posts = [
      '/send_msg', '/create_conversation', '/join_conversation', '/leave_conversation', '/check_joined_conversation',
      '/get_joined_conversation', '/get_conversation_detail', '/get_lastone_msgid', '/get_conversation_msg_by_range',
      '/get_conversation_30msg_before_the_id', '/get_conversation_30msg_after_the_id', '/get_conversation_last_30_msg',
      '/get_conversation_lastone_msg', '/inner/get_token', '/inner/create_conversation', '/inner/join_conversation',
      '/inner/kickout_conversation', '/inner/set_archive_conversations',
    ]
    for (const path of posts) {
      const op = doc.paths[path]?.post
      expect(op).toBeDefined()
      // the request's fields, not only that there is a body
      expect(Object.keys(op.requestBody?.content?.['application/json']?.schema?.properties ?? {}).length, path).toBeGreaterThan(0)
      const schema = op.responses?.['200']?.content?.['application/json']?.schema
      expect(schema, path).toBeDefined()
      expect(JSON.stringify(schema)).toContain('"code"')
    }
    const send = JSON.stringify(doc.paths['/send_msg']!.post.responses['200'])
    expect(send).toContain('MsgID')
    const history = JSON.stringify(doc.paths['/get_conversation_last_30_msg']!.post.responses['200'])
    for (const field of ['MsgId', 'ConversationID', 'FromSession', 'SendTime', 'Status', 'Type', 'Content']) expect(history).toContain(field)
    const notify = doc.paths['/notify']?.get
    expect(notify.responses?.['200']).toBeDefined()
    expect(JSON.stringify(notify.parameters)).toContain('cursor')
  })
})

describe('concurrency', () => {
  test('many joins, leaves, kicks and creates at once: every call answers, the end state is exact', async () => {
    const conv = await q.conversation(['cc-owner'])
    const tokens = await Promise.all(Array.from({ length: 30 }, (_, i) => q.token(`cc-${i}`)))
    const repeated = await Promise.all(Array.from({ length: 20 }, () => q.post('/join_conversation', { conversation_id: conv }, tokens[0])))
    expect(repeated.every((r) => r.code === 0)).toBe(true)
    const mixed = await Promise.all(
      tokens.flatMap((t, i) => [
        q.post('/join_conversation', { conversation_id: conv }, t),
        q.post('/inner/join_conversation', { conversation_id: conv, sessions: [`cc-extra-${i}`] }),
        q.post('/inner/kickout_conversation', { conversation_id: conv, sessions: [`cc-never-${i}`] }),
        q.post('/inner/create_conversation', { sessions: [`cc-${i}`, 'cc-owner'] }),
      ]),
    )
    expect(mixed.filter((r) => r.code !== 0)).toEqual([])
    const created = mixed.filter((_, i) => i % 4 === 3).map((r) => r.data.ConversationId)
    expect(new Set(created).size).toBe(30)
    // now half of them leave, all at once
    const leaves = await Promise.all(tokens.filter((_, i) => i % 2).map((t) => q.post('/leave_conversation', { conversation_id: conv }, t)))
    expect(leaves.every((r) => r.code === 0)).toBe(true)
    const joined = await Promise.all(tokens.map((t) => q.ok('/check_joined_conversation', { conversation_id: conv }, t)))
    expect(joined.map((j) => j.Joined)).toEqual(tokens.map((_, i) => i % 2 === 0))
    expect((await q.ok('/get_joined_conversation', {}, await q.token('cc-owner'))).Conversations.sort()).toEqual([conv, ...created].sort())
  }, 30_000)
})

describe('kicked sessions stop receiving at once', () => {
  test('on sse and on a waiting poll, without reconnecting', async () => {
    const conv = await q.conversation(['kk-member', 'kk-sender'])
    const member = await q.token('kk-member', 1)
    const poller = await q.token('kk-member', 2)
    const sender = await q.token('kk-sender')
    const sse = await openSse(`${server.url}/notify?protoc=sse&token=${encodeURIComponent(member)}`)
    const url = `${server.url}/notify?protoc=poll&token=${encodeURIComponent(poller)}`
    expect((await fetch(`${url}&timeout=0`)).status).toBe(204)
    const before = await q.send(sender, conv, 'before')
    await eventually(() => sse.messages().length === 1)
    const first = await fetch(`${url}&timeout=0`)
    expect(((await first.json()) as any).data.Msg.map((m: { MsgId: string }) => m.MsgId)).toEqual([before])
    await eventually(() => server.ctx.hub.online(['kk-member']).length === 1) // the sse (polls come and go)
    const waiting = fetch(`${url}&timeout=2`)
    await eventually(() => server.ctx.hub.online(['kk-member']).length === 2)
    await q.ok('/inner/kickout_conversation', { conversation_id: conv, sessions: ['kk-member'] })
    await q.send(sender, conv, 'after')
    expect((await waiting).status).toBe(204)
    expect((await fetch(`${url}&timeout=0`)).status).toBe(204)
    // the sse stays open (other conversations) but got nothing more
    await q.send(sender, conv, 'after 2')
    const other = await q.conversation(['kk-member', 'kk-sender'])
    const elsewhere = await q.send(sender, other, 'elsewhere')
    await eventually(() => sse.messages().length === 2)
    expect(sse.messages().map((m) => m.MsgId)).toEqual([before, elsewhere])
    sse.close()
  })
})
