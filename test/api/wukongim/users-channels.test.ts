/** Users (/user/*, /route), channels and lists, manager authentication, /swagger documentation. */
import { describe, expect, test } from 'bun:test'
import { startTestServer, type TestServer } from '../../helpers/server'
import { type ApiClient, apiClient, b64, usingApiServer } from './client'
import { dbSnapshot } from './db-snapshot'

let server: TestServer, api: ApiClient
const events = usingApiServer((s, a) => {
  ;[server, api] = [s, a]
})

describe('users', () => {
  test('/user/token stores the token; a master login kicks that flag’s devices', async () => {
    events.length = 0
    expect((await api.post('/user/token', { uid: 'u1', token: 'secret1', device_flag: 1, device_level: 1 })).body).toEqual({ status: 200 })
    expect(await server.ctx.core.users.getToken('u1', 1)).toEqual({ uid: 'u1', deviceFlag: 1, token: 'secret1', deviceLevel: 1 })
    expect(events).toContainEqual({ type: 'kick_devices', uid: 'u1', deviceFlag: 1, reason: 'master_login' })
    events.length = 0
    await api.post('/user/token', { uid: 'u1', token: 'secret2', device_flag: 1, device_level: 0 })
    expect((await server.ctx.core.users.getToken('u1', 1))?.token).toBe('secret2')
    expect(events.filter((e) => e.type === 'kick_devices')).toEqual([])
    expect(await server.ctx.core.users.exists('u1')).toBe(true)
  })
  test('/user/device_quit revokes and emits kick_devices (-1 = every flag)', async () => {
    await api.post('/user/token', { uid: 'u2', token: 't0', device_flag: 0 })
    await api.post('/user/token', { uid: 'u2', token: 't2', device_flag: 2 })
    events.length = 0
    await api.post('/user/device_quit', { uid: 'u2', device_flag: 2 })
    expect(await server.ctx.core.users.getToken('u2', 2)).toBeUndefined()
    expect(await server.ctx.core.users.getToken('u2', 0)).toBeDefined()
    expect(events).toContainEqual({ type: 'kick_devices', uid: 'u2', deviceFlag: 2, reason: 'device_quit' })
    await api.post('/user/device_quit', { uid: 'u2', device_flag: -1 })
    expect(await server.ctx.core.users.getToken('u2', 0)).toBeUndefined()
    expect(events).toContainEqual({ type: 'kick_devices', uid: 'u2', deviceFlag: -1, reason: 'device_quit' })
  })
  test('bad token requests → 400 naming the field, nothing stored', async () => {
    const before = await dbSnapshot(server)
    for (const [body, field] of [
      [{ token: 'x' }, 'uid'],
      [{ uid: 'a b', token: 'x' }, 'uid'],
      [{ uid: 'ok', token: 'x', device_flag: 7 }, 'device_flag'],
      [{ uid: 'ok', token: 5 }, 'token'],
    ] as const) {
      expect((await api.post('/user/token', body)).body).toEqual({ status: 400, msg: expect.stringContaining(field) })
    }
    expect(await dbSnapshot(server)).toEqual(before)
  })
  test('/user/onlinestatus answers from the presence layer; /route gives the addresses', async () => {
    expect((await api.post('/user/onlinestatus', ['u1'])).body).toEqual(server.ctx.presence ? expect.any(Array) : [])
    expect((await api.post('/user/onlinestatus', { uid: 'u1' })).body).toEqual({ status: 400, msg: expect.stringContaining('array') })
    const route = (await api.get('/route?uid=u1')).body
    expect(route.ws_addr).toBe(`ws://127.0.0.1:${server.port}/ws`)
    expect(Object.keys(route).sort()).toEqual(['tcp_addr', 'ws_addr', 'wss_addr'])
  })
})

