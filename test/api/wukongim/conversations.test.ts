/** Conversations by read diffusion (seed 001, SPEC §3). */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { sql } from 'drizzle-orm'
import { rowsOf } from '../../../src/db/migrate'
import { startTestServer, type TestServer } from '../../helpers/server'
import { apiClient, b64, unb64 } from './client'

let server: TestServer
let api: ReturnType<typeof apiClient>
beforeAll(async () => {
  server = await startTestServer()
  api = apiClient(server.url)
}, 60_000)
afterAll(() => server.stop(), 30_000)

const send = (from_uid: string, channel_id: string, extra: Record<string, unknown> = {}, channel_type = 2) =>
  api.post('/message/send', { from_uid, channel_id, channel_type, payload: b64(`${from_uid}:${Math.random()}`), ...extra })
const convs = async (uid: string, extra: Record<string, unknown> = {}) => (await api.post('/conversation/sync', { uid, msg_count: 0, ...extra })).body as any[]
const conv = async (uid: string, channel_id: string) => (await convs(uid)).find((c) => c.channel_id === channel_id)

describe('unread', () => {
  beforeAll(async () => {
    await api.post('/channel', { channel_id: 'g', channel_type: 2, subscribers: ['a', 'b', 'c'] })
  }, 60_000)
  test('counts others’ messages only; sending marks the channel read for the sender', async () => {
    await send('a', 'g')
    await send('a', 'g')
    expect((await conv('b', 'g')).unread).toBe(2)
    expect((await conv('a', 'g')).unread).toBe(0)
    await send('b', 'g')
    expect((await conv('b', 'g')).unread).toBe(0)
    expect((await conv('a', 'g')).unread).toBe(1)
    expect((await conv('c', 'g')).unread).toBe(3)
  })
  test('red_dot=0 never counts', async () => {
    await send('a', 'g', { header: { red_dot: 0 } })
    expect((await conv('c', 'g')).unread).toBe(3)
    expect((await conv('c', 'g')).last_msg_seq).toBe(4)
  })
  test('setUnread sets exactly, up and down; clearUnread sets 0; new messages add on top', async () => {
    expect((await api.post('/conversations/setUnread', { uid: 'c', channel_id: 'g', channel_type: 2, unread: 1 })).body).toEqual({ status: 200 })
    expect((await conv('c', 'g')).unread).toBe(1)
    await api.post('/conversations/setUnread', { uid: 'c', channel_id: 'g', channel_type: 2, unread: 10 })
    expect((await conv('c', 'g')).unread).toBe(10)
    await send('a', 'g')
    expect((await conv('c', 'g')).unread).toBe(11)
    await api.post('/conversations/clearUnread', { uid: 'c', channel_id: 'g', channel_type: 2 })
    expect((await conv('c', 'g')).unread).toBe(0)
    await send('b', 'g')
    expect((await conv('c', 'g')).unread).toBe(1)
  })
  test('command and no-persist messages do not count or create conversations', async () => {
    await api.post('/channel', { channel_id: 'quiet', channel_type: 2, subscribers: ['a', 'b'] })
    await send('a', 'quiet', { header: { sync_once: 1 } })
    await send('a', 'quiet', { header: { no_persist: 1 } })
    await send('a', 'quiet', { subscribers: ['b'] })
    expect(await conv('b', 'quiet')).toBeUndefined()
  })
})

