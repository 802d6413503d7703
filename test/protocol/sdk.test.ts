/**
 * The official wukongimjssdk 1.0.4, unmodified, against our /ws: two SDK instances (each in its own
 * Worker, since the SDK is a singleton) connect with tokens from /user/token, send to a group and
 * to a person, and the other side receives the decrypted text; a wrong token ends in ConnectFail
 * with reason code 2; a master login elsewhere kicks the SDK (ConnectKick).
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { startTestServer, type TestServer } from '../helpers/server'
import { eventually } from '../helpers/wait'
import { api } from './helpers/wk-client'

/** ConnectStatus of the SDK (connect_manager.js) */
const Connected = 1
const ConnectFail = 3
const ConnectKick = 4

class SdkInstance {
  readonly events: any[] = []
  private constructor(private readonly worker: Worker) {
    worker.onmessage = (e) => this.events.push(e.data)
  }
  static async start(): Promise<SdkInstance> {
    const s = new SdkInstance(new Worker(new URL('./helpers/sdk-worker.ts', import.meta.url).href))
    await eventually(() => s.events.some((e) => e.event === 'ready'))
    return s
  }
  connect(addr: string, uid: string, token: string, heartbeatMs?: number) {
    this.worker.postMessage({ cmd: 'connect', addr, uid, token, heartbeatMs })
  }
  send(channelId: string, channelType: number, text: string) {
    this.worker.postMessage({ cmd: 'send', channelId, channelType, text })
  }
  statuses() {
    return this.events.filter((e) => e.event === 'status')
  }
  messages() {
    return this.events.filter((e) => e.event === 'message')
  }
  stop() {
    this.worker.postMessage({ cmd: 'disconnect' })
    this.worker.terminate()
  }
}

let server: TestServer
const instances: SdkInstance[] = []
let wsAddr: string

async function sdkLogin(uid: string, token: string, heartbeatMs?: number): Promise<SdkInstance> {
  const s = await SdkInstance.start()
  instances.push(s)
  s.connect(wsAddr, uid, token, heartbeatMs)
  return s
}

beforeAll(async () => {
  server = await startTestServer()
  wsAddr = server.url.replace(/^http/, 'ws') + '/ws'
  for (const uid of ['sdk-a', 'sdk-b']) expect((await api(server.url, '/user/token', { uid, token: `secret-${uid}`, device_flag: 1, device_level: 1 })).status).toBe(200)
  expect((await api(server.url, '/channel', { channel_id: 'sdk-group', channel_type: 2, subscribers: ['sdk-a', 'sdk-b'] })).status).toBe(200)
})

afterAll(async () => {
  for (const s of instances) s.stop()
  await server.stop()
})

test('two SDK instances: group and person messages are sent, acked and received decrypted', async () => {
  const a = await sdkLogin('sdk-a', 'secret-sdk-a')
  const b = await sdkLogin('sdk-b', 'secret-sdk-b')
  await eventually(() => a.statuses().some((s) => s.status === Connected && s.reasonCode === 1))
  await eventually(() => b.statuses().some((s) => s.status === Connected && s.reasonCode === 1))

  a.send('sdk-group', 2, 'hello group from the SDK ✓')
  const groupAck = await eventually(() => a.events.find((e) => e.event === 'sendack' && e.clientSeq === 1))
  expect(groupAck.reasonCode).toBe(1)
  expect(Number(groupAck.messageID)).toBeGreaterThan(0)
  const got = await eventually(() => b.messages().find((m) => m.text === 'hello group from the SDK ✓'))
  expect(got).toMatchObject({ fromUID: 'sdk-a', channelID: 'sdk-group', channelType: 2, contentType: 1, messageID: groupAck.messageID, messageSeq: groupAck.messageSeq })

  b.send('sdk-a', 1, 'hi a, from b')
  const personAck = await eventually(() => b.events.find((e) => e.event === 'sendack' && e.clientSeq === 1))
  expect(personAck.reasonCode).toBe(1)
  // The recipient sees the person channel as the sender's uid.
  const dm = await eventually(() => a.messages().find((m) => m.text === 'hi a, from b'))
  expect(dm).toMatchObject({ fromUID: 'sdk-b', channelID: 'sdk-b', channelType: 1 })
  // Neither sender got its own message back on its sending connection.
  expect(a.messages().some((m) => m.text === 'hello group from the SDK ✓')).toBe(false)
  expect(b.messages().some((m) => m.text === 'hi a, from b')).toBe(false)

  // An HTTP API send reaches the SDK too.
  const payload = Buffer.from(JSON.stringify({ type: 1, content: 'from the server API' })).toString('base64')
  expect((await api(server.url, '/message/send', { header: { red_dot: 1 }, from_uid: 'sdk-a', channel_id: 'sdk-group', channel_type: 2, payload })).status).toBe(200)
  expect(await eventually(() => b.messages().find((m) => m.text === 'from the server API'))).toMatchObject({ fromUID: 'sdk-a', channelID: 'sdk-group' })
}, 20_000)

test('the SDK heartbeat gets its PONGs: no reconnect after many PINGs', async () => {
  expect((await api(server.url, '/user/token', { uid: 'sdk-h', token: 'h1', device_flag: 1, device_level: 1 })).status).toBe(200)
  const h = await sdkLogin('sdk-h', 'h1', 100)
  await eventually(() => h.statuses().some((s) => s.status === Connected))
  // More than pingMaxRetryCount (3) intervals: without PONGs the SDK would drop and reconnect.
  await Bun.sleep(1000)
  expect(h.statuses().map((s) => s.status)).toEqual([Connected])
}, 15_000)

test('a wrong token: ConnectFail with reason code 2, and the SDK does not retry', async () => {
  const bad = await sdkLogin('sdk-a', 'not-the-token')
  await eventually(() => bad.statuses().some((s) => s.status === ConnectFail && s.reasonCode === 2))
  await Bun.sleep(300)
  expect(bad.statuses().filter((s) => s.status === ConnectFail)).toHaveLength(1)
})

test('a master login elsewhere kicks the SDK: ConnectKick with reason 12', async () => {
  expect((await api(server.url, '/user/token', { uid: 'sdk-c', token: 'c1', device_flag: 1, device_level: 1 })).status).toBe(200)
  const c = await sdkLogin('sdk-c', 'c1')
  await eventually(() => c.statuses().some((s) => s.status === Connected))
  const c2 = await sdkLogin('sdk-c', 'c1')
  await eventually(() => c2.statuses().some((s) => s.status === Connected))
  await eventually(() => c.statuses().some((s) => s.status === ConnectKick && s.reasonCode === 12))
}, 15_000)
