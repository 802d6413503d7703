/**
 * A node that loses NATS keeps serving its local connections, and reconnects by itself: node A
 * reaches NATS through a proxy the test cuts and restores; node B is connected directly.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { RunningServer } from '../../src/server'
import { eventually } from '../helpers/wait'
import { freePort, WkClient } from '../protocol/helpers/wk-client'
import { type Cluster, NATS_URL, postgresUnavailable, startCluster } from './cluster-helper'
import { TcpProxy } from './tcp-proxy'

const unavailable = await postgresUnavailable()
if (unavailable) console.warn(`cluster tests skipped: ${unavailable}`)

async function post(node: RunningServer, path: string, body: unknown): Promise<any> {
  const res = await fetch(node.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  const text = await res.text()
  if (res.status !== 200) throw new Error(`${path} → HTTP ${res.status}: ${text}`)
  return text ? JSON.parse(text) : undefined
}
const payload = (s: string) => Buffer.from(JSON.stringify({ type: 1, content: s })).toString('base64')
const contents = (c: WkClient) => c.recvs().map((r) => c.open(r).content)

describe.skipIf(!!unavailable)('cluster: a node that loses NATS', () => {
  let cluster: Cluster
  let A: RunningServer, B: RunningServer
  const proxy = new TcpProxy(new URL(NATS_URL).hostname, Number(new URL(NATS_URL).port || 4222))
  const clients: WkClient[] = []
  beforeAll(async () => {
    proxy.start()
    cluster = await startCluster([])
    A = await cluster.addNode('node-a', { natsUrl: proxy.url })
    B = await cluster.addNode('node-b')
    await eventually(() => A.ctx.cluster!.livePeers().length === 1 && B.ctx.cluster!.livePeers().length === 1)
  }, 60_000)
  afterAll(async () => {
    for (const c of clients) c.close()
    proxy.cut()
    await cluster?.stop()
  }, 30_000)

  test('keeps serving local connections while NATS is away, then reconnects and hears the others again', async () => {
    await post(A, '/channel', { channel_id: 'room', channel_type: 2, subscribers: ['s', 'ra', 'rb'] })
    for (const u of ['ra', 'rb']) await post(A, '/user/token', { uid: u, token: 'tk', device_flag: 1, device_level: 0 })
    const onA = await WkClient.ws(A.url)
    const onB = await WkClient.ws(B.url)
    clients.push(onA, onB)
    expect((await onA.connect({ uid: 'ra', token: 'tk' })).reasonCode).toBe(1)
    expect((await onB.connect({ uid: 'rb', token: 'tk' })).reasonCode).toBe(1)
    await eventually(() => A.ctx.hub.online(['ra']).length === 1 && B.ctx.hub.online(['rb']).length === 1)
    await post(B, '/message/send', { from_uid: 's', channel_id: 'room', channel_type: 2, payload: payload('before') })
    await eventually(() => contents(onA).includes('before'))

    proxy.cut()
    await eventually(() => !A.ctx.cluster!.connected)
    // local service goes on: a send through A is stored and delivered to A's own connection
    await post(A, '/message/send', { from_uid: 's', channel_id: 'room', channel_type: 2, payload: payload('during') })
    await eventually(() => contents(onA).includes('during'))
    expect(await post(A, '/user/onlinestatus', ['ra'])).toEqual([{ uid: 'ra', device_flag: 1, online: 1 }])
    const health = await fetch(A.url + '/health')
    expect(health.status).toBe(200)

    proxy.start()
    // the client reconnects by itself; then B's messages reach A's connection again
    await eventually(async () => {
      await post(B, '/message/send', { from_uid: 's', channel_id: 'room', channel_type: 2, payload: payload('after') })
      return contents(onA).includes('after')
    }, 15_000, 500)
    expect(A.ctx.cluster!.connected).toBe(true)
    // what A published while it knew NATS was away was buffered by its client and reached B after the reconnect
    await eventually(() => contents(onB).includes('during'))
  }, 40_000)

  test('a node whose NATS is unreachable at start-up refuses to start, naming NATS', async () => {
    const nowhere = `nats://127.0.0.1:${freePort()}`
    await expect(cluster.addNode('node-x', { natsUrl: nowhere })).rejects.toThrow(`cannot reach NATS at ${nowhere}`)
  }, 30_000)
})
