/**
 * The JSON-RPC variant on /ws (first text frame `{`): connect, send → result after commit, recv
 * notifications (unencrypted), recvack, ping, refusals; and delivery across transports: a JSON-RPC
 * or binary WKProto send reaches quick-im /notify clients.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import fc from 'fast-check'
import { fuzzSeed } from '../helpers/fuzz-seed'
import { startTestServer, type TestServer } from '../helpers/server'
import { eventually } from '../helpers/wait'
import { api, WkClient } from './helpers/wk-client'

let server: TestServer
const sockets: WebSocket[] = []

class RpcClient {
  readonly frames: any[] = []
  closed = false
  private constructor(readonly ws: WebSocket) {
    ws.onmessage = (e) => {
      expect(typeof e.data).toBe('string') // replies are text frames
      this.frames.push(JSON.parse(e.data as string))
    }
    ws.onclose = () => {
      this.closed = true
    }
  }
  static async open(): Promise<RpcClient> {
    const ws = new WebSocket(server.url.replace(/^http/, 'ws') + '/ws')
    sockets.push(ws)
    await new Promise((r) => (ws.onopen = r))
    return new RpcClient(ws)
  }
  call(method: string, params: unknown, id?: string) {
    this.ws.send(JSON.stringify({ jsonrpc: '2.0', method, params, ...(id ? { id } : {}) }))
  }
  async result(id: string) {
    return eventually(() => this.frames.find((f) => f.id === id))
  }
  recvs() {
    return this.frames.filter((f) => f.method === 'recv')
  }
}

async function rpcLogin(uid: string): Promise<RpcClient> {
  await api(server.url, '/user/token', { uid, token: 'jt-' + uid, device_flag: 0, device_level: 0 })
  const c = await RpcClient.open()
  c.call('connect', { uid, token: 'jt-' + uid, deviceFlag: 0, deviceId: 'dev-' + uid }, 'c1')
  expect((await c.result('c1')).result).toMatchObject({ reasonCode: 1, serverKey: '', salt: '' })
  return c
}

beforeAll(async () => {
  server = await startTestServer()
  await api(server.url, '/channel', { channel_id: 'rg', channel_type: 2, subscribers: ['ra', 'rb', 'qa'] })
})

afterAll(async () => {
  for (const s of sockets) s.close()
  await server.stop()
})

describe('JSON-RPC', () => {
  test('connect with a wrong token → reasonCode 2 and the socket closes', async () => {
    await api(server.url, '/user/token', { uid: 'rz', token: 'good', device_flag: 0, device_level: 0 })
    const c = await RpcClient.open()
    c.call('connect', { uid: 'rz', token: 'bad', deviceFlag: 0 }, 'x')
    expect((await c.result('x')).result.reasonCode).toBe(2)
    await eventually(() => c.closed)
  })

  test('send → result after commit; members get a recv notification with the plain payload; recvack; ping', async () => {
    const a = await rpcLogin('ra')
    const b = await rpcLogin('rb')
    a.call('send', { channelId: 'rg', channelType: 2, payload: { type: 1, content: 'rpc hello' }, clientMsgNo: 'rpc-1' }, 's1')
    const sent = (await a.result('s1')).result
    expect(sent.reasonCode).toBe(1)
    expect(sent.messageId).toMatch(/^\d+$/)
    const recv = await eventually(() => b.recvs().find((r) => r.params.clientMsgNo === 'rpc-1'))
    expect(recv.params).toMatchObject({ messageId: sent.messageId, messageSeq: sent.messageSeq, channelId: 'rg', channelType: 2, fromUid: 'ra', payload: { type: 1, content: 'rpc hello' }, msgKey: '' })
    b.call('recvack', { messageId: recv.params.messageId, messageSeq: recv.params.messageSeq })
    // base64 payloads are accepted too
    a.call('send', { channelId: 'rb', channelType: 1, payload: Buffer.from('{"type":1,"content":"dm"}').toString('base64') }, 's2')
    expect((await a.result('s2')).result.reasonCode).toBe(1)
    const dm = await eventually(() => b.recvs().find((r) => r.params.payload?.content === 'dm'))
    expect(dm.params.channelId).toBe('ra')
    b.call('ping', {}, 'p1')
    expect(await b.result('p1')).toEqual({ jsonrpc: '2.0', id: 'p1' })
    expect(a.recvs()).toHaveLength(0)
  })

  test('bad requests after connect get errors and the socket stays open; before connect they close it', async () => {
    const a = await rpcLogin('ra')
    a.ws.send('{not json')
    await eventually(() => a.frames.some((f) => f.error?.code === -32700))
    a.call('send', { channelType: 2, payload: {} }, 'e1')
    expect((await a.result('e1')).error.message).toContain('channelId')
    a.call('subscribe', {}, 'e2')
    expect((await a.result('e2')).error.code).toBe(-32601)
    a.call('send', { channelId: 'nope', channelType: 2, payload: { type: 1 } }, 'e3')
    expect((await a.result('e3')).result.reasonCode).toBe(5)
    expect(a.closed).toBe(false)
    const fresh = await RpcClient.open()
    fresh.ws.send('{"method":"send","id":"1","params":{}}')
    await eventually(() => fresh.closed)
  })
})

describe('binary over WebSocket', () => {
  test('a plain GET /ws (no upgrade) is a 400 with the error shape, and /ws is in the OpenAPI document', async () => {
    const r = await fetch(server.url + '/ws')
    expect(r.status).toBe(400)
    expect(await r.json()).toEqual({ status: 400, msg: 'GET /ws expects a WebSocket upgrade (WKProto binary or JSON-RPC)' })
    const doc = (await (await fetch(server.url + '/swagger/json')).json()) as { paths: Record<string, unknown> }
    expect(doc.paths['/ws']).toBeDefined()
  })

  test('every server packet is its own WebSocket message; versions 3 and 4 interoperate', async () => {
    await api(server.url, '/user/token', { uid: 'ra', token: 'w-ra', device_flag: 2, device_level: 0 })
    await api(server.url, '/user/token', { uid: 'rb', token: 'w-rb', device_flag: 2, device_level: 0 })
    const a = await WkClient.ws(server.url)
    const b = await WkClient.ws(server.url)
    expect((await a.connect({ uid: 'ra', token: 'w-ra', deviceFlag: 2, version: 4 })).reasonCode).toBe(1)
    expect((await b.connect({ uid: 'rb', token: 'w-rb', deviceFlag: 2, version: 3 })).reasonCode).toBe(1)
    const seqs = Array.from({ length: 20 }, (_, i) => a.sendMessage('rg', 2, `burst ${i}`))
    for (const s of seqs) expect((await a.sendack(s)).reasonCode).toBe(1)
    for (let i = 0; i < 20; i++) expect((await b.recvWith(`burst ${i}`)).expire).toBe(0)
    a.raw(Uint8Array.of(0x70, 0x70)) // two PINGs in one message: two PONGs, each its own message
    await eventually(() => a.received.filter((p) => p.type === 8).length === 2)
    expect(a.wsMessages).toBeGreaterThanOrEqual(23)
    expect(a.wsMessagesNotOnePacket).toBe(0)
    expect(b.wsMessagesNotOnePacket).toBe(0)
    a.close()
    b.close()
  })
})

describe('across transports', () => {
  test('WKProto (binary and JSON-RPC) sends reach a quick-im /notify WebSocket', async () => {
    const tok = await api(server.url, '/inner/get_token', { session: 'qa', platform: 1 })
    expect(tok.body.code).toBe(0)
    const notify = new WebSocket(server.url.replace(/^http/, 'ws') + `/notify?token=${encodeURIComponent(tok.body.data)}&protoc=ws`)
    sockets.push(notify)
    const got: any[] = []
    notify.onmessage = (e) => got.push(JSON.parse(e.data as string))
    await new Promise((r) => (notify.onopen = r))
    await Bun.sleep(100) // the hub subscribes the connection to its channels

    const a = await rpcLogin('ra')
    a.call('send', { channelId: 'rg', channelType: 2, payload: { type: 1, content: 'to notify' } }, 'n1')
    expect((await a.result('n1')).result.reasonCode).toBe(1)
    await eventually(() => got.find((m) => m.ConversationID === 'rg' && m.FromSession === 'ra' && m.Content.includes('to notify')))

    await api(server.url, '/user/token', { uid: 'rb', token: 'bin-rb', device_flag: 1, device_level: 0 })
    const bin = await WkClient.ws(server.url)
    expect((await bin.connect({ uid: 'rb', token: 'bin-rb' })).reasonCode).toBe(1)
    const seq = bin.sendMessage('rg', 2, 'binary to notify')
    expect((await bin.sendack(seq)).reasonCode).toBe(1)
    await eventually(() => got.find((m) => m.FromSession === 'rb' && m.Content.includes('binary to notify')))
    bin.close()
  })
})

describe('generated requests after connect', () => {
  const odd = fc.oneof(fc.constantFrom<unknown>(null, -1, 2 ** 32, 2 ** 53, 1.5, '', '\u0000', 'x'.repeat(3000), [], {}, { toString: 'x' }), fc.jsonValue({ maxDepth: 2 }))
  const sendParams = fc.record(
    {
      channelId: fc.oneof(fc.constantFrom('rg', 'rb', 'nope'), odd),
      channelType: fc.oneof(fc.constantFrom(1, 2), odd),
      payload: fc.oneof(fc.record({ type: fc.constant(1), content: fc.string({ maxLength: 20 }) }), odd),
      clientMsgNo: fc.oneof(fc.stringMatching(/^[a-z0-9]{1,16}$/), odd),
      setting: fc.oneof(fc.record({ receipt: fc.boolean(), signal: fc.boolean(), stream: fc.boolean(), topic: fc.boolean() }), odd),
      header: fc.oneof(fc.record({ noPersist: fc.boolean(), redDot: fc.boolean(), syncOnce: fc.boolean() }), odd),
      expire: fc.oneof(fc.nat({ max: 2 ** 32 - 1 }), odd),
      streamNo: odd,
      topic: odd,
    },
    { requiredKeys: [] },
  )
  const request = fc.oneof(
    { weight: 6, arbitrary: fc.record({ method: fc.constant('send'), params: sendParams }) },
    { weight: 2, arbitrary: fc.record({ method: fc.constant('recvack'), params: fc.oneof(fc.record({ messageId: fc.oneof(fc.constant('1'), odd), messageSeq: fc.oneof(fc.nat(), odd) }), odd) }) },
    { weight: 1, arbitrary: fc.record({ method: fc.constantFrom('ping', 'connect', 'subscribe', 'unsubscribe', 'toString', '__proto__', ''), params: odd }) },
  )

  test('every request is answered (result or error), never a system error; notifications are taken silently; the session and the node keep serving', async () => {
    const a = await rpcLogin('qa')
    const seed = fuzzSeed()
    const requests = fc.sample(request, { numRuns: 300, seed })
    // recvack is a notification (WKPROTO.md): sent without an id, never answered
    requests.forEach((r, i) => a.call(r.method, r.params, r.method === 'recvack' ? undefined : `g${i}`))
    const answered = () => requests.map((r, i) => (r.method === 'recvack' ? { id: `g${i}` } : a.frames.find((f) => f.id === `g${i}`)))
    await eventually(() => answered().every(Boolean), 15_000).catch(() => {})
    const answers = answered()
    const unanswered = requests.filter((_, i) => !answers[i]).map((r) => JSON.stringify(r).slice(0, 200))
    expect(unanswered, `seed ${seed}`).toEqual([])
    const systemErrors = answers.filter((f) => f.result?.reasonCode === 15).map((f) => JSON.stringify(requests[Number(f.id.slice(1))]).slice(0, 300))
    expect(systemErrors, `seed ${seed}`).toEqual([])
    expect(a.closed).toBe(false)
    // the session still works
    a.call('send', { channelId: 'rg', channelType: 2, payload: { type: 1, content: 'after the storm' } }, 'last')
    expect((await a.result('last')).result.reasonCode).toBe(1)
    expect((await fetch(server.url + '/health')).status).toBe(200)
  }, 30_000)
})

