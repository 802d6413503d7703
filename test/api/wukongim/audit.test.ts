/** Adversarial inputs found by the contract audit: each is a 400 naming the field and changes nothing. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { startTestServer, type TestServer } from '../../helpers/server'
import { apiClient, b64 } from './client'
import { dbSnapshot } from './db-snapshot'

let server: TestServer
let api: ReturnType<typeof apiClient>
beforeAll(async () => {
  server = await startTestServer()
  api = apiClient(server.url)
  await api.post('/channel', { channel_id: 'g', channel_type: 2, subscribers: ['a', 'b'] })
  await api.post('/message/send', { from_uid: 'a', channel_id: 'g', channel_type: 2, payload: b64('x') })
}, 60_000)
afterAll(() => server.stop(), 30_000)

/** raw JSON text, so a NUL escape reaches the server as JSON writes it */
const refused: [string, string, string][] = [
  ['/user/token', '{"uid":"a\\u0000b","token":"t"}', 'uid'],
  ['/user/token', '{"uid":"ab","token":"t\\u0000"}', 'token'],
  ['/channel', '{"channel_id":"g\\u0000x","channel_type":2}', 'channel_id'],
  ['/channel', '{"channel_id":"g","channel_type":2,"subscribers":["a","c\\u0000"]}', 'subscribers.1'],
  ['/message/send', `{"from_uid":"a","channel_id":"g","channel_type":2,"payload":"eA==","client_msg_no":"c\\u0000"}`, 'client_msg_no'],
  ['/message/send', `{"from_uid":"a","channel_id":"g","channel_type":2,"payload":"eA==","stream_no":"s\\u0000"}`, 'stream_no'],
  ['/message/send', '{"from_uid":"a","channel_id":"g","channel_type":2,"payload":"eA==","header":[]}', 'header'],
  ['/message/send', '{"from_uid":"a","channel_id":"g","channel_type":2,"payload":"eA==","header":[1]}', 'header'],
  ['/channel/messagesync', '{"login_uid":"a\\u0000","channel_id":"g","channel_type":2}', 'login_uid'],
  ['/conversation/sync', '{"uid":"a","last_msg_seqs":"g:2:99999999999999999999"}', 'last_msg_seqs'],
  ['/conversation/sync', '{"uid":"a","last_msg_seqs":"g:99999:1"}', 'last_msg_seqs'],
  ['/conversation/sync', '{"uid":"a","last_msg_seqs":"g\\u0000:2:1"}', 'last_msg_seqs'],
  ['/stream/close', '{"stream_no":"s\\u0000","channel_id":"g","channel_type":2}', 'stream_no'],
  // an object the validator's message cannot print (found by test/api/fuzz.test.ts: a 500)
  ['/user/token', '{"uid":{"toString":"x"},"token":"t"}', 'uid'],
  ['/user/token', '{"uid":{"to\\u0053tring":"x"},"token":"t"}', 'uid'], // the same key spelled with an escape
  ['/channel', '{"channel_id":"g","channel_type":2,"subscribers":["a",{"valueOf":1}]}', 'subscribers.1'],
  // expire is stored as a 32-bit integer (found by test/api/fuzz.test.ts: 2^53 was a 500)
  ['/message/send', '{"from_uid":"a","channel_id":"g","channel_type":2,"payload":"eA==","expire":2147483648}', 'expire'],
  ['/stream/open', '{"from_uid":"a","channel_id":"g","channel_type":2,"payload":"eA==","expire":9007199254740992}', 'expire'],
  // a person channel's subscribers are its two parties, set by its first message
  ['/channel', '{"channel_id":"someone","channel_type":1,"subscribers":["a"]}', 'subscribers'],
  ['/channel/subscriber_add', '{"channel_id":"someone","channel_type":1,"subscribers":["a"]}', 'subscribers'],
  ['/channel/subscriber_remove', '{"channel_id":"someone","channel_type":1,"subscribers":["a"]}', 'subscribers'],
]