describe('versions and recents', () => {
  test('version grows on every change; version > 0 returns only newer conversations', async () => {
    await api.post('/channel', { channel_id: 'v1', channel_type: 2, subscribers: ['vu', 'vx'] })
    await api.post('/channel', { channel_id: 'v2', channel_type: 2, subscribers: ['vu', 'vx'] })
    await send('vx', 'v1')
    await send('vx', 'v2')
    const all = await convs('vu')
    expect(all.map((c) => c.channel_id)).toEqual(['v2', 'v1'])
    const max = Math.max(...all.map((c) => c.version))
    expect(await convs('vu', { version: max })).toEqual([])
    await send('vx', 'v1')
    const changed = await convs('vu', { version: max })
    expect(changed.map((c) => c.channel_id)).toEqual(['v1'])
    const v = changed[0].version
    await api.post('/conversations/setUnread', { uid: 'vu', channel_id: 'v2', channel_type: 2, unread: 3 })
    const afterSet = await convs('vu', { version: v })
    expect(afterSet.map((c) => [c.channel_id, c.unread])).toEqual([['v2', 3]])
    expect(afterSet[0].version).toBeGreaterThan(v)
    await api.post('/conversations/clearUnread', { uid: 'vu', channel_id: 'v2', channel_type: 2 })
    expect((await convs('vu', { version: afterSet[0].version })).map((c) => [c.channel_id, c.unread])).toEqual([['v2', 0]])
  })
  test('recents: newest first, at most msg_count, only above the client’s last_msg_seqs', async () => {
    await api.post('/channel', { channel_id: 'r', channel_type: 2, subscribers: ['ru', 'rx'] })
    for (let i = 1; i <= 6; i++) await api.post('/message/send', { from_uid: 'rx', channel_id: 'r', channel_type: 2, payload: b64(`m${i}`) })
    const [c] = (await convs('ru', { msg_count: 4 })).filter((x) => x.channel_id === 'r')
    expect(c.recents.map((m: any) => m.message_seq)).toEqual([6, 5, 4, 3])
    expect(unb64(c.recents[0].payload)).toBe('m6')
    expect(c.last_msg_seq).toBe(6)
    expect(c.last_client_msg_no).toBe(c.recents[0].client_msg_no)
    expect(c.timestamp).toBe(c.recents[0].timestamp)
    const [inc] = (await convs('ru', { msg_count: 20, last_msg_seqs: 'r:2:4|other:2:9' })).filter((x) => x.channel_id === 'r')
    expect(inc.recents.map((m: any) => m.message_seq)).toEqual([6, 5])
    const [none] = (await convs('ru', { msg_count: 0 })).filter((x) => x.channel_id === 'r')
    expect(none.recents).toEqual([])
    const bad = await api.post('/conversation/sync', { uid: 'ru', last_msg_seqs: 'garbage' })
    expect(bad.body).toEqual({ status: 400, msg: expect.stringContaining('last_msg_seqs') })
  })
  test('person conversations are named by the peer, in the list and in recents and last_msg_seqs', async () => {
    await send('pa', 'pb', {}, 1)
    await send('pa', 'pb', {}, 1)
    const [c] = await convs('pb', { msg_count: 5 })
    expect(c.channel_id).toBe('pa')
    expect(c.channel_type).toBe(1)
    expect(c.unread).toBe(2)
    expect(c.recents.map((m: any) => m.channel_id)).toEqual(['pa', 'pa'])
    const [inc] = await convs('pb', { msg_count: 5, last_msg_seqs: 'pa:1:1' })
    expect(inc.recents.map((m: any) => m.message_seq)).toEqual([2])
    const [one] = await convs('pb', { msg_count: 1 })
    expect(one.recents.map((m: any) => [m.channel_id, m.message_seq])).toEqual([['pa', 2]])
    expect((await convs('pa'))[0].channel_id).toBe('pb')
  })
})

