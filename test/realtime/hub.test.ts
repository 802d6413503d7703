import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Delivery, FrameFormat, HubConnection } from '../../src/realtime/types'
import { startTestServer, type TestServer } from '../helpers/server'
import { eventually } from '../helpers/wait'
import { apiClient, b64 } from '../api/wukongim/client'
import { openWs, QuickIm } from '../api/quickim/client'

let server: TestServer
let q: QuickIm
let api: ReturnType<typeof apiClient>
beforeAll(async () => {
  server = await startTestServer()
  q = new QuickIm(server)
  api = apiClient(server.url)
}, 30_000)
afterAll(() => server.stop())

let n = 0
const uid = (name: string) => `${name}-${++n}`

/** A callback-path connection, the way WKProto attaches: records deliveries and closes. */
function callbackConn(user: string, opts: Partial<HubConnection> = {}) {
  const got: Delivery[] = []
  const closes: string[] = []
  const conn: HubConnection = {
    id: `test-${user}-${++n}`,
    uid: user,
    transport: 'test-callback',
    deviceFlag: 1,
    auth: 'user_token',
    deliver: (d) => got.push(d),
    close: (reason) => closes.push(reason),
    ...opts,
  }
  const contents = () => got.flatMap((d) => (d.type === 'message' ? [Buffer.from(d.message.payload).toString()] : []))
  return { conn, got, closes, contents }
}

const send = (from: string, channelId: string, text: string, channelType = 2) =>
  api.post('/message/send', { from_uid: from, channel_id: channelId, channel_type: channelType, payload: b64(text) }).then((r) => {
    expect(r.status).toBe(200)
    return r.body
  })

