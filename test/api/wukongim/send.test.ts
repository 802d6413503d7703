/** POST /message/send and /message/sendbatch: seqs, idempotence, headers, rules, errors (SPEC §2, §3). */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { CoreEvent } from '../../../src/core/events'
import { startTestServer, type TestServer } from '../../helpers/server'
import { eventually } from '../../helpers/wait'
import { apiClient, b64, unb64 } from './client'
import { dbSnapshot } from './db-snapshot'

let server: TestServer
let api: ReturnType<typeof apiClient>
const events: CoreEvent[] = []
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i)

beforeAll(async () => {
  server = await startTestServer({ maxPayloadBytes: 4096 })
  api = apiClient(server.url)
  server.ctx.core.events.on((e) => events.push(e))
}, 60_000)
afterAll(() => server.stop(), 30_000)

const send = (body: Record<string, unknown>) => api.post('/message/send', { payload: b64('x'), ...body })
const history = async (channel_id: string, login_uid = '', channel_type = 2) =>
  (await api.post('/channel/messagesync', { login_uid, channel_id, channel_type, limit: 10_000, pull_mode: 1, start_message_seq: 1 })).body.messages as any[]

describe('seqs under concurrency', () => {
  test('20 concurrent senders × 200 messages on one channel → seqs exactly 1..4000', async () => {
    const senders = range(1, 20).map((i) => `s${i}`)
    await api.post('/channel', { channel_id: 'busy', channel_type: 2, subscribers: senders })
    const acks = await Promise.all(
      senders.map(async (uid) => {
        const got: number[] = []
        for (let i = 0; i < 200; i++) {
          const r = await send({ from_uid: uid, channel_id: 'busy', channel_type: 2, client_msg_no: `${uid}-${i}` })
          expect(r.status).toBe(200)
          got.push(r.body.message_seq)
        }
        // one sender's own messages get increasing seqs
        expect(got).toEqual([...got].sort((a, b) => a - b))
        return got
      }),
    )
    expect(acks.flat().sort((a, b) => a - b)).toEqual(range(1, 4000))
    const stored = await history('busy')
    expect(stored.map((m) => m.message_seq)).toEqual(range(1, 4000))
    // message_ids increase with seq (commit order)
    const ids = stored.map((m) => m.message_id)
    expect(ids).toEqual([...ids].sort((a, b) => a - b))
  }, 60_000)

  test('many channels at once: each channel gapless from 1', async () => {
    const channels = range(1, 25).map((i) => `c${i}`)
    for (const c of channels) await api.post('/channel', { channel_id: c, channel_type: 2, subscribers: ['w1', 'w2'] })
    await Promise.all(channels.flatMap((c) => range(1, 20).map((i) => send({ from_uid: i % 2 ? 'w1' : 'w2', channel_id: c, channel_type: 2 }))))
    for (const c of channels) expect((await history(c)).map((m) => m.message_seq)).toEqual(range(1, 20))
  }, 30_000)
})

describe('idempotence', () => {
  test('a repeated client_msg_no stores once and answers the first message, even inside one batch', async () => {
    await api.post('/channel', { channel_id: 'idem', channel_type: 2, subscribers: ['i1', 'i2'] })
    const first = await send({ from_uid: 'i1', channel_id: 'idem', channel_type: 2, client_msg_no: 'once', payload: b64('first') })
    const again = await send({ from_uid: 'i1', channel_id: 'idem', channel_type: 2, client_msg_no: 'once', payload: b64('second') })
    expect(again.body).toEqual(first.body)
    const burst = await Promise.all(range(1, 10).map(() => send({ from_uid: 'i2', channel_id: 'idem', channel_type: 2, client_msg_no: 'dup' })))
    expect(new Set(burst.map((r) => r.body.message_id)).size).toBe(1)
    const stored = await history('idem')
    expect(stored.map((m) => [m.message_seq, m.client_msg_no])).toEqual([
      [1, 'once'],
      [2, 'dup'],
    ])
    expect(unb64(stored[0].payload)).toBe('first')
    // the same client_msg_no from another sender is another message
    expect((await send({ from_uid: 'i2', channel_id: 'idem', channel_type: 2, client_msg_no: 'once' })).body.message_seq).toBe(3)
  })
  test('a repeat inside a batch of new messages: the new ones are stored gapless, the repeat answers the original', async () => {
    await api.post('/channel', { channel_id: 'idem-mix', channel_type: 2, subscribers: ['x1'] })
    const original = await send({ from_uid: 'x1', channel_id: 'idem-mix', channel_type: 2, client_msg_no: 'orig', payload: b64('orig') })
    // sent together, so they share batches: the repeat fails the optimistic attempt of its batch
    const burst = await Promise.all([
      ...range(1, 5).map((i) => send({ from_uid: 'x1', channel_id: 'idem-mix', channel_type: 2, client_msg_no: `new-${i}` })),
      send({ from_uid: 'x1', channel_id: 'idem-mix', channel_type: 2, client_msg_no: 'orig', payload: b64('again') }),
      ...range(6, 10).map((i) => send({ from_uid: 'x1', channel_id: 'idem-mix', channel_type: 2, client_msg_no: `new-${i}` })),
    ])
    expect(burst.every((r) => r.status === 200)).toBe(true)
    expect(burst[5]!.body).toEqual(original.body)
    const stored = await history('idem-mix')
    expect(stored.map((m) => m.message_seq)).toEqual(range(1, 11))
    expect(stored.filter((m) => m.client_msg_no === 'orig').length).toBe(1)
    expect(new Set(stored.map((m) => m.client_msg_no)).size).toBe(11)
  })
  test('generated client_msg_no values are unique', async () => {
    const rs = await Promise.all(range(1, 5).map(() => send({ from_uid: 'i1', channel_id: 'idem', channel_type: 2 })))
    expect(new Set(rs.map((r) => r.body.client_msg_no)).size).toBe(5)
  })
})