describe('refused before anything is stored', () => {
  for (const [path, raw, field] of refused) {
    test(`${path} ${raw} → 400 naming ${field}`, async () => {
      const before = await dbSnapshot(server)
      const r = await api.postRaw(path, raw)
      expect(r.status).toBe(400)
      expect(r.body.status).toBe(400)
      expect(r.body.msg.startsWith(`${field}:`)).toBe(true)
      expect(await dbSnapshot(server)).toEqual(before)
    })
  }
  test('a bad entry of a bare-array body is named by its index in the body', async () => {
    expect((await api.postRaw('/user/onlinestatus', '["ok", "a b"]')).body).toEqual({ status: 400, msg: expect.stringMatching(/^body\.1:/) })
  })
  test('a NUL in a query parameter → 400 naming it', async () => {
    const r = await api.get('/channel/whitelist?channel_id=g%00&channel_type=2')
    expect(r).toEqual({ status: 400, body: { status: 400, msg: expect.stringMatching(/^channel_id:/) } })
  })
})

describe('request bodies over the limit (32 MiB here)', () => {
  const big = () => '{"uid":"a","token":"' + 'x'.repeat(33 << 20) + '"}'
  const chunked = () =>
    new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 34; i++) c.enqueue(new TextEncoder().encode('x'.repeat(1 << 20)))
        c.close()
      },
    })
  const post = (path: string, body: string | ReadableStream<Uint8Array>) =>
    fetch(server.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body, duplex: 'half' } as RequestInit)

  test('announced (Content-Length) or chunked: 413 in the error shape on WuKongIM, 10001 on quick-im; nothing changes, the node serves', async () => {
    const before = await dbSnapshot(server)
    for (const body of [big(), chunked()]) {
      const r = await post('/user/token', body)
      expect(r.status).toBe(413)
      // closed: the server would otherwise read the rest of the announced body to keep it alive
      expect(r.headers.get('connection')).toBe('close')
      expect(await r.json()).toEqual({ status: 413, msg: expect.stringMatching(/^body: .*over the limit of 33554432 bytes$/) })
    }
    for (const body of [big(), chunked()]) {
      const r = await post('/inner/get_token', body)
      expect(await r.json()).toEqual({ code: 10001, error: expect.stringMatching(/^body: .*over the limit/) })
    }
    expect(await dbSnapshot(server)).toEqual(before)
    expect((await api.post('/user/token', { uid: 'a', token: 'fine' })).status).toBe(200)
  }, 30_000)
})

describe('the OpenAPI document', () => {
  test('every WuKongIM route documents its request and its 200 and error responses', async () => {
    const doc = (await api.get('/swagger/json')).body
    const ops = Object.entries(doc.paths as Record<string, Record<string, any>>).flatMap(([path, methods]) =>
      Object.entries(methods)
        .filter(([, op]) => op.tags?.includes('wukongim'))
        .map(([method, op]) => ({ path, method, op })),
    )
    expect(ops.length).toBeGreaterThanOrEqual(27)
    for (const { path, method, op } of ops) {
      const where = `${method} ${path}`
      if (method === 'post') expect([where, op.requestBody?.content?.['application/json']?.schema]).toEqual([where, expect.anything()])
      expect([where, op.responses?.['200']?.content?.['application/json']?.schema]).toEqual([where, expect.anything()])
      expect([where, op.responses?.['400']?.content?.['application/json']?.schema?.properties?.msg]).toEqual([where, expect.anything()])
    }
    const sync = doc.paths['/conversation/sync'].post.responses['200'].content['application/json'].schema
    expect(sync.type).toBe('array')
    expect(Object.keys(sync.items.properties)).toEqual(
      expect.arrayContaining(['channel_id', 'channel_type', 'unread', 'timestamp', 'last_msg_seq', 'last_client_msg_no', 'version', 'recents']),
    )
  })
})
