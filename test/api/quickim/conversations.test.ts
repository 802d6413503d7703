import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { TokenSigner } from '../../../src/core/quickim/token'
import { startTestServer, type TestServer } from '../../helpers/server'
import { QuickIm } from './client'

const SECRET = 'test-secret-conversations'
let server: TestServer
let q: QuickIm
let alice: string
let bob: string

beforeAll(async () => {
  server = await startTestServer({ tokenSecret: SECRET })
  q = new QuickIm(server)
  alice = await q.token('alice')
  bob = await q.token('bob')
}, 30_000)
afterAll(() => server.stop())

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

describe('conversations', () => {
  test('create: a lowercase UUID, caller is member, conversation_type kept', async () => {
    const { ConversationId: id } = await q.ok('/create_conversation', { conversation_type: 7 }, alice)
    expect(id).toMatch(UUID)
    expect(await q.ok('/check_joined_conversation', { conversation_id: id }, alice)).toEqual({ Joined: true })
    expect(await q.ok('/check_joined_conversation', { conversation_id: id }, bob)).toEqual({ Joined: false })
    const detail = await q.ok('/get_conversation_detail', { conversation_id: id }, alice)
    expect(detail).toEqual({ ConversationID: id, LastMsgID: null, LastSendTime: 0, IsDelete: false, ConversationType: 7, LastSendSession: '', IsArchive: false })
    expect(await q.ok('/get_lastone_msgid', { conversation_id: id }, alice)).toEqual({ MsgId: null })
  })

  test('join and leave are idempotent; joined list follows', async () => {
    const id = await q.conversation(['alice'])
    for (let i = 0; i < 2; i++) expect(await q.ok('/join_conversation', { conversation_id: id }, bob)).toEqual({ ConversationId: id })
    expect((await q.ok('/get_joined_conversation', {}, bob)).Conversations).toContain(id)
    for (let i = 0; i < 2; i++) expect(await q.ok('/leave_conversation', { conversation_id: id }, bob)).toEqual({ ConversationId: id })
    expect((await q.ok('/get_joined_conversation', { SessionId: 'alice' }, bob)).Conversations).not.toContain(id)
  })

  test('send: MsgID, detail and lastone follow the newest message', async () => {
    const id = await q.conversation(['alice', 'bob'], 3)
    const m1 = await q.send(alice, id, 'one')
    const m2 = await q.send(bob, id, 'two')
    expect(m2 > m1).toBe(true)
    const detail = await q.ok('/get_conversation_detail', { conversation_id: id }, alice)
    expect(detail.LastMsgID).toBe(m2)
    expect(detail.LastSendSession).toBe('bob')
    expect(Number.isInteger(detail.LastSendTime)).toBe(true)
    expect(Math.abs(detail.LastSendTime / 1000 - Date.now())).toBeLessThan(60_000)
    expect(await q.ok('/get_lastone_msgid', { conversation_id: id }, bob)).toEqual({ MsgId: m2 })
  })

  test('inner: create with sessions, join, kick out', async () => {
    const id = await q.conversation(['alice'])
    await q.ok('/inner/join_conversation', { conversation_id: id, sessions: ['bob', 'carol'] })
    expect(await q.ok('/check_joined_conversation', { conversation_id: id }, bob)).toEqual({ Joined: true })
    expect(await q.ok('/inner/kickout_conversation', { conversation_id: id, sessions: ['bob'] })).toEqual({ ConversationId: id })
    expect(await q.ok('/check_joined_conversation', { conversation_id: id }, bob)).toEqual({ Joined: false })
    expect((await q.post('/send_msg', { conversation_id: id, content: 'x' }, bob)).code).toBe(10003)
  })

  test('archive: history readable, no sends, no joins; unarchive restores', async () => {
    const id = await q.conversation(['alice', 'bob'])
    const m1 = await q.send(alice, id, 'before archive')
    await q.ok('/inner/set_archive_conversations', { conversation_ids: [id], is_archive: true })
    expect((await q.ok('/get_conversation_detail', { conversation_id: id }, alice)).IsArchive).toBe(true)
    const refused = await q.post('/send_msg', { conversation_id: id, content: 'x' }, alice)
    expect(refused.code).toBe(10005)
    expect(refused.data).toBeUndefined()
    expect(typeof refused.error).toBe('string')
    expect((await q.post('/join_conversation', { conversation_id: id }, await q.token('dave'))).code).toBe(10005)
    expect((await q.post('/inner/join_conversation', { conversation_id: id, sessions: ['dave'] })).code).toBe(10005)
    expect((await q.ok('/get_conversation_last_30_msg', { conversation_id: id }, bob)).Msg.map((m: any) => m.MsgId)).toEqual([m1])
    await q.ok('/inner/set_archive_conversations', { conversation_ids: [id], is_archive: false })
    await q.send(alice, id, 'after unarchive')
  })
})

test('every quick-im route is in the OpenAPI document', async () => {
  const doc = (await (await fetch(`${server.url}/swagger/json`)).json()) as { paths: Record<string, unknown> }
  for (const path of ['/notify', '/send_msg', '/create_conversation', '/get_conversation_msg_by_range', '/inner/get_token', '/inner/set_archive_conversations'])
    expect(Object.keys(doc.paths)).toContain(path)
})