describe('headers and scopes', () => {
  beforeAll(async () => {
    await api.post('/channel', { channel_id: 'hdr', channel_type: 2, subscribers: ['h1', 'h2', 'h3'] })
  }, 60_000)
  test('no_persist=1: delivered live, not stored, seq 0, still a message_id', async () => {
    const before = await dbSnapshot(server)
    events.length = 0
    const r = await send({ from_uid: 'h1', channel_id: 'hdr', channel_type: 2, header: { no_persist: 1 }, payload: b64('live') })
    expect(r.status).toBe(200)
    expect(r.body.message_seq).toBe(0)
    expect(r.body.message_id).toBeGreaterThan(0)
    expect(await dbSnapshot(server)).toEqual(before)
    const e = events.find((x) => x.type === 'message') as Extract<CoreEvent, { type: 'message' }>
    expect(e.message.messageId).toBe(r.body.message_id)
    expect(e.message.header.noPersist).toBe(1)
    expect(e.to).toBeUndefined()
  })
  test('no_persist ids stay unique across reserved id blocks and never collide with stored ones', async () => {
    const core = server.ctx.core
    const live = await Promise.all(
      Array.from({ length: 2500 }, () => core.messages.send({ fromUid: 'h1', channelId: 'hdr', channelType: 2, payload: new Uint8Array([1]), header: { noPersist: 1 } })),
    )
    const stored = await send({ from_uid: 'h1', channel_id: 'hdr', channel_type: 2 })
    const ids = new Set([...live.map((r) => r.messageId), stored.body.message_id])
    expect(ids.size).toBe(2501)
    expect(live.every((r) => r.messageSeq === 0 && r.messageId > 0)).toBe(true)
    // keep the later tests' "nothing in history" view of this channel
    expect(stored.body.message_seq).toBe(1)
  })
  test('sync_once=1: seq 0, not in history, queued for every member but the sender', async () => {
    const r = await send({ from_uid: 'h1', channel_id: 'hdr', channel_type: 2, header: { sync_once: 1 }, payload: b64('cmd') })
    expect(r.body.message_seq).toBe(0)
    expect((await history('hdr')).map((m) => m.message_seq)).toEqual([1])
    for (const uid of ['h2', 'h3']) {
      const q = await api.post('/message/sync', { uid, limit: 10 })
      expect(q.body.map((m: any) => [m.message_seq, m.message_id, unb64(m.payload), m.header.sync_once])).toEqual([[1, r.body.message_id, 'cmd', 1]])
    }
    expect((await api.post('/message/sync', { uid: 'h1' })).body).toEqual([])
  })
  test('subscribers: only those uids, not in history; with sync_once only their queues', async () => {
    events.length = 0
    const r = await send({ from_uid: 'h1', channel_id: 'hdr', channel_type: 2, subscribers: ['h2'], payload: b64('psst') })
    expect(r.body.message_seq).toBe(0)
    expect((await history('hdr')).map((m) => m.message_seq)).toEqual([1])
    const e = events.find((x) => x.type === 'message') as Extract<CoreEvent, { type: 'message' }>
    expect(e.to).toEqual(['h2'])
    const c = await send({ from_uid: 'h1', channel_id: 'hdr', channel_type: 2, subscribers: ['h3'], header: { sync_once: 1 } })
    expect((await api.post('/message/sync', { uid: 'h3' })).body.map((m: any) => m.message_id)).toContain(c.body.message_id)
    expect((await api.post('/message/sync', { uid: 'h2' })).body.map((m: any) => m.message_id)).not.toContain(c.body.message_id)
  })
  test('a stored message emits one message event after commit with the stored fields', async () => {
    events.length = 0
    const r = await send({ from_uid: 'h2', channel_id: 'hdr', channel_type: 2, setting: 7, payload: b64('evt') })
    const e = (await eventually(() => events.find((x) => x.type === 'message'))) as Extract<CoreEvent, { type: 'message' }>
    expect(e.message).toMatchObject({ messageId: r.body.message_id, messageSeq: r.body.message_seq, setting: 7, fromUid: 'h2', channelId: 'hdr' })
    expect(Buffer.from(e.message.payload).toString()).toBe('evt')
  })
})