describe('hub', () => {
  test('online status lists every live connection (WuKongIM /user/onlinestatus)', async () => {
    const a = uid('a')
    const ws = await openWs(q.wsUrl(await q.token(a)))
    const cb = callbackConn(a, { deviceFlag: 2 })
    await server.ctx.hub.attach(cb.conn)
    await eventually(async () => (await api.post('/user/onlinestatus', [a])).body.length === 2)
    const rows = (await api.post('/user/onlinestatus', [a])).body
    expect(rows).toContainEqual({ uid: a, device_flag: 1, online: 1 })
    expect(rows).toContainEqual({ uid: a, device_flag: 2, online: 1 })
    ws.ws.close()
    server.ctx.hub.detach(cb.conn)
    await eventually(async () => (await api.post('/user/onlinestatus', [a])).body.length === 0)
  })

  test('device_quit and a master login end the matching user-token connections only', async () => {
    const a = uid('a')
    const web = callbackConn(a, { deviceFlag: 1 })
    const app = callbackConn(a, { deviceFlag: 0 })
    const quick = await openWs(q.wsUrl(await q.token(a)))
    await server.ctx.hub.attach(web.conn)
    await server.ctx.hub.attach(app.conn)
    expect((await api.post('/user/device_quit', { uid: a, device_flag: 1 })).status).toBe(200)
    expect(web.closes).toEqual(['kicked'])
    expect(app.closes).toEqual([])
    expect((await api.post('/user/token', { uid: a, token: 't', device_flag: 0, device_level: 1 })).status).toBe(200)
    expect(app.closes).toEqual(['kicked'])
    expect(server.ctx.hub.online([a]).map((c) => c.transport)).toEqual(['quickim-ws'])
    quick.ws.close()
  })

  test('membership changes from the WuKongIM API apply to live connections at once; delete ends them', async () => {
    const [a, b] = [uid('a'), uid('b')]
    const group = uid('g')
    expect((await api.post('/channel', { channel_id: group, channel_type: 2, subscribers: [a] })).status).toBe(200)
    const cb = callbackConn(b)
    await server.ctx.hub.attach(cb.conn)
    expect(server.ctx.hub.channelsOfConnection(cb.conn.id)).toEqual([])
    await api.post('/channel/subscriber_add', { channel_id: group, channel_type: 2, subscribers: [b] })
    expect(server.ctx.hub.channelsOfConnection(cb.conn.id)).toEqual([{ channelId: group, channelType: 2 }])
    await send(a, group, 'hello b')
    await eventually(() => cb.contents().length === 1)
    await api.post('/channel/subscriber_remove', { channel_id: group, channel_type: 2, subscribers: [b] })
    expect(server.ctx.hub.channelsOfConnection(cb.conn.id)).toEqual([])
    await api.post('/channel/subscriber_add', { channel_id: group, channel_type: 2, subscribers: [b] })
    await api.post('/channel/delete', { channel_id: group, channel_type: 2 })
    expect(server.ctx.hub.channelsOfConnection(cb.conn.id)).toEqual([])
    server.ctx.hub.detach(cb.conn)
  })

  test('a first person message reaches both parties; the sending connection is skipped on the callback path', async () => {
    const [a, b] = [uid('a'), uid('b')]
    const ca = callbackConn(a)
    const ca2 = callbackConn(a)
    const cbb = callbackConn(b)
    for (const c of [ca, ca2, cbb]) await server.ctx.hub.attach(c.conn)
    await server.ctx.core.messages.send({ fromUid: a, channelId: b, channelType: 1, payload: Buffer.from('hi b'), originConnection: ca.conn.id })
    await eventually(() => cbb.contents().length === 1 && ca2.contents().length === 1)
    expect(ca.got).toEqual([])
    for (const c of [ca, ca2, cbb]) server.ctx.hub.detach(c.conn)
  })

  test('a message is encoded once per format, whatever the number of receivers', async () => {
    let encodes = 0
    const counting: FrameFormat = { name: 'test-counting', perViewer: () => false, encode: (m) => (encodes++, Buffer.from(m.payload)) }
    server.ctx.hub.registerFormat(counting)
    const users = Array.from({ length: 20 }, () => uid('r'))
    const conv = await q.conversation(users)
    const conns = users.map((u) => {
      const c = callbackConn(u, { deliver: (d) => d.type === 'message' && d.frame('test-counting', '') && c.got.push(d) })
      return c
    })
    for (const c of conns) await server.ctx.hub.attach(c.conn)
    await send(users[0]!, conv, 'once')
    await eventually(() => conns.every((c) => c.got.length === 1))
    expect(encodes).toBe(1)
    for (const c of conns) server.ctx.hub.detach(c.conn)
  })

  test('ws receivers of a group get one publish per message (topic path)', async () => {
    const users = Array.from({ length: 10 }, () => uid('w'))
    const conv = await q.conversation(users)
    const sockets = await Promise.all(users.map(async (u) => openWs(q.wsUrl(await q.token(u)))))
    await eventually(() => server.ctx.hub.online(users).length === 10)
    const before = server.ctx.hub.counters.publishes
    await send(users[0]!, conv, 'fan out')
    await eventually(() => sockets.every((s) => s.frames.length === 1))
    expect(server.ctx.hub.counters.publishes - before).toBe(1)
    for (const s of sockets) s.ws.close()
  })

  test('a subscriber-scoped send reaches only the named users', async () => {
    const [a, b, c] = [uid('a'), uid('b'), uid('c')]
    const conv = await q.conversation([a, b, c])
    const [wb, wc] = await Promise.all([openWs(q.wsUrl(await q.token(b))), openWs(q.wsUrl(await q.token(c)))])
    await eventually(() => server.ctx.hub.online([b, c]).length === 2)
    const r = await api.post('/message/send', { from_uid: a, channel_id: conv, channel_type: 2, subscribers: [c], payload: b64('only c') })
    expect(r.status).toBe(200)
    await send(a, conv, 'everyone')
    await eventually(() => wb.frames.length === 1 && wc.frames.length === 2)
    expect(wc.frames.map((f) => f.Content)).toEqual(['only c', 'everyone'])
    expect(wb.frames.map((f) => f.Content)).toEqual(['everyone'])
    wb.ws.close()
    wc.ws.close()
  })

  test('stream chunks reach callback connections in order', async () => {
    const [a, b] = [uid('a'), uid('b')]
    const conv = await q.conversation([a, b])
    const cb = callbackConn(b)
    await server.ctx.hub.attach(cb.conn)
    const opened = await api.post('/stream/open', { from_uid: a, channel_id: conv, channel_type: 2, client_msg_no: `s-${n}`, payload: b64('anchor') })
    expect(opened.status).toBe(200)
    for (const part of ['one', 'two', 'three'])
      expect((await api.post('/message/send', { from_uid: a, channel_id: conv, channel_type: 2, stream_no: opened.body.stream_no, payload: b64(part) })).status).toBe(200)
    await eventually(() => cb.got.filter((d) => d.type === 'stream_chunk').length === 3)
    const chunks = cb.got.flatMap((d) => (d.type === 'stream_chunk' ? [Buffer.from(d.chunk.payload).toString()] : []))
    expect(chunks).toEqual(['one', 'two', 'three'])
    server.ctx.hub.detach(cb.conn)
  })

  test('a replacement announced by another node ends the local connection with that key only if it is older', async () => {
    const a = uid('r')
    const cb = callbackConn(a, { replaceKey: `test-replace-${a}` })
    const before = Date.now()
    await server.ctx.hub.attach(cb.conn)
    // a connection that attached elsewhere before this one: this one stays
    server.ctx.hub.replacedElsewhere(`test-replace-${a}`, before - 1000, 'other-node')
    server.ctx.hub.replacedElsewhere(`test-replace-other-${a}`, Date.now() + 1000, 'other-node')
    expect(cb.closes).toEqual([])
    expect(server.ctx.hub.online([a]).length).toBe(1)
    // a newer one elsewhere: this one is replaced
    server.ctx.hub.replacedElsewhere(`test-replace-${a}`, Date.now() + 1000, 'other-node')
    expect(cb.closes).toEqual(['replaced'])
    expect(server.ctx.hub.online([a]).length).toBe(0)
  })

  test('shutdown ends every live connection promptly', async () => {
    const other = await startTestServer()
    const o = new QuickIm(other)
    const a = uid('a')
    await o.conversation([a])
    const ws = await openWs(o.wsUrl(await o.token(a, 1)))
    const sse = await fetch(`${other.url}/notify?protoc=sse&token=${encodeURIComponent(await o.token(a, 2))}`)
    const poll = fetch(`${other.url}/notify?protoc=poll&timeout=60&token=${encodeURIComponent(await o.token(a, 3))}`)
    await eventually(() => other.ctx.hub.online([a]).length === 3)
    const started = Date.now()
    await other.stop()
    expect(Date.now() - started).toBeLessThan(3000)
    expect((await ws.closed).code).toBe(1001)
    expect(await sse.text()).toContain(': connected')
    expect((await poll).status).toBe(204)
  })
})