describe('channels', () => {
  test('create, add, reset, remove: members and events', async () => {
    events.length = 0
    await api.post('/channel', { channel_id: 'ch', channel_type: 2, subscribers: ['m1', 'm2'] })
    expect((await server.ctx.core.channels.members({ channelId: 'ch', channelType: 2 })).sort()).toEqual(['m1', 'm2'])
    expect(events).toContainEqual({ type: 'members', channel: { channelId: 'ch', channelType: 2 }, added: expect.arrayContaining(['m1', 'm2']), removed: [] })
    await api.post('/channel/subscriber_add', { channel_id: 'ch', channel_type: 2, subscribers: ['m3'] })
    await api.post('/channel/subscriber_add', { channel_id: 'ch', channel_type: 2, subscribers: ['m3', 'm4'], reset: 1 })
    expect((await server.ctx.core.channels.members({ channelId: 'ch', channelType: 2 })).sort()).toEqual(['m3', 'm4'])
    await api.post('/channel/subscriber_remove', { channel_id: 'ch', channel_type: 2, subscribers: ['m3'] })
    expect(await server.ctx.core.channels.members({ channelId: 'ch', channelType: 2 })).toEqual(['m4'])
    expect(await server.ctx.core.channels.channelsOf('m4')).toContainEqual({ channelId: 'ch', channelType: 2 })
  })
  test('lists: add, remove, set, and GET /channel/whitelist', async () => {
    const q = '/channel/whitelist?channel_id=ch&channel_type=2'
    events.length = 0
    await api.post('/channel/whitelist_add', { channel_id: 'ch', channel_type: 2, uids: ['w2', 'w1'] })
    // other nodes learn that the send rules changed
    expect(events).toContainEqual({ type: 'channel_changed', channel: { channelId: 'ch', channelType: 2 } })
    expect((await api.get(q)).body).toEqual(['w1', 'w2'])
    await api.post('/channel/whitelist_remove', { channel_id: 'ch', channel_type: 2, uids: ['w1'] })
    expect((await api.get(q)).body).toEqual(['w2'])
    await api.post('/channel/whitelist_set', { channel_id: 'ch', channel_type: 2, uids: ['w9'] })
    expect((await api.get(q)).body).toEqual(['w9'])
    await api.post('/channel/whitelist_set', { channel_id: 'ch', channel_type: 2, uids: [] })
    expect((await api.get(q)).body).toEqual([])
    await api.post('/channel/blacklist_set', { channel_id: 'ch', channel_type: 2, uids: ['b1'] })
    expect((await api.get('/channel/blacklist?channel_id=ch&channel_type=2')).body).toEqual(['b1'])
  })
  test('delete: members gone, sends 404, channel_deleted event; re-creating continues the seq', async () => {
    await api.post('/message/send', { from_uid: 'm4', channel_id: 'ch', channel_type: 2, payload: b64('1') })
    events.length = 0
    expect((await api.post('/channel/delete', { channel_id: 'ch', channel_type: 2 })).body).toEqual({ status: 200 })
    expect(events).toContainEqual({ type: 'channel_deleted', channel: { channelId: 'ch', channelType: 2 } })
    expect((await api.post('/message/send', { from_uid: 'm4', channel_id: 'ch', channel_type: 2, payload: b64('2') })).status).toBe(404)
    await api.post('/channel', { channel_id: 'ch', channel_type: 2, subscribers: ['m4'] })
    expect((await api.post('/message/send', { from_uid: 'm4', channel_id: 'ch', channel_type: 2, payload: b64('3') })).body.message_seq).toBe(2)
  })
  test('unknown channel → 404 and nothing changes', async () => {
    const before = await dbSnapshot(server)
    for (const [path, body] of [
      ['/channel/subscriber_remove', { channel_id: 'ghost', channel_type: 2, subscribers: ['x'] }],
      ['/channel/delete', { channel_id: 'ghost', channel_type: 2 }],
      ['/channel/blacklist_add', { channel_id: 'ghost', channel_type: 2, uids: ['x'] }],
    ] as const) {
      expect((await api.post(path, body)).body).toEqual({ status: 404, msg: expect.stringContaining('ghost') })
    }
    expect((await api.get('/channel/whitelist?channel_id=ghost&channel_type=2')).status).toBe(404)
    expect(await dbSnapshot(server)).toEqual(before)
  })
  test('bad channel input → 400 naming the field, nothing changes', async () => {
    const before = await dbSnapshot(server)
    for (const [body, field] of [
      [{ channel_type: 2 }, 'channel_id'],
      [{ channel_id: 'x', channel_type: 0 }, 'channel_type'],
      [{ channel_id: 'x', channel_type: 2, subscribers: 'm1' }, 'subscribers'],
      [{ channel_id: 'x', channel_type: 2, subscribers: ['ok', 'bad#uid'] }, 'subscribers'],
      [{ channel_id: 'x', channel_type: 2, ban: 3 }, 'ban'],
    ] as const) {
      expect((await api.post('/channel', body)).body).toEqual({ status: 400, msg: expect.stringContaining(field) })
    }
    expect(await dbSnapshot(server)).toEqual(before)
  })
})

describe('manager authentication and docs', () => {
  test('with IM_MANAGER_TOKEN: token header or Bearer accepted, otherwise 401 and nothing changes', async () => {
    const guarded = await startTestServer({ managerToken: 's3cret' })
    try {
      const anon = apiClient(guarded.url)
      const before = await dbSnapshot(guarded)
      expect(await anon.post('/channel', { channel_id: 'a', channel_type: 2 })).toEqual({ status: 401, body: { status: 401, msg: expect.any(String) } })
      expect((await apiClient(guarded.url, { token: 'wrong' }).post('/channel', { channel_id: 'a', channel_type: 2 })).status).toBe(401)
      expect((await anon.postRaw('/channel', '{not json')).status).toBe(401)
      expect((await anon.get('/route?uid=a')).status).toBe(401)
      expect(await dbSnapshot(guarded)).toEqual(before)
      expect((await apiClient(guarded.url, { token: 's3cret' }).post('/channel', { channel_id: 'a', channel_type: 2 })).status).toBe(200)
      expect((await apiClient(guarded.url, { authorization: 'Bearer s3cret' }).post('/channel', { channel_id: 'b', channel_type: 2 })).status).toBe(200)
    } finally {
      await guarded.stop()
    }
  }, 60_000)
  test('without a token, loopback callers are allowed (this test calls over 127.0.0.1)', async () => {
    expect((await api.post('/channel', { channel_id: 'loop', channel_type: 2 })).status).toBe(200)
  })
  test('/swagger/json documents every WuKongIM route under the wukongim tag', async () => {
    const doc = (await (await fetch(`${server.url}/swagger/json`)).json()) as { paths: Record<string, Record<string, { tags?: string[] }>> }
    const routes = [
      '/user/token', '/user/device_quit', '/user/onlinestatus', '/route', '/channel', '/channel/subscriber_add', '/channel/subscriber_remove',
      '/channel/delete', '/channel/blacklist_add', '/channel/blacklist_remove', '/channel/blacklist_set', '/channel/whitelist_add',
      '/channel/whitelist_remove', '/channel/whitelist_set', '/channel/whitelist', '/message/send', '/message/sendbatch',
      '/channel/messagesync', '/message/sync', '/message/syncack', '/stream/open', '/stream/close', '/conversation/sync',
      '/conversations/setUnread', '/conversations/clearUnread', '/conversations/delete',
    ]
    for (const r of routes) {
      const ops = doc.paths[r]
      expect(ops).toBeDefined()
      expect(Object.values(ops!)[0]!.tags).toContain('wukongim')
    }
  })
})