describe('error codes', () => {
  test('10001 invalid parameter names the field; nothing changes', async () => {
    const id = await q.conversation(['alice'])
    const missing = await q.post('/send_msg', { conversation_id: id }, alice)
    expect(missing).toEqual({ code: 10001, error: expect.stringContaining('content') })
    const wrongType = await q.post('/send_msg', { conversation_id: id, content: 'x', type: 'one' }, alice)
    expect(wrongType).toEqual({ code: 10001, error: expect.stringContaining('type') })
    expect((await q.post('/inner/get_token', { session: 'a@b', platform: 1 })).error).toContain('session')
    expect((await q.post('/inner/get_token', { session: 'x', platform: 256 })).error).toContain('platform')
    expect((await q.post('/inner/create_conversation', { sessions: [] })).error).toContain('sessions')
    expect(await q.post('/send_msg', '{not json', alice)).toEqual({ code: 10001, error: expect.stringContaining('body') })
    const bad = await q.post('/get_conversation_30msg_before_the_id', { conversation_id: id, msg_id: 'nope' }, alice)
    expect(bad).toEqual({ code: 10001, error: expect.stringContaining('msg_id') })
    expect((await q.ok('/get_conversation_last_30_msg', { conversation_id: id }, alice)).Msg).toEqual([])
  })

  test('10002 internal error, without internals', async () => {
    const other = await startTestServer()
    const o = new QuickIm(other)
    const token = await o.token('alice')
    await other.ctx.database.close()
    const r = await o.post('/get_joined_conversation', {}, token)
    expect(r).toEqual({ code: 10002, error: 'internal error' })
    await other.stop()
  }, 30_000)

  test('10003 not a member', async () => {
    const id = await q.conversation(['alice'])
    for (const path of ['/send_msg', '/get_conversation_detail', '/get_conversation_last_30_msg', '/get_lastone_msgid'])
      expect((await q.post(path, { conversation_id: id, content: 'x' }, bob)).code).toBe(10003)
  })

  test('10003 bad manager token on /inner/*; header token or Bearer accepted', async () => {
    const guarded = await startTestServer({ managerToken: 'm-secret' })
    const g = new QuickIm(guarded)
    const body = { session: 'alice', platform: 1 }
    expect((await g.post('/inner/get_token', body)).code).toBe(10003)
    expect((await g.post('/inner/get_token', body, undefined, { token: 'wrong' })).code).toBe(10003)
    expect((await g.post('/inner/get_token', body, undefined, { token: 'm-secret' })).code).toBe(0)
    expect((await g.post('/inner/get_token', body, 'm-secret')).code).toBe(0)
    await guarded.stop()
  }, 30_000)

  test('10004 unknown conversation or message', async () => {
    expect((await q.post('/send_msg', { conversation_id: 'no-such-conversation', content: 'x' }, alice)).code).toBe(10004)
    expect((await q.post('/join_conversation', { conversation_id: crypto.randomUUID() }, alice)).code).toBe(10004)
    expect((await q.post('/inner/set_archive_conversations', { conversation_ids: ['nope'], is_archive: true })).code).toBe(10004)
    const id = await q.conversation(['alice'])
    const other = await q.conversation(['alice'])
    const foreign = await q.send(alice, other, 'elsewhere')
    for (const msg_id of ['ZZZZZ-ZZZZ-ZZZZ-ZZZ', '9007199254740993', '22222-2222-2222-222', foreign])
      expect((await q.post('/get_conversation_30msg_after_the_id', { conversation_id: id, msg_id }, alice)).code).toBe(10004)
  })

  test('10101 missing, invalid or expired token', async () => {
    const id = await q.conversation(['alice'])
    expect((await q.post('/send_msg', { conversation_id: id, content: 'x' })).code).toBe(10101)
    expect((await q.post('/send_msg', { conversation_id: id, content: 'x' }, 'garbage')).code).toBe(10101)
    const expired = new TokenSigner(SECRET, 60, () => Date.now() - 120_000).sign('alice', 1)
    expect((await q.post('/send_msg', { conversation_id: id, content: 'x' }, expired)).code).toBe(10101)
    // a valid token: without the Bearer prefix, or in the query
    const res = await fetch(`${server.url}/check_joined_conversation`, { method: 'POST', headers: { authorization: alice, 'content-type': 'application/json' }, body: JSON.stringify({ conversation_id: id }) })
    expect(await res.json()).toEqual({ code: 0, data: { Joined: true } })
    const viaQuery = await fetch(`${server.url}/check_joined_conversation?token=${encodeURIComponent(alice)}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ conversation_id: id }) })
    expect(await viaQuery.json()).toEqual({ code: 0, data: { Joined: true } })
    const notify = await fetch(`${server.url}/notify?protoc=poll&token=bad`)
    expect(await notify.json()).toEqual({ code: 10101, error: expect.any(String) })
  })

  test('90013 unsupported protoc', async () => {
    for (const protoc of ['tcp', '']) {
      const res = await fetch(`${server.url}/notify?protoc=${protoc}&token=${encodeURIComponent(alice)}`)
      expect(res.status).toBe(200)
      expect(await res.json()).toEqual({ code: 90013, error: expect.any(String) })
    }
  })
})
