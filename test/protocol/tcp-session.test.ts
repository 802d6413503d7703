/**
 * WKProto sessions over plain TCP with a raw client: CONNECT checks, SEND → SENDACK after commit,
 * RECV to every member connection but the sender's, person-channel views, RECVACK and re-delivery,
 * PING/PONG, device kicks, dedupe, refusals with WuKongIM reason codes, and broken input.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import fc from 'fast-check'
import { encodePacket } from '../../src/protocol/wkproto/codec'
import { PacketType, Setting } from '../../src/protocol/wkproto/packets'
import { Reason } from '../../src/protocol/wkproto/reason-codes'
import { wkLimits } from '../../src/protocol/wkproto/session'
import { fuzzSeed } from '../helpers/fuzz-seed'
import { startTestServer, type TestServer } from '../helpers/server'
import { eventually } from '../helpers/wait'
import { api, freePort, WkClient } from './helpers/wk-client'

let server: TestServer
let tcpPort: number
const clients: WkClient[] = []

async function client(): Promise<WkClient> {
  const c = await WkClient.tcp(tcpPort)
  clients.push(c)
  return c
}

async function login(uid: string, opts: { deviceFlag?: number; deviceLevel?: number; deviceId?: string; version?: number } = {}): Promise<WkClient> {
  const token = `tok-${uid}-${opts.deviceFlag ?? 1}`
  const set = await api(server.url, '/user/token', { uid, token, device_flag: opts.deviceFlag ?? 1, device_level: opts.deviceLevel ?? 0 })
  expect(set.status).toBe(200)
  const c = await client()
  const ack = await c.connect({ uid, token, deviceFlag: opts.deviceFlag ?? 1, deviceId: opts.deviceId, version: opts.version })
  expect(ack.reasonCode).toBe(Reason.Success)
  return c
}

beforeAll(async () => {
  tcpPort = freePort()
  server = await startTestServer({ tcpPort })
  const r = await api(server.url, '/channel', { channel_id: 'g1', channel_type: 2, subscribers: ['alice', 'bob', 'carol'] })
  expect(r.status).toBe(200)
})

afterAll(async () => {
  for (const c of clients) c.close()
  await server.stop()
})

describe('CONNECT', () => {
  test('the token from /user/token is accepted; CONNACK v2 has no server version', async () => {
    const c = await login('alice')
    const ack = c.received[0]!
    expect(ack).toMatchObject({ type: PacketType.CONNACK, reasonCode: 1, serverVersion: undefined })
    if (ack.type === PacketType.CONNACK) expect(ack.salt).toMatch(/^[0-9a-zA-Z]{16}$/)
  })

  test('a wrong token gets CONNACK 2 and the socket is closed', async () => {
    await api(server.url, '/user/token', { uid: 'dave', token: 'right', device_flag: 1, device_level: 0 })
    const c = await client()
    expect((await c.connect({ uid: 'dave', token: 'wrong' })).reasonCode).toBe(Reason.AuthFail)
    await eventually(() => c.closed)
  })

  test('a token for another device flag, an empty uid, an empty client key', async () => {
    await api(server.url, '/user/token', { uid: 'erin', token: 't', device_flag: 0, device_level: 0 })
    const a = await client()
    expect((await a.connect({ uid: 'erin', token: 't', deviceFlag: 1 })).reasonCode).toBe(Reason.AuthFail)
    const b = await client()
    expect((await b.connect({ uid: '', token: 't' })).reasonCode).toBe(Reason.AuthFail)
    const c = await client()
    expect((await c.connect({ uid: 'erin', token: 't', deviceFlag: 0, clientKey: '' })).reasonCode).toBe(Reason.ClientKeyIsEmpty)
    await eventually(() => a.closed && b.closed && c.closed)
  })

  test('a banned user gets CONNACK 19', async () => {
    await api(server.url, '/user/token', { uid: 'mallory', token: 't', device_flag: 1, device_level: 0 })
    expect((await api(server.url, '/channel', { channel_id: 'mallory', channel_type: 1, ban: 1 })).status).toBe(200)
    const c = await client()
    expect((await c.connect({ uid: 'mallory', token: 't' })).reasonCode).toBe(Reason.Ban)
  })

  test('versions 4 and 5 get the server version and node id', async () => {
    await api(server.url, '/user/token', { uid: 'v5user', token: 't', device_flag: 2, device_level: 0 })
    const c = await client()
    const ack = await c.connect({ uid: 'v5user', token: 't', deviceFlag: 2, version: 5 })
    expect(ack).toMatchObject({ reasonCode: 1, serverVersion: 5 })
    expect(typeof ack.nodeId).toBe('bigint')
  })

  test('no CONNECT within the auth timeout closes the socket', async () => {
    const saved = wkLimits.authTimeoutMs
    wkLimits.authTimeoutMs = 300
    try {
      const c = await client()
      await eventually(() => c.closed, 3000)
    } finally {
      wkLimits.authTimeoutMs = saved
    }
  })
})

describe('SEND and RECV', () => {
  test('a group message: SENDACK after commit, RECV to the other members and to the sender\'s other device, not to the sender', async () => {
    const alice = await login('alice')
    const alice2 = await login('alice', { deviceFlag: 0 })
    const bob = await login('bob')
    const seq = alice.sendMessage('g1', 2, 'hello group')
    const ack = await alice.sendack(seq)
    expect(ack.reasonCode).toBe(Reason.Success)
    expect(ack.messageId > 0n).toBe(true)
    expect(ack.messageSeq).toBeGreaterThan(0)
    const r = await bob.recvWith('hello group')
    expect(r).toMatchObject({ fromUid: 'alice', channelId: 'g1', channelType: 2, messageId: ack.messageId, messageSeq: ack.messageSeq, redDot: true })
    const r2 = await alice2.recvWith('hello group')
    expect(r2.redDot).toBe(false) // no red dot on the sender's own devices
    // Stored: the history shows it with the same seq.
    const sync = await api(server.url, '/channel/messagesync', { login_uid: 'bob', channel_id: 'g1', channel_type: 2, start_message_seq: 0, end_message_seq: 0, limit: 10, pull_mode: 1 })
    expect(sync.body.messages.map((m: any) => m.message_seq)).toContain(ack.messageSeq)
    await Bun.sleep(100)
    expect(alice.recvs().some((x) => x.messageId === ack.messageId)).toBe(false)
  })

  test('an expire beyond what can be stored (the u32 field allows it) is refused with a reason, nothing stored; the largest storable is kept', async () => {
    const alice = await login('alice', { version: 4 }) // expire is on the wire from v3
    const before = (await api(server.url, '/channel/messagesync', { login_uid: 'bob', channel_id: 'g1', channel_type: 2, start_message_seq: 0, end_message_seq: 0, limit: 1000, pull_mode: 1 })).body.messages.length
    expect((await alice.sendack(alice.sendMessage('g1', 2, 'too late', { expire: 2 ** 32 - 1 }))).reasonCode).toBe(Reason.NotAllowSend)
    const ok = await alice.sendack(alice.sendMessage('g1', 2, 'far future', { expire: 2 ** 31 - 1 }))
    expect(ok.reasonCode).toBe(Reason.Success)
    const after = (await api(server.url, '/channel/messagesync', { login_uid: 'bob', channel_id: 'g1', channel_type: 2, start_message_seq: 0, end_message_seq: 0, limit: 1000, pull_mode: 1 })).body.messages
    expect(after.length).toBe(before + 1)
    expect(after.at(-1)).toMatchObject({ message_seq: ok.messageSeq, expire: 2 ** 31 - 1 })
  })

  test('text Postgres cannot hold (a NUL) is refused with a reason, not a system error: CONNECT uid → AuthFail, SEND channel id → ChannelIDError, client_msg_no → NotAllowSend', async () => {
    const c = await client()
    expect((await c.connect({ uid: 'al\u0000ice', token: 'x' })).reasonCode).toBe(Reason.AuthFail)
    const alice = await login('alice')
    expect((await alice.sendack(alice.sendMessage('g\u00001', 2, 'x'))).reasonCode).toBe(Reason.ChannelIDError)
    expect((await alice.sendack(alice.sendMessage('g1', 2, 'x', { clientMsgNo: 'n\u0000o' }))).reasonCode).toBe(Reason.NotAllowSend)
    expect((await alice.sendack(alice.sendMessage('g1', 2, 'still fine'))).reasonCode).toBe(Reason.Success)
  })

  test('a person message: the recipient sees the sender uid, the sender\'s other device sees the peer', async () => {
    const frank = await login('frank')
    const frank2 = await login('frank', { deviceFlag: 2 })
    const grace = await login('grace')
    const seq = frank.sendMessage('grace', 1, 'hi grace')
    expect((await frank.sendack(seq)).reasonCode).toBe(Reason.Success)
    expect((await grace.recvWith('hi grace')).channelId).toBe('frank')
    expect((await frank2.recvWith('hi grace')).channelId).toBe('grace')
  })

  test('an HTTP API send reaches WKProto clients', async () => {
    const bob = await login('bob')
    const payload = Buffer.from(JSON.stringify({ type: 1, content: 'from http' })).toString('base64')
    const r = await api(server.url, '/message/send', { header: { red_dot: 1 }, from_uid: 'carol', channel_id: 'g1', channel_type: 2, payload })
    expect(r.status).toBe(200)
    const recv = await bob.recvWith('from http')
    expect(recv.messageId).toBe(BigInt(r.body.message_id))
  })

  test('stream chunks (HTTP /stream/open + /message/send stream_no) arrive as RECV with the SDK stream block at v2', async () => {
    const bob = await login('bob')
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64')
    const open = await api(server.url, '/stream/open', { header: { red_dot: 1 }, client_msg_no: 'st-1', from_uid: 'carol', channel_id: 'g1', channel_type: 2, payload: b64({ type: 1, content: 'anchor' }) })
    expect(open.status).toBe(200)
    const anchor = await bob.recvWith('anchor')
    const chunk = await api(server.url, '/message/send', { header: { red_dot: 1 }, from_uid: 'carol', channel_id: 'g1', channel_type: 2, stream_no: open.body.stream_no, payload: b64({ type: 1, content: 'chunk 1' }) })
    expect(chunk.status).toBe(200)
    const r = await bob.recvWith('chunk 1')
    expect(r.messageId).toBe(anchor.messageId)
    expect(r.stream).toMatchObject({ layout: 'sdk', streamNo: open.body.stream_no, streamFlag: 1 })
    expect(r.setting & 0x04).toBe(0x04)
  })

  test('a resend with the same clientMsgNo is acked with the first message and stored once', async () => {
    const alice = await login('alice')
    const s1 = alice.sendMessage('g1', 2, 'once', { clientMsgNo: 'dedupe-1' })
    const s2 = alice.sendMessage('g1', 2, 'once', { clientMsgNo: 'dedupe-1' })
    const [a1, a2] = [await alice.sendack(s1), await alice.sendack(s2)]
    expect(a2.messageId).toBe(a1.messageId)
    expect(a2.messageSeq).toBe(a1.messageSeq)
    // after the commit too
    const s3 = alice.sendMessage('g1', 2, 'once', { clientMsgNo: 'dedupe-1' })
    expect((await alice.sendack(s3)).messageId).toBe(a1.messageId)
  })

  test('refusals: bad msgKey → 9, not a member → 3, unknown group → 5, blacklisted → 4, not whitelisted → 13, banned → 25, disbanded → 24', async () => {
    const dave = await login('dave2')
    const bad = dave.sendMessage('g1', 2, 'x', { badMsgKey: true })
    expect((await dave.sendack(bad)).reasonCode).toBe(Reason.PayloadDecodeError)
    expect((await dave.sendack(dave.sendMessage('g1', 2, 'x'))).reasonCode).toBe(Reason.SubscriberNotExist)
    expect((await dave.sendack(dave.sendMessage('nope', 2, 'x'))).reasonCode).toBe(Reason.ChannelNotExist)
    await api(server.url, '/channel', { channel_id: 'g2', channel_type: 2, subscribers: ['dave2'] })
    await api(server.url, '/channel/blacklist_add', { channel_id: 'g2', channel_type: 2, uids: ['dave2'] })
    expect((await dave.sendack(dave.sendMessage('g2', 2, 'x'))).reasonCode).toBe(Reason.InBlacklist)
    await api(server.url, '/channel', { channel_id: 'g3', channel_type: 2, subscribers: ['dave2', 'alice'] })
    await api(server.url, '/channel/whitelist_add', { channel_id: 'g3', channel_type: 2, uids: ['alice'] })
    expect((await dave.sendack(dave.sendMessage('g3', 2, 'x'))).reasonCode).toBe(Reason.NotInWhitelist)
    await api(server.url, '/channel', { channel_id: 'g4', channel_type: 2, subscribers: ['dave2'], ban: 1 })
    expect((await dave.sendack(dave.sendMessage('g4', 2, 'x'))).reasonCode).toBe(Reason.SendBan)
    await api(server.url, '/channel', { channel_id: 'g5', channel_type: 2, subscribers: ['dave2'], disband: 1 })
    expect((await dave.sendack(dave.sendMessage('g5', 2, 'x'))).reasonCode).toBe(Reason.Disband)
  })

  test('RECVACK stops re-delivery; an un-acked RECV comes again with DUP, a bounded number of times', async () => {
    const saved = { ...wkLimits }
    wkLimits.recvRetryMs = 200
    wkLimits.recvRetryMax = 2
    try {
      const alice = await login('alice')
      const bob = await login('bob')
      const carol = await login('carol')
      alice.sendMessage('g1', 2, 'retry me')
      const first = await bob.recvWith('retry me')
      bob.ack(first)
      await carol.recvWith('retry me')
      // carol never acks: 1 + 2 re-deliveries, the later ones flagged DUP
      await eventually(() => carol.recvs().filter((r) => r.messageId === first.messageId).length === 3, 4000)
      expect(carol.recvs().filter((r) => r.messageId === first.messageId).map((r) => r.dup)).toEqual([false, true, true])
      await Bun.sleep(700)
      expect(carol.recvs().filter((r) => r.messageId === first.messageId)).toHaveLength(3)
      expect(bob.recvs().filter((r) => r.messageId === first.messageId)).toHaveLength(1)
    } finally {
      Object.assign(wkLimits, saved)
    }
  })
})

describe('connection handling', () => {
  test('PING → PONG', async () => {
    const c = await login('alice')
    c.raw(Uint8Array.of(0x70))
    await eventually(() => c.received.some((p) => p.type === PacketType.PONG))
  })

  test('packets coalesced in one write and split byte by byte are all handled', async () => {
    const c = await login('bob')
    c.raw(Uint8Array.of(0x70, 0x70, 0x70))
    await eventually(() => c.received.filter((p) => p.type === PacketType.PONG).length === 3)
    const frame = encodePacket({ type: PacketType.PING }, 2)
    for (const b of frame) c.raw(Uint8Array.of(b))
    await eventually(() => c.received.filter((p) => p.type === PacketType.PONG).length === 4)
  })

  test('garbage closes only that connection; the server keeps serving', async () => {
    const c = await client()
    c.raw(Uint8Array.of(0x00, 0xff, 0xff, 0xff, 0xff, 0xff))
    await eventually(() => c.closed)
    const d = await client()
    d.raw(Uint8Array.of(0x30, 0xff, 0xff, 0xff, 0xff)) // remaining length > 4 bytes
    await eventually(() => d.closed)
    const e = await client()
    e.raw(Uint8Array.of(0x10, 0x03, 0x02, 0x01, 0x00)) // truncated CONNECT body
    await eventually(() => e.closed)
    await login('alice')
  })

  test('a bug that throws while a packet is handled closes that connection only, and is logged', async () => {
    const c = await login('carol')
    const other = await login('bob')
    // Fault injection: the core's send throws synchronously (no input can make it do so).
    const messages = server.ctx.core.messages
    const send = messages.send
    const errors: string[] = []
    const log = server.ctx.log
    const error = log.error
    messages.send = () => {
      throw new Error('injected bug')
    }
    log.error = (msg, fields) => void errors.push(`${msg} ${JSON.stringify(fields)}`)
    try {
      c.sendMessage('g1', 2, 'boom')
      await eventually(() => c.closed)
    } finally {
      messages.send = send
      log.error = error
    }
    expect(errors.some((e) => e.includes('wkproto packet handling failed') && e.includes('injected bug'))).toBe(true)
    const seq = other.sendMessage('g1', 2, 'still serving')
    expect((await other.sendack(seq)).reasonCode).toBe(Reason.Success)
  })

  test('a master login on the same device flag kicks older devices with DISCONNECT 12', async () => {
    const old = await login('henry', { deviceLevel: 1 })
    const saved = wkLimits.kickCloseMs
    wkLimits.kickCloseMs = 200
    try {
      // A new master token on flag 1 (WuKongIM: /user/token with device_level 1) kicks at once.
      const again = await login('henry', { deviceLevel: 1 })
      await eventually(() => old.received.some((p) => p.type === PacketType.DISCONNECT && p.reasonCode === Reason.ConnectKick))
      await eventually(() => old.closed, 3000)
      // Without a new token: a second master connect kicks the first.
      await api(server.url, '/user/token', { uid: 'henry', token: 'tok-henry-1', device_flag: 1, device_level: 1 }) // kicks `again`
      await eventually(() => again.closed, 3000)
      const a = await client()
      expect((await a.connect({ uid: 'henry', token: 'tok-henry-1' })).reasonCode).toBe(1)
      const b = await client()
      expect((await b.connect({ uid: 'henry', token: 'tok-henry-1' })).reasonCode).toBe(1)
      await eventually(() => a.received.some((p) => p.type === PacketType.DISCONNECT && p.reasonCode === Reason.ConnectKick))
      await eventually(() => a.closed, 3000)
      expect(b.closed).toBe(false)
    } finally {
      wkLimits.kickCloseMs = saved
    }
  })

  test('slave devices do not kick each other; device_quit disconnects', async () => {
    const a = await login('ivan', { deviceLevel: 0 })
    const b = await client()
    expect((await b.connect({ uid: 'ivan', token: 'tok-ivan-1' })).reasonCode).toBe(1)
    await Bun.sleep(100)
    expect(a.closed || b.closed).toBe(false)
    const saved = wkLimits.kickCloseMs
    wkLimits.kickCloseMs = 100
    try {
      expect((await api(server.url, '/user/device_quit', { uid: 'ivan', device_flag: 1 })).status).toBe(200)
      await eventually(() => a.closed && b.closed, 3000)
    } finally {
      wkLimits.kickCloseMs = saved
    }
  })

  test('a silent authenticated connection is closed after the idle timeout; a pinging one is not', async () => {
    const saved = wkLimits.idleTimeoutMs
    wkLimits.idleTimeoutMs = 600
    try {
      const quiet = await login('kate')
      const chatty = await login('kate', { deviceFlag: 2 })
      const timer = setInterval(() => chatty.raw(Uint8Array.of(0x70)), 150)
      await eventually(() => quiet.closed, 3000)
      clearInterval(timer)
      expect(chatty.closed).toBe(false)
    } finally {
      wkLimits.idleTimeoutMs = saved
    }
  })

  test('SUB answers SUBACK (member → 1, not a member → 3, unsubscribe → 1); a client DISCONNECT closes', async () => {
    const c = await login('carol')
    c.send({ type: PacketType.SUB, setting: 0, subNo: 's1', channelId: 'g1', channelType: 2, action: 0, param: '' })
    c.send({ type: PacketType.SUB, setting: 0, subNo: 's2', channelId: 'g2', channelType: 2, action: 0, param: '' })
    c.send({ type: PacketType.SUB, setting: 0, subNo: 's3', channelId: 'g2', channelType: 2, action: 1, param: '' })
    const acks = await eventually(() => {
      const a = c.received.filter((p) => p.type === PacketType.SUBACK)
      return a.length === 3 ? a : undefined
    })
    expect(acks!.map((a) => (a.type === PacketType.SUBACK ? [a.subNo, a.channelId, a.action, a.reasonCode] : []))).toEqual([
      ['s1', 'g1', 0, 1],
      ['s2', 'g2', 0, 3],
      ['s3', 'g2', 1, 1],
    ])
    c.send({ type: PacketType.DISCONNECT, reasonCode: 0, reason: 'bye' })
    await eventually(() => c.closed)
  })

  test('/user/onlinestatus lists a live WKProto connection', async () => {
    await login('judy', { deviceFlag: 2 })
    const r = await api(server.url, '/user/onlinestatus', ['judy'])
    expect(r.body).toContainEqual({ uid: 'judy', device_flag: 2, online: 1 })
  })
})

describe('generated SENDs', () => {
  const text = fc.oneof({ weight: 4, arbitrary: fc.constantFrom('g1', 'bob', 'carol', 'nope', '') }, fc.string({ maxLength: 80 }), fc.constantFrom('\u0000', 'x'.repeat(300), '🙂', 'a@b', 'a b'))
  const send = fc.record({
    channelId: text,
    channelType: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(1, 2) }, fc.integer({ min: 0, max: 255 })),
    clientMsgNo: fc.oneof(fc.stringMatching(/^[a-z0-9]{1,20}$/), text),
    setting: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 255 })),
    streamNo: fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, text),
    topic: fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, text),
    expire: fc.oneof(fc.constant(0), fc.nat({ max: 2 ** 32 - 1 })),
    content: fc.oneof(fc.constant(undefined), fc.uint8Array({ maxLength: 200 })),
    flags: fc.record({ noPersist: fc.boolean(), syncOnce: fc.boolean(), redDot: fc.boolean() }),
  })

  test('every SEND of every protocol version gets its SENDACK, never a system error; the connection and the node keep serving', async () => {
    const seed = fuzzSeed()
    for (const version of [2, 3, 4, 5]) {
      const c = await login('carol', { version })
      const sends = fc.sample(send, { numRuns: 80, seed: seed + version })
      const seqs = sends.map((p) => {
        // the stream and topic fields exist on the wire only with their setting bits
        const setting = (p.setting & ~(Setting.TOPIC | Setting.STREAM_GO | Setting.STREAM_SDK)) | (p.topic !== undefined ? Setting.TOPIC : 0) | (p.streamNo !== undefined && version < 5 ? Setting.STREAM_SDK : 0)
        return c.sendMessage(p.channelId, p.channelType, 'x', { ...p, setting, streamNo: version < 5 ? p.streamNo : undefined })
      })
      const acks = await Promise.all(seqs.map((s) => c.sendack(s, 15_000).catch(() => undefined)))
      if (process.env.FUZZ_VERBOSE) console.log(version, acks.map((a) => a?.reasonCode).join(","))
      const missing = sends.filter((_, i) => !acks[i]).map((p) => JSON.stringify(p).slice(0, 200))
      expect(missing, `seed ${seed}, version ${version}`).toEqual([])
      const systemErrors = sends.filter((_, i) => acks[i]!.reasonCode === Reason.SystemError).map((p) => JSON.stringify(p).slice(0, 300))
      expect(systemErrors, `seed ${seed}, version ${version}`).toEqual([])
      expect((await c.sendack(c.sendMessage('g1', 2, 'after the storm'))).reasonCode).toBe(Reason.Success)
    }
    expect((await fetch(server.url + '/health')).status).toBe(200)
  }, 60_000)
})