describe('person channels', () => {
  test('channel_id is the receiver; stored as a@b; both parties become subscribers', async () => {
    const r = await send({ from_uid: 'alice', channel_id: 'bob', channel_type: 1 })
    expect(r.body.message_seq).toBe(1)
    expect(await server.ctx.core.channels.isMember({ channelId: 'alice', channelType: 1 }, 'bob')).toBe(true)
    expect(await server.ctx.core.channels.isMember({ channelId: 'bob', channelType: 1 }, 'alice')).toBe(true)
    expect((await send({ from_uid: 'bob', channel_id: 'alice', channel_type: 1 })).body.message_seq).toBe(2)
    const stored = (await history('alice', 'bob', 1)).map((m) => m.channel_id)
    expect(stored).toEqual(['alice', 'alice'])
  })
  test('the receiver’s blacklist and whitelist decide who may write to them', async () => {
    await api.post('/channel/blacklist_add', { channel_id: 'carol', channel_type: 1, uids: ['mallory'] })
    const refused = await send({ from_uid: 'mallory', channel_id: 'carol', channel_type: 1 })
    expect(refused.status).toBe(403)
    expect(refused.body.msg).toContain('blacklist')
    await api.post('/channel/whitelist_set', { channel_id: 'carol', channel_type: 1, uids: ['dave'] })
    expect((await send({ from_uid: 'erin', channel_id: 'carol', channel_type: 1 })).status).toBe(403)
    expect((await send({ from_uid: 'dave', channel_id: 'carol', channel_type: 1 })).status).toBe(200)
  })
})

describe('group rules', () => {
  beforeAll(async () => {
    await api.post('/channel', { channel_id: 'rules', channel_type: 2, subscribers: ['r1', 'r2', 'r3'] })
  }, 60_000)
  test('non-members get 403; the system ("") may always send', async () => {
    const r = await send({ from_uid: 'outsider', channel_id: 'rules', channel_type: 2 })
    expect(r).toEqual({ status: 403, body: { status: 403, msg: expect.stringContaining('outsider') } })
    expect((await send({ from_uid: '', channel_id: 'rules', channel_type: 2 })).status).toBe(200)
    expect((await send({ channel_id: 'rules', channel_type: 2 })).status).toBe(200)
  })
  test('blacklist refuses, whitelist restricts, ban=1 leaves only the system', async () => {
    await api.post('/channel/blacklist_add', { channel_id: 'rules', channel_type: 2, uids: ['r1'] })
    expect((await send({ from_uid: 'r1', channel_id: 'rules', channel_type: 2 })).status).toBe(403)
    await api.post('/channel/blacklist_remove', { channel_id: 'rules', channel_type: 2, uids: ['r1'] })
    expect((await send({ from_uid: 'r1', channel_id: 'rules', channel_type: 2 })).status).toBe(200)
    await api.post('/channel/whitelist_add', { channel_id: 'rules', channel_type: 2, uids: ['r2'] })
    expect((await send({ from_uid: 'r1', channel_id: 'rules', channel_type: 2 })).status).toBe(403)
    expect((await send({ from_uid: 'r2', channel_id: 'rules', channel_type: 2 })).status).toBe(200)
    await api.post('/channel/whitelist_set', { channel_id: 'rules', channel_type: 2, uids: [] })
    await api.post('/channel', { channel_id: 'rules', channel_type: 2, ban: 1 })
    expect((await send({ from_uid: 'r3', channel_id: 'rules', channel_type: 2 })).status).toBe(403)
    expect((await send({ from_uid: '', channel_id: 'rules', channel_type: 2 })).status).toBe(200)
    await api.post('/channel', { channel_id: 'rules', channel_type: 2, ban: 0 })
    expect((await send({ from_uid: 'r3', channel_id: 'rules', channel_type: 2 })).status).toBe(200)
  })
  test('a removed subscriber cannot send at once; a re-added one can', async () => {
    await api.post('/channel/subscriber_remove', { channel_id: 'rules', channel_type: 2, subscribers: ['r3'] })
    expect((await send({ from_uid: 'r3', channel_id: 'rules', channel_type: 2 })).status).toBe(403)
    await api.post('/channel/subscriber_add', { channel_id: 'rules', channel_type: 2, subscribers: ['r3'] })
    expect((await send({ from_uid: 'r3', channel_id: 'rules', channel_type: 2 })).status).toBe(200)
  })
})