describe('membership and deletion', () => {
  test('a subscriber added later starts with nothing unread and no conversation until a new message', async () => {
    await api.post('/channel', { channel_id: 'late', channel_type: 2, subscribers: ['l1'] })
    await send('l1', 'late')
    await send('l1', 'late')
    await api.post('/channel/subscriber_add', { channel_id: 'late', channel_type: 2, subscribers: ['l2'] })
    expect(await conv('l2', 'late')).toBeUndefined()
    await send('l1', 'late')
    expect((await conv('l2', 'late')).unread).toBe(1)
  })
  test('a removed subscriber loses the conversation; re-added, old messages do not count', async () => {
    await api.post('/channel', { channel_id: 'gone', channel_type: 2, subscribers: ['k1', 'k2'] })
    await send('k1', 'gone')
    expect((await conv('k2', 'gone')).unread).toBe(1)
    await api.post('/channel/subscriber_remove', { channel_id: 'gone', channel_type: 2, subscribers: ['k2'] })
    expect(await conv('k2', 'gone')).toBeUndefined()
    await send('k1', 'gone')
    expect(await conv('k2', 'gone')).toBeUndefined()
    await api.post('/channel/subscriber_add', { channel_id: 'gone', channel_type: 2, subscribers: ['k2'] })
    await send('k1', 'gone')
    expect((await conv('k2', 'gone')).unread).toBe(1)
  })
  test('delete hides it; a newer message brings it back counting only messages after the deletion', async () => {
    await api.post('/channel', { channel_id: 'del', channel_type: 2, subscribers: ['d1', 'd2'] })
    await send('d1', 'del')
    await send('d1', 'del')
    expect((await conv('d2', 'del')).unread).toBe(2)
    expect((await api.post('/conversations/delete', { uid: 'd2', channel_id: 'del', channel_type: 2 })).body).toEqual({ status: 200 })
    expect(await conv('d2', 'del')).toBeUndefined()
    await send('d1', 'del')
    const back = await conv('d2', 'del')
    expect(back.unread).toBe(1)
    expect(back.last_msg_seq).toBe(3)
  })
  test('no row is written per member per message (read diffusion)', async () => {
    const members = Array.from({ length: 200 }, (_, i) => `big${i}`)
    await api.post('/channel', { channel_id: 'big', channel_type: 2, subscribers: members })
    const count = async () => Number(rowsOf<{ n: number }>(await server.ctx.database.db.execute(sql`select count(*)::int as n from conversations`))[0]!.n)
    const before = await count()
    for (let i = 0; i < 5; i++) await send('big0', 'big')
    // only the sender's read mark
    expect((await count()) - before).toBe(1)
    expect((await conv('big150', 'big')).unread).toBe(5)
  })
  test('errors: unknown channel 404, non-subscriber 403, negative unread 400', async () => {
    expect((await api.post('/conversations/setUnread', { uid: 'd1', channel_id: 'nope', channel_type: 2, unread: 1 })).status).toBe(404)
    expect((await api.post('/conversations/setUnread', { uid: 'zz', channel_id: 'del', channel_type: 2, unread: 1 })).status).toBe(403)
    const neg = await api.post('/conversations/setUnread', { uid: 'd1', channel_id: 'del', channel_type: 2, unread: -1 })
    expect(neg.body).toEqual({ status: 400, msg: expect.stringContaining('unread') })
  })
})

describe('unread counters kept by the writer', () => {
  test('mixed red_dot sends committed in the same batches count exactly, from any read position', async () => {
    await api.post('/channel', { channel_id: 'mix', channel_type: 2, subscribers: ['mr', 'm1', 'm2'] })
    const burst = (n: number, offset: number) =>
      Promise.all(Array.from({ length: n }, (_, i) => send(i % 2 ? 'm1' : 'm2', 'mix', { header: { red_dot: (i + offset) % 3 === 0 ? 0 : 1 } })))
    const redDots = (n: number, offset: number) => Array.from({ length: n }, (_, i) => i).filter((i) => (i + offset) % 3 !== 0).length
    await burst(40, 0)
    expect((await conv('mr', 'mix')).unread).toBe(redDots(40, 0))
    // read position in the middle of the history: only what came after counts
    await api.post('/conversations/clearUnread', { uid: 'mr', channel_id: 'mix', channel_type: 2 })
    await burst(25, 1)
    expect((await conv('mr', 'mix')).unread).toBe(redDots(25, 1))
    // every stored rank is the channel's running count of red-dot messages
    const bad = rowsOf<{ n: number }>(
      await server.ctx.database.db.execute(sql`select count(*)::int as n from (
        select red_dot_rank, sum(red_dot) over (order by message_seq) as running from messages
        where channel_id = 'mix' and channel_type = 2 and message_seq > 0) x where red_dot_rank <> running`),
    )
    expect(Number(bad[0]!.n)).toBe(0)
    const [ch] = rowsOf<{ n: number }>(await server.ctx.database.db.execute(sql`select red_dot_count::int as n from channels where channel_id = 'mix'`))
    expect(Number(ch!.n)).toBe(redDots(40, 0) + redDots(25, 1))
  })
  test('recents with msg_count 1 come from the conversation row itself, and respect last_msg_seqs', async () => {
    await api.post('/channel', { channel_id: 'one', channel_type: 2, subscribers: ['o1', 'o2'] })
    await send('o2', 'one')
    await send('o2', 'one')
    const [c] = (await convs('o1', { msg_count: 1 })).filter((x) => x.channel_id === 'one')
    expect(c.recents.map((m: any) => [m.message_seq, m.channel_id])).toEqual([[2, 'one']])
    const [up] = (await convs('o1', { msg_count: 1, last_msg_seqs: 'one:2:2' })).filter((x) => x.channel_id === 'one')
    expect(up.recents).toEqual([])
    expect(up.unread).toBe(2)
  })
})
