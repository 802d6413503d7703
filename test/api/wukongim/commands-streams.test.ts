/** Command queues (/message/sync, /message/syncack) and streams (/stream/open, chunks, /stream/close). */
import { describe, expect, test } from 'bun:test'
import type { CoreEvent } from '../../../src/core/events'
import { type ApiClient, b64, unb64, usingApiServer } from './client'

let api: ApiClient
const events = usingApiServer(async (_server, a) => {
  api = a
  await api.post('/channel', { channel_id: 'cg', channel_type: 2, subscribers: ['c1', 'c2', 'c3'] })
})

describe('command queue', () => {
  test('per-uid gapless seqs, oldest first, limit, ack drops ≤ seq, idempotent', async () => {
    const ids: number[] = []
    for (let i = 1; i <= 5; i++) {
      const r = await api.post('/message/send', { from_uid: 'c1', channel_id: 'cg', channel_type: 2, header: { sync_once: 1, red_dot: 0 }, payload: b64(`cmd${i}`) })
      expect(r.body.message_seq).toBe(0)
      ids.push(r.body.message_id)
    }
    // a person command too: lands in c2's queue after the group ones
    await api.post('/message/send', { from_uid: 'c3', channel_id: 'c2', channel_type: 1, header: { sync_once: 1 }, payload: b64('pcmd') })
    const all = (await api.post('/message/sync', { uid: 'c2', limit: 100 })).body
    expect(all.map((m: any) => m.message_seq)).toEqual([1, 2, 3, 4, 5, 6])
    expect(all.slice(0, 5).map((m: any) => m.message_id)).toEqual(ids)
    expect(all.map((m: any) => unb64(m.payload))).toEqual(['cmd1', 'cmd2', 'cmd3', 'cmd4', 'cmd5', 'pcmd'])
    expect(all[5].channel_id).toBe('c3')
    expect((await api.post('/message/sync', { uid: 'c2', limit: 2 })).body.map((m: any) => m.message_seq)).toEqual([1, 2])
    expect((await api.post('/message/syncack', { uid: 'c2', last_message_seq: 3 })).body).toEqual({ status: 200 })
    expect((await api.post('/message/sync', { uid: 'c2' })).body.map((m: any) => m.message_seq)).toEqual([4, 5, 6])
    await api.post('/message/syncack', { uid: 'c2', last_message_seq: 3 })
    await api.post('/message/syncack', { uid: 'c2', last_message_seq: 0 })
    expect((await api.post('/message/sync', { uid: 'c2' })).body.map((m: any) => m.message_seq)).toEqual([4, 5, 6])
    await api.post('/message/syncack', { uid: 'c2', last_message_seq: 6 })
    expect((await api.post('/message/sync', { uid: 'c2' })).body).toEqual([])
    // c3 still has its five; the sender has none
    expect((await api.post('/message/sync', { uid: 'c3' })).body).toHaveLength(5)
    expect((await api.post('/message/sync', { uid: 'c1' })).body).toEqual([])
    // the queue seq keeps counting after an ack
    await api.post('/message/send', { from_uid: 'c1', channel_id: 'cg', channel_type: 2, header: { sync_once: 1 }, payload: b64('later') })
    expect((await api.post('/message/sync', { uid: 'c2' })).body.map((m: any) => m.message_seq)).toEqual([7])
  })
  test('bad input: missing uid, negative seq', async () => {
    expect((await api.post('/message/sync', {})).body).toEqual({ status: 400, msg: expect.stringContaining('uid') })
    expect((await api.post('/message/syncack', { uid: 'c2', last_message_seq: -1 })).body).toEqual({ status: 400, msg: expect.stringContaining('last_message_seq') })
  })
})

describe('streams', () => {
  test('open stores an anchor; chunks append in order under it; close ends it; messagesync and recents show them', async () => {
    const open = await api.post('/stream/open', { from_uid: 'c1', channel_id: 'cg', channel_type: 2, payload: b64('anchor'), client_msg_no: 'st1' })
    expect(open.status).toBe(200)
    expect(typeof open.body.stream_no).toBe('string')
    const stream_no = open.body.stream_no
    events.length = 0
    const acks = []
    for (const part of ['Hel', 'lo ', 'world']) {
      const r = await api.post('/message/send', { from_uid: 'c1', channel_id: 'cg', channel_type: 2, stream_no, payload: b64(part) })
      expect(r.status).toBe(200)
      acks.push(r.body)
    }
    // a chunk takes no seq of its own: its send answers the anchor's
    for (const a of acks) expect([a.message_id, a.message_seq]).toEqual([open.body.message_id, open.body.message_seq])
    const chunks = events.filter((e) => e.type === 'stream_chunk') as Extract<CoreEvent, { type: 'stream_chunk' }>[]
    expect(chunks.map((c) => [c.streamSeq, Buffer.from(c.payload).toString(), c.end])).toEqual([
      [1, 'Hel', false],
      [2, 'lo ', false],
      [3, 'world', false],
    ])
    const mid = (await api.post('/channel/messagesync', { login_uid: 'c2', channel_id: 'cg', channel_type: 2 })).body.messages.find((m: any) => m.stream_no === stream_no)
    expect(mid.stream_end).toBe(0)
    expect(mid.streams.map((s: any) => [s.stream_seq, unb64(s.payload)])).toEqual([
      [1, 'Hel'],
      [2, 'lo '],
      [3, 'world'],
    ])
    expect((await api.post('/stream/close', { stream_no, channel_id: 'cg', channel_type: 2 })).body).toEqual({ status: 200 })
    expect(events.some((e) => e.type === 'stream_chunk' && e.end)).toBe(true)
    const [conv] = (await api.post('/conversation/sync', { uid: 'c2', msg_count: 5 })).body.filter((c: any) => c.channel_id === 'cg')
    const anchor = conv.recents.find((m: any) => m.stream_no === stream_no)
    expect(anchor.stream_end).toBe(1)
    expect(anchor.streams.map((s: any) => unb64(s.payload)).join('')).toBe('Hello world')
    // closed: no more chunks
    const late = await api.post('/message/send', { from_uid: 'c1', channel_id: 'cg', channel_type: 2, stream_no, payload: b64('!') })
    expect(late.status).toBe(403)
  })
  test('unknown stream → 404; another channel → 400', async () => {
    expect((await api.post('/message/send', { from_uid: 'c1', channel_id: 'cg', channel_type: 2, stream_no: 'nope', payload: b64('x') })).status).toBe(404)
    const open = await api.post('/stream/open', { from_uid: 'c1', channel_id: 'cg', channel_type: 2, payload: b64('a') })
    await api.post('/channel', { channel_id: 'cg2', channel_type: 2, subscribers: ['c1'] })
    const r = await api.post('/message/send', { from_uid: 'c1', channel_id: 'cg2', channel_type: 2, stream_no: open.body.stream_no, payload: b64('x') })
    expect(r.body).toEqual({ status: 400, msg: expect.stringContaining('stream_no') })
    expect((await api.post('/stream/close', { stream_no: 'nope', channel_id: 'cg', channel_type: 2 })).status).toBe(404)
  })
})
