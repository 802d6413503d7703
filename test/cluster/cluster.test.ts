/**
 * Three real nodes on one Postgres database and one NATS server (SPEC §6): deliveries, order,
 * membership, presence and kicks across nodes, and a node stopped mid-burst.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { type RunningServer } from '../../src/server'
import { PacketType, type DisconnectPacket, type RecvPacket } from '../../src/protocol/wkproto/packets'
import { openWs } from '../api/quickim/client'
import { eventually } from '../helpers/wait'
import { WkClient } from '../protocol/helpers/wk-client'
import { type Cluster, postgresUnavailable, startCluster } from './cluster-helper'

const unavailable = await postgresUnavailable()
if (unavailable) console.warn(`cluster tests skipped: ${unavailable}`)

let n = 0
const uniq = (name: string) => `${name}${++n}_${Math.random().toString(36).slice(2, 6)}`

async function post(node: RunningServer, path: string, body: unknown, token?: string): Promise<any> {
  const res = await fetch(node.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  })
  const text = await res.text()
  if (res.status !== 200) throw new Error(`${path} on ${node.ctx.nodeId} → HTTP ${res.status}: ${text}`)
  return text ? JSON.parse(text) : undefined
}

/** quick-im call that must succeed: its data */
async function qim(node: RunningServer, path: string, body: unknown, token?: string): Promise<any> {
  const r = await post(node, path, body, token)
  if (r.code !== 0) throw new Error(`${path} → ${JSON.stringify(r)}`)
  return r.data
}

async function wkConnect(node: RunningServer, uid: string, token: string, deviceFlag = 1): Promise<WkClient> {
  const c = await WkClient.ws(node.url)
  const ack = await c.connect({ uid, token, deviceFlag })
  expect(ack.reasonCode).toBe(1)
  return c
}

const wsUrl = (node: RunningServer, token: string) => `${node.url.replace('http', 'ws')}/notify?protoc=ws&token=${encodeURIComponent(token)}`
const recvsIn = (c: WkClient, channelId: string): RecvPacket[] => c.recvs().filter((r) => r.channelId === channelId)
const disconnects = (c: WkClient) => c.received.filter((p): p is DisconnectPacket => p.type === PacketType.DISCONNECT)

