/** POST /channel/messagesync: the pull_mode semantics of SPEC §3 and seed 000's six examples. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { startTestServer, type TestServer } from '../../helpers/server'
import { apiClient, b64, unb64 } from './client'

let server: TestServer
let api: ReturnType<typeof apiClient>
const seqsOf = (r: { body: { messages: { message_seq: number }[] } }) => r.body.messages.map((m) => m.message_seq)
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i)

beforeAll(async () => {
  server = await startTestServer()
  api = apiClient(server.url)
  await api.post('/channel', { channel_id: 'hist', channel_type: 2, subscribers: ['u1', 'u2'] })
  // 250 messages, sent in bursts so seqs come from several batches
  for (let burst = 0; burst < 5; burst++) {
    await Promise.all(
      range(1, 50).map(() => api.post('/message/send', { from_uid: 'u1', channel_id: 'hist', channel_type: 2, payload: b64('m') })),
    )
  }
}, 60_000)
afterAll(() => server.stop(), 30_000)

const sync = (body: Record<string, unknown>) => api.post('/channel/messagesync', { login_uid: 'u2', channel_id: 'hist', channel_type: 2, ...body })

describe('seed 000 examples, pull_mode 1 (up)', () => {
  test('start 100, end 200, limit 10 → 100..109 (limit wins)', async () => {
    const r = await sync({ start_message_seq: 100, end_message_seq: 200, limit: 10, pull_mode: 1 })
    expect(r.status).toBe(200)
    expect(seqsOf(r)).toEqual(range(100, 109))
    expect(r.body.more).toBe(1)
    expect(r.body.start_message_seq).toBe(100)
    expect(r.body.end_message_seq).toBe(200)
  })
  test('start 100, end 105, limit 10 → 100..104 (end wins, exclusive)', async () => {
    const r = await sync({ start_message_seq: 100, end_message_seq: 105, limit: 10, pull_mode: 1 })
    expect(seqsOf(r)).toEqual(range(100, 104))
    expect(r.body.more).toBe(0)
  })
  test('start 100, end 0, limit 10 → 100..109', async () => {
    const r = await sync({ start_message_seq: 100, end_message_seq: 0, limit: 10, pull_mode: 1 })
    expect(seqsOf(r)).toEqual(range(100, 109))
    expect(r.body.more).toBe(1)
  })
})

describe('seed 000 examples, pull_mode 0 (down)', () => {
  test('start 100, end 50, limit 10 → 91..100 ascending', async () => {
    const r = await sync({ start_message_seq: 100, end_message_seq: 50, limit: 10, pull_mode: 0 })
    expect(seqsOf(r)).toEqual(range(91, 100))
    expect(r.body.more).toBe(1)
  })
  test('start 100, end 95, limit 10 → 96..100', async () => {
    const r = await sync({ start_message_seq: 100, end_message_seq: 95, limit: 10, pull_mode: 0 })
    expect(seqsOf(r)).toEqual(range(96, 100))
    expect(r.body.more).toBe(0)
  })
  test('start 100, end 0, limit 10 → 91..100', async () => {
    const r = await sync({ start_message_seq: 100, end_message_seq: 0, limit: 10, pull_mode: 0 })
    expect(seqsOf(r)).toEqual(range(91, 100))
    expect(r.body.more).toBe(1)
  })
})

describe('edges', () => {
  test('start = end = 0 gives the newest limit whatever the pull mode', async () => {
    for (const pull_mode of [0, 1]) {
      const r = await sync({ start_message_seq: 0, end_message_seq: 0, limit: 20, pull_mode })
      expect(seqsOf(r)).toEqual(range(231, 250))
      expect(r.body.more).toBe(1)
    }
    const all = await sync({ limit: 1000 })
    expect(seqsOf(all)).toEqual(range(1, 250))
    expect(all.body.more).toBe(0)
  })
  test('pull up from 0 starts at the first message; down from 0 starts at the newest', async () => {
    expect(seqsOf(await sync({ start_message_seq: 0, end_message_seq: 5, limit: 100, pull_mode: 1 }))).toEqual(range(1, 4))
    const down = await sync({ start_message_seq: 0, end_message_seq: 245, limit: 100, pull_mode: 0 })
    expect(seqsOf(down)).toEqual(range(246, 250))
    expect(down.body.more).toBe(0)
  })
  test('more is 0 at the ends of history', async () => {
    const up = await sync({ start_message_seq: 241, limit: 10, pull_mode: 1 })
    expect(seqsOf(up)).toEqual(range(241, 250))
    expect(up.body.more).toBe(0)
    const down = await sync({ start_message_seq: 10, limit: 10, pull_mode: 0 })
    expect(seqsOf(down)).toEqual(range(1, 10))
    expect(down.body.more).toBe(0)
  })
  test('limit defaults to 100 and is capped at 10000', async () => {
    expect(seqsOf(await sync({ start_message_seq: 1, pull_mode: 1 }))).toEqual(range(1, 100))
    expect(seqsOf(await sync({ start_message_seq: 1, pull_mode: 1, limit: 50_000 }))).toEqual(range(1, 250))
  })
  test('message JSON carries the seed fields, payload base64', async () => {
    const [m] = (await sync({ start_message_seq: 1, limit: 1, pull_mode: 1 })).body.messages
    expect(Object.keys(m).sort()).toEqual(
      ['channel_id', 'channel_type', 'client_msg_no', 'expire', 'from_uid', 'header', 'message_id', 'message_idstr', 'message_seq', 'payload', 'setting', 'timestamp'].sort(),
    )
    expect(m.header).toEqual({ no_persist: 0, red_dot: 1, sync_once: 0 })
    expect(unb64(m.payload)).toBe('m')
    expect(m.channel_id).toBe('hist')
    expect(m.timestamp).toBeGreaterThan(1_700_000_000)
    expect(m.timestamp).toBeLessThan(10_000_000_000)
  })
  test('unknown channel → 404; bad pull_mode → 400 naming it', async () => {
    const r = await api.post('/channel/messagesync', { login_uid: 'u2', channel_id: 'nope', channel_type: 2 })
    expect(r).toEqual({ status: 404, body: { status: 404, msg: expect.stringContaining('nope') } })
    const bad = await sync({ pull_mode: 2 })
    expect(bad.status).toBe(400)
    expect(bad.body.msg).toContain('pull_mode')
  })
  test('person channel history is named by the peer and shown as the peer', async () => {
    await api.post('/message/send', { from_uid: 'p1', channel_id: 'p2', channel_type: 1, payload: b64('hello') })
    await api.post('/message/send', { from_uid: 'p2', channel_id: 'p1', channel_type: 1, payload: b64('back') })
    const forP1 = await api.post('/channel/messagesync', { login_uid: 'p1', channel_id: 'p2', channel_type: 1 })
    expect(forP1.body.messages.map((m: any) => [m.message_seq, m.channel_id, unb64(m.payload)])).toEqual([
      [1, 'p2', 'hello'],
      [2, 'p2', 'back'],
    ])
    const forP2 = await api.post('/channel/messagesync', { login_uid: 'p2', channel_id: 'p1', channel_type: 1 })
    expect(forP2.body.messages.map((m: any) => m.channel_id)).toEqual(['p1', 'p1'])
    // two users who never wrote to each other: an empty history, not an error
    const never = await api.post('/channel/messagesync', { login_uid: 'p1', channel_id: 'p3', channel_type: 1 })
    expect(never).toEqual({ status: 200, body: { start_message_seq: 0, end_message_seq: 0, more: 0, messages: [] } })
  })
})