describe('bad input changes nothing', () => {
  const cases: [string, string | Record<string, unknown>, number, string][] = [
    ['malformed JSON', '{"from_uid": "a", ', 400, 'JSON'],
    ['empty body', '', 400, 'body'],
    ['a JSON array', '[1,2]', 400, 'body'],
    ['missing channel_id', { from_uid: 'r1', channel_type: 2, payload: b64('x') }, 400, 'channel_id'],
    ['missing payload', { from_uid: 'r1', channel_id: 'rules', channel_type: 2 }, 400, 'payload'],
    ['channel_type as a string', { from_uid: 'r1', channel_id: 'rules', channel_type: '2', payload: b64('x') }, 400, 'channel_type'],
    ['from_uid as a number', { from_uid: 5, channel_id: 'rules', channel_type: 2, payload: b64('x') }, 400, 'from_uid'],
    ['header.red_dot = 7', { from_uid: 'r1', channel_id: 'rules', channel_type: 2, payload: b64('x'), header: { red_dot: 7 } }, 400, 'header.red_dot'],
    ['payload not base64', { from_uid: 'r1', channel_id: 'rules', channel_type: 2, payload: 'not base64!' }, 400, 'payload'],
    ['payload base64url', { from_uid: 'r1', channel_id: 'rules', channel_type: 2, payload: '-_-_' }, 400, 'payload'],
    ['uid with @', { from_uid: 'a@b', channel_id: 'rules', channel_type: 2, payload: b64('x') }, 400, 'from_uid'],
    ['unknown channel', { from_uid: 'r1', channel_id: 'ghost', channel_type: 2, payload: b64('x') }, 404, 'ghost'],
    ['payload over the limit', { from_uid: 'r1', channel_id: 'rules', channel_type: 2, payload: b64('y'.repeat(5000)) }, 413, 'payload'],
    ['person channel from the system', { from_uid: '', channel_id: 'bob', channel_type: 1, payload: b64('x') }, 400, 'from_uid'],
    ['subscribers with a bad uid', { from_uid: 'r1', channel_id: 'rules', channel_type: 2, payload: b64('x'), subscribers: ['ok', 'no way'] }, 400, 'subscribers'],
  ]
  for (const [name, body, status, field] of cases) {
    test(`${name} → ${status} naming ${field}`, async () => {
      const before = await dbSnapshot(server)
      const r = typeof body === 'string' ? await api.postRaw('/message/send', body) : await api.post('/message/send', body)
      expect(r.status).toBe(status)
      expect(r.body).toEqual({ status, msg: expect.stringContaining(field) })
      expect(JSON.stringify(r.body)).not.toContain('    at ')
      expect(await dbSnapshot(server)).toEqual(before)
    })
  }
})

describe('sendbatch', () => {
  test('one person message to each uid; invalid and unknown uids reported in order', async () => {
    await api.post('/user/token', { uid: 'fan1', token: 't', device_flag: 0, device_level: 1 })
    await api.post('/user/token', { uid: 'fan2', token: 't', device_flag: 0, device_level: 1 })
    const r = await api.post('/message/sendbatch', { from_uid: 'admin', payload: b64('news'), subscribers: ['fan1', 'bad uid', 'fan2', 'nobody'] })
    expect(r.status).toBe(200)
    expect(r.body.fail_uids).toEqual(['bad uid', 'nobody'])
    expect(r.body.reason).toHaveLength(2)
    for (const fan of ['fan1', 'fan2']) {
      const h = await history(fan, 'admin', 1)
      expect(h.map((m) => [m.message_seq, unb64(m.payload), m.channel_id])).toEqual([[1, 'news', fan]])
    }
  })
  test('bad payload → 400 and nothing sent', async () => {
    const before = await dbSnapshot(server)
    const r = await api.post('/message/sendbatch', { from_uid: 'admin', payload: '%%%', subscribers: ['fan1'] })
    expect(r.body).toEqual({ status: 400, msg: expect.stringContaining('payload') })
    expect(await dbSnapshot(server)).toEqual(before)
  })
})