describe.skipIf(!!unavailable)('cluster: three nodes, one database, one NATS', () => {
  let cluster: Cluster
  let A: RunningServer, B: RunningServer, C: RunningServer
  const clients: { close(): void }[] = []
  beforeAll(async () => {
    cluster = await startCluster(['node-a', 'node-b', 'node-c'])
    ;[A, B, C] = cluster.nodes as [RunningServer, RunningServer, RunningServer]
    // every node has heard every other one (presence waits for the peers it knows)
    await eventually(() => cluster.nodes.every((x) => x.ctx.cluster!.livePeers().length === 2))
  }, 60_000)
  afterAll(async () => {
    for (const c of clients) c.close()
    await cluster?.stop()
  }, 30_000)

  test('200 messages sent alternately through two nodes (WuKongIM + quick-im) reach ws and WKProto clients on another node in seq order', async () => {
    const [s1, s2, r] = [uniq('s'), uniq('s'), uniq('r')]
    const conv = (await qim(A, '/inner/create_conversation', { conversation_type: 0, sessions: [s1, s2, r] })).ConversationId as string
    const [t1, t2, tr] = await Promise.all([qim(A, '/inner/get_token', { session: s1, platform: 1 }), qim(B, '/inner/get_token', { session: s2, platform: 1 }), qim(B, '/inner/get_token', { session: r, platform: 1 })])
    await post(A, '/user/token', { uid: r, token: 'wk-' + r, device_flag: 0, device_level: 0 })
    const ws = await openWs(wsUrl(B, tr))
    clients.push({ close: () => ws.ws.close() })
    const wkB = await wkConnect(B, r, 'wk-' + r, 0)
    const wkC = await wkConnect(C, r, 'wk-' + r, 0)
    clients.push(wkB, wkC)
    await eventually(() => B.ctx.hub.online([r]).length === 2 && C.ctx.hub.online([r]).length === 1)

    const TOTAL = 200
    const sendOne = async (i: number) => {
      const node = i % 2 === 0 ? A : B
      const text = `m${i}`
      if (i % 4 < 2) {
        const res = await post(node, '/message/send', { from_uid: i % 2 ? s2 : s1, channel_id: conv, channel_type: 2, payload: Buffer.from(JSON.stringify({ type: 1, content: text })).toString('base64') })
        return res.message_id as number
      }
      return (await qim(node, '/send_msg', { conversation_id: conv, status: 0, type: 1, content: text }, i % 2 ? t2 : t1)).MsgID as string
    }
    // concurrent, bounded: sends through both nodes race for the channel's seqs
    for (let i = 0; i < TOTAL; i += 20) await Promise.all(Array.from({ length: 20 }, (_, k) => sendOne(i + k)))

    for (const wk of [wkB, wkC]) {
      await eventually(() => recvsIn(wk, conv).length === TOTAL, 10_000)
      const seqs = recvsIn(wk, conv).map((x) => x.messageSeq)
      expect(seqs).toEqual(Array.from({ length: TOTAL }, (_, k) => k + 1))
    }
    await eventually(() => ws.frames.length === TOTAL, 10_000)
    // MsgIds are fixed-width message_ids, which follow commit order like seqs do
    const ids = ws.frames.map((f) => f.MsgId as string)
    expect(ids).toEqual([...ids].sort())
    expect(new Set(ws.frames.map((f) => f.Content)).size).toBe(TOTAL)
    // Cluster nodes share the write lock, so their writers time the WAL flush to pick the commit
    // mode (a node alone commits synchronously without measuring: test/ops/metrics.test.ts).
    for (const node of [A, B]) {
      const metrics = await (await fetch(`${node.url}/metrics`)).text()
      expect(Number(/^bunim_writer_wal_flushes_total (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1)
      // the bus and the reordering are visible too
      expect(metrics).toContain('bunim_cluster_peers 2')
      expect(metrics).toContain('bunim_cluster_nats_connected 1')
      expect(Number(/^bunim_cluster_events_total\{direction="received"\} (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0)
      expect(metrics).toMatch(/^bunim_cluster_reorder_total\{outcome="gap_skipped"\} \d+$/m)
    }
  }, 60_000)

  test('a person message sent through node A reaches the peer on node B (channel created by that first message)', async () => {
    const [u1, u2] = [uniq('p'), uniq('p')]
    await post(A, '/user/token', { uid: u2, token: 'tk', device_flag: 1, device_level: 0 })
    const onB = await wkConnect(B, u2, 'tk')
    clients.push(onB)
    await eventually(() => B.ctx.hub.online([u2]).length === 1)
    const payload = Buffer.from(JSON.stringify({ type: 1, content: 'hi there' })).toString('base64')
    await post(A, '/message/send', { from_uid: u1, channel_id: u2, channel_type: 1, payload })
    const got = await onB.recvWith('hi there')
    // the receiver sees the sender's uid as the channel, like WuKongIM
    expect(got.channelId).toBe(u1)
    expect(got.channelType).toBe(1)
    expect(got.fromUid).toBe(u1)
  }, 30_000)

  test('a member removed through node A stops getting messages on node B at once', async () => {
    const [sender, stay, gone] = [uniq('s'), uniq('stay'), uniq('gone')]
    const channel = uniq('g')
    await post(A, '/channel', { channel_id: channel, channel_type: 2, subscribers: [sender, stay, gone] })
    for (const u of [stay, gone]) await post(A, '/user/token', { uid: u, token: 'tk', device_flag: 1, device_level: 0 })
    const wStay = await wkConnect(B, stay, 'tk')
    const wGone = await wkConnect(B, gone, 'tk')
    clients.push(wStay, wGone)
    await eventually(() => B.ctx.hub.channelsOfConnection(B.ctx.hub.online([gone])[0]!.connectionId).some((k) => k.channelId === channel))
    const payload = (s: string) => Buffer.from(JSON.stringify({ type: 1, content: s })).toString('base64')
    await post(A, '/message/send', { from_uid: sender, channel_id: channel, channel_type: 2, payload: payload('before') })
    await eventually(() => recvsIn(wGone, channel).length === 1 && recvsIn(wStay, channel).length === 1)

    await post(A, '/channel/subscriber_remove', { channel_id: channel, channel_type: 2, subscribers: [gone] })
    // sent right after, through the same node: the removal reaches B first (one publisher keeps its order)
    await post(A, '/message/send', { from_uid: sender, channel_id: channel, channel_type: 2, payload: payload('after') })
    await eventually(() => recvsIn(wStay, channel).length === 2)
    // and B's membership cache is fresh: the removed member may no longer send there through B
    const refused = await fetch(B.url + '/message/send', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ from_uid: gone, channel_id: channel, channel_type: 2, payload: payload('x') }) })
    expect(refused.status).not.toBe(200)
    await post(C, '/message/send', { from_uid: sender, channel_id: channel, channel_type: 2, payload: payload('after2') })
    await eventually(() => recvsIn(wStay, channel).length === 3)
    expect(recvsIn(wGone, channel).map((x) => wGone.open(x).content)).toEqual(['before'])
  }, 30_000)

  test('/user/onlinestatus on node A lists connections on nodes B and C', async () => {
    const u = uniq('online')
    await post(A, '/user/token', { uid: u, token: 'tk', device_flag: 1, device_level: 0 })
    expect(await post(A, '/user/onlinestatus', [u])).toEqual([])
    const onB = await wkConnect(B, u, 'tk', 1)
    clients.push(onB)
    await eventually(async () => (await post(A, '/user/onlinestatus', [u])).length === 1)
    expect(await post(A, '/user/onlinestatus', [u])).toEqual([{ uid: u, device_flag: 1, online: 1 }])
    const tq = await qim(C, '/inner/get_token', { session: u, platform: 1 })
    const onC = await openWs(wsUrl(C, tq))
    await eventually(async () => (await post(A, '/user/onlinestatus', [u, 'nobody'])).length === 2)
    onC.ws.close()
    onB.close()
    await eventually(async () => (await post(A, '/user/onlinestatus', [u])).length === 0)
  }, 30_000)

  test('/user/device_quit on node A disconnects the WKProto client on node B', async () => {
    const u = uniq('quit')
    await post(A, '/user/token', { uid: u, token: 'tk', device_flag: 1, device_level: 0 })
    await post(A, '/user/token', { uid: u, token: 'tk0', device_flag: 0, device_level: 0 })
    const web = await wkConnect(B, u, 'tk', 1)
    const app = await wkConnect(B, u, 'tk0', 0)
    clients.push(web, app)
    await eventually(() => B.ctx.hub.online([u]).length === 2)
    await post(A, '/user/device_quit', { uid: u, device_flag: 1 })
    await eventually(() => disconnects(web).length === 1)
    await eventually(() => web.closed, 5000)
    expect(disconnects(app)).toEqual([])
    expect(B.ctx.hub.online([u]).map((c) => c.deviceFlag)).toEqual([0])
  }, 30_000)

  test('a WKProto master login on node B kicks the same uid and device flag on node A (DISCONNECT 12), not other flags', async () => {
    const u = uniq('master')
    await post(A, '/user/token', { uid: u, token: 'tk', device_flag: 1, device_level: 1 })
    await post(A, '/user/token', { uid: u, token: 'tk2', device_flag: 2, device_level: 1 })
    const older = await wkConnect(A, u, 'tk', 1)
    const pc = await wkConnect(A, u, 'tk2', 2)
    clients.push(older, pc)
    await eventually(() => A.ctx.hub.online([u]).length === 2)
    const newer = await wkConnect(B, u, 'tk', 1)
    clients.push(newer)
    await eventually(() => disconnects(older).length === 1)
    expect(disconnects(older)[0]!.reasonCode).toBe(12)
    await eventually(() => older.closed, 5000)
    expect(disconnects(pc)).toEqual([])
    expect(disconnects(newer)).toEqual([])
    expect(B.ctx.hub.online([u]).length).toBe(1)
  }, 30_000)

  test('a WKProto login announced from another node with an earlier login time kicks nobody; a later one kicks', async () => {
    const [u, witness] = [uniq('race'), uniq('witness')]
    for (const uid of [u, witness]) await post(A, '/user/token', { uid, token: 'tk', device_flag: 1, device_level: 1 })
    const onA = await wkConnect(A, u, 'tk', 1)
    const witnessOnA = await wkConnect(A, witness, 'tk', 1)
    clients.push(onA, witnessOnA)
    await eventually(() => A.ctx.hub.online([u, witness]).length === 2)
    const now = Date.now()
    // node B's login lost the race: it logged in before the session on node A
    B.ctx.cluster!.announceWkLogin({ uid: u, deviceFlag: 1, deviceId: 'other', deviceLevel: 1, at: now - 60_000 })
    // NATS keeps one publisher's order: once the witness is kicked, the stale notice was handled
    B.ctx.cluster!.announceWkLogin({ uid: witness, deviceFlag: 1, deviceId: 'other', deviceLevel: 1, at: now + 60_000 })
    await eventually(() => disconnects(witnessOnA).length === 1)
    expect(disconnects(onA)).toEqual([])
    expect(A.ctx.hub.online([u]).length).toBe(1)
    B.ctx.cluster!.announceWkLogin({ uid: u, deviceFlag: 1, deviceId: 'other', deviceLevel: 1, at: now + 60_000 })
    await eventually(() => disconnects(onA).length === 1)
    expect(disconnects(onA)[0]!.reasonCode).toBe(12)
    // node A heard a time 60 s ahead of its own clock: its next login is stamped after it, so that
    // login outranks B's on every node whatever the two clocks say
    expect(A.ctx.cluster!.clock.stamp().at).toBeGreaterThan(now + 60_000)
  }, 30_000)

  test('a quick-im connection on node B replaces the same session and platform on node A (4001), not another platform', async () => {
    const [s, peer] = [uniq('qr'), uniq('qp')]
    const conv = (await qim(A, '/inner/create_conversation', { conversation_type: 0, sessions: [s, peer] })).ConversationId as string
    const [web, app, tp] = await Promise.all([qim(A, '/inner/get_token', { session: s, platform: 1 }), qim(A, '/inner/get_token', { session: s, platform: 2 }), qim(A, '/inner/get_token', { session: peer, platform: 1 })])
    const older = await openWs(wsUrl(A, web))
    const otherPlatform = await openWs(wsUrl(C, app))
    clients.push({ close: () => older.ws.close() }, { close: () => otherPlatform.ws.close() })
    await eventually(() => A.ctx.hub.online([s]).length === 1 && C.ctx.hub.online([s]).length === 1)
    const newer = await openWs(wsUrl(B, web))
    clients.push({ close: () => newer.ws.close() })
    expect((await older.closed).code).toBe(4001)
    await eventually(() => A.ctx.hub.online([s]).length === 0 && B.ctx.hub.online([s]).length === 1)
    await qim(A, '/send_msg', { conversation_id: conv, status: 0, type: 1, content: 'after the replacement' }, tp)
    await eventually(() => newer.frames.length === 1 && otherPlatform.frames.length === 1)
    expect(older.frames).toEqual([])
    expect(newer.ws.readyState).toBe(WebSocket.OPEN)
    expect(otherPlatform.ws.readyState).toBe(WebSocket.OPEN)
  }, 30_000)

  test('a node stopped mid-burst: every acknowledged message is stored and delivered; the others keep serving', async () => {
    const [sender, r] = [uniq('s'), uniq('r')]
    const channel = uniq('g')
    await post(A, '/channel', { channel_id: channel, channel_type: 2, subscribers: [sender, r] })
    await post(A, '/user/token', { uid: r, token: 'tk', device_flag: 1, device_level: 0 })
    const onA = await wkConnect(A, r, 'tk')
    clients.push(onA)
    await eventually(() => A.ctx.hub.online([r]).length === 1)
    const acked = new Set<number>()
    let refused = 0
    const payload = Buffer.from(JSON.stringify({ type: 1, content: 'burst' })).toString('base64')
    const sendVia = async (node: RunningServer) => {
      try {
        const res = await fetch(node.url + '/message/send', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ from_uid: sender, channel_id: channel, channel_type: 2, payload }) })
        if (res.status === 200) acked.add((await res.json()).message_id)
        else refused++
      } catch {
        refused++ // the stopped node no longer accepts connections
      }
    }
    let stopped: Promise<void> | undefined
    for (let i = 0; i < 300; i += 10) {
      if (i === 100) stopped = C.stop() // mid-burst, with sends to C in flight
      await Promise.all(Array.from({ length: 10 }, (_, k) => sendVia(k % 2 ? C : B)))
    }
    await stopped
    expect(refused).toBeGreaterThan(0)
    expect(acked.size).toBeGreaterThan(150)
    // every acknowledged message is in the channel's history, read through a surviving node
    const hist = await post(A, '/channel/messagesync', { login_uid: '', channel_id: channel, channel_type: 2, start_message_seq: 1, limit: 10_000, pull_mode: 1 })
    const stored = new Set<number>(hist.messages.map((m: any) => m.message_id))
    for (const id of acked) expect(stored.has(id)).toBe(true)
    // and delivered live to the client on node A, in seq order
    await eventually(() => recvsIn(onA, channel).length >= acked.size, 10_000)
    const got = recvsIn(onA, channel)
    for (const id of acked) expect(got.some((x) => Number(x.messageId) === id)).toBe(true)
    const seqs = got.map((x) => x.messageSeq)
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
    // the survivors no longer count the stopped node as a peer after its goodbye
    await eventually(() => A.ctx.cluster!.livePeers().length === 1 && B.ctx.cluster!.livePeers().length === 1)
  }, 60_000)
})
