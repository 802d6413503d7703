import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { sql } from 'drizzle-orm'
import { testConfig } from '../../src/config'
import { rows } from '../../src/core/sql'
import { silentLogger } from '../../src/log'
import { webhookLimits } from '../../src/ops/webhooks'
import { startServer } from '../../src/server'
import { freshStorage, startTestServer, type TestServer } from '../helpers/server'
import { eventually } from '../helpers/wait'
import { apiClient, b64, unb64 } from '../api/wukongim/client'
import { openWs, QuickIm } from '../api/quickim/client'

interface Call {
  event: string
  body: any
  status: number
}

/** A real HTTP receiver; `answer` decides each response's status. */
function receiver(answer: (event: string, nth: number) => number = () => 200) {
  const calls: Call[] = []
  const http = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(req) {
      const event = new URL(req.url).searchParams.get('event') ?? ''
      const body = await req.json()
      const status = answer(event, calls.filter((c) => c.event === event).length + 1)
      calls.push({ event, body, status })
      return new Response('', { status })
    },
  })
  const acked = (event: string) => calls.filter((c) => c.event === event && c.status === 200)
  return { calls, acked, url: `http://127.0.0.1:${http.port}/hook`, stop: () => http.stop(true) }
}

const backlog = async (s: TestServer | { ctx: TestServer['ctx'] }) =>
  Number((await rows<{ n: number }>(s.ctx.database.db, sql`select count(*)::int as n from webhook_outbox`))[0]!.n)

const saved = { ...webhookLimits }
beforeAll(() => Object.assign(webhookLimits, { retryBaseMs: 50, retryMaxMs: 200, idlePollMs: 50 }))
afterAll(() => Object.assign(webhookLimits, saved))

describe('webhooks', () => {
  let failFirst = 0
  const hook = receiver((event, nth) => (event === 'msg.notify' && nth <= failFirst ? 500 : 200))
  let server: TestServer
  let api: ReturnType<typeof apiClient>
  beforeAll(async () => {
    server = await startTestServer({ webhookUrl: hook.url })
    api = apiClient(server.url)
  }, 30_000)
  afterAll(async () => {
    await server.stop()
    hook.stop()
  })

  test('msg.notify, msg.offline and user.onlinestatus in WuKongIM shapes', async () => {
    await api.post('/channel', { channel_id: 'w-g1', channel_type: 2, subscribers: ['w-a', 'w-b', 'w-c'] })
    const q = new QuickIm(server)
    const ws = await openWs(q.wsUrl(await q.token('w-b')))
    await eventually(() => hook.acked('user.onlinestatus').some((c) => c.body.some((s: string) => /^w-b-\d+-1-\d+-1-1$/.test(s))))

    const sent = await api.post('/message/send', { from_uid: 'w-a', channel_id: 'w-g1', channel_type: 2, client_msg_no: 'w-1', payload: b64('hello hook') })
    expect(sent.status).toBe(200)
    const id = sent.body.message_id
    const notify = await eventually(() => hook.acked('msg.notify').flatMap((c) => c.body).find((m: any) => m.message_id === id))
    expect(notify).toMatchObject({ message_idstr: String(id), message_seq: sent.body.message_seq, client_msg_no: 'w-1', from_uid: 'w-a', channel_id: 'w-g1', channel_type: 2 })
    expect(unb64(notify.payload)).toBe('hello hook')
    expect(notify.header).toEqual({ no_persist: 0, red_dot: 1, sync_once: 0 })

    // b is online, a is the sender: only c is offline
    const offline = await eventually(() => hook.acked('msg.offline').find((c) => c.body.message_id === id))
    expect(offline!.body.to_uids).toEqual(['w-c'])
    expect(unb64(offline!.body.payload)).toBe('hello hook')

    // no_persist messages are not webhooked
    const live = await api.post('/message/send', { header: { no_persist: 1 }, from_uid: 'w-a', channel_id: 'w-g1', channel_type: 2, payload: b64('live') })
    expect(live.status).toBe(200)

    ws.ws.close()
    const off = await eventually(() => hook.acked('user.onlinestatus').flatMap((c) => c.body).find((s: string) => /^w-b-\d+-0-\d+-0-0$/.test(s)))
    // the same connection number online and offline (counted from the right: a uid may hold '-')
    const on = hook.acked('user.onlinestatus').flatMap((c) => c.body).find((s: string) => /^w-b-\d+-1-/.test(s))
    const connectionNo = (s: string) => s.split('-').at(-3)
    expect(connectionNo(off)).toBe(connectionNo(on))
    await eventually(async () => (await backlog(server)) === 0)
    const notified = hook.acked('msg.notify').flatMap((c) => c.body).map((m: any) => m.message_id)
    expect(notified).not.toContain(live.body.message_id)
    expect(hook.acked('msg.offline').map((c) => c.body.message_id)).not.toContain(live.body.message_id)
  })

  test('100 messages per msg.notify call at most', async () => {
    const before = hook.acked('msg.notify').length
    const sends = Array.from({ length: 250 }, (_, i) =>
      api.post('/message/send', { from_uid: 'w-a', channel_id: 'w-g1', channel_type: 2, payload: b64(`bulk ${i}`) }),
    )
    const ids = (await Promise.all(sends)).map((r) => r.body.message_id)
    await eventually(() => {
      const got = new Set(hook.acked('msg.notify').flatMap((c) => c.body).map((m: any) => m.message_id))
      return ids.every((id) => got.has(id))
    })
    for (const c of hook.acked('msg.notify').slice(before)) expect(c.body.length).toBeLessThanOrEqual(100)
  })

  test('a receiver answering 500 is retried until it acknowledges, then not called again', async () => {
    const already = hook.calls.filter((c) => c.event === 'msg.notify').length
    failFirst = already + 2
    const sent = await api.post('/message/send', { from_uid: 'w-a', channel_id: 'w-g1', channel_type: 2, payload: b64('retry me') })
    const id = sent.body.message_id
    const has = (c: Call) => c.body.some((m: any) => m.message_id === id)
    await eventually(() => hook.acked('msg.notify').some(has))
    expect(hook.calls.filter((c) => c.event === 'msg.notify' && has(c)).map((c) => c.status)).toEqual([500, 500, 200])
    await eventually(async () => (await backlog(server)) === 0)
    await Bun.sleep(300) // several retry periods: an acknowledged row is never sent again
    expect(hook.acked('msg.notify').filter(has).length).toBe(1)
    const metrics = await (await fetch(`${server.url}/metrics`)).text()
    expect(metrics).toMatch(/bunim_webhook_posts_total\{result="failed"\} [1-9]/)
    expect(metrics).toContain('bunim_webhook_backlog 0')
  })
})

describe('webhooks across a restart', () => {
  test('rows queued while the receiver is down are delivered after the server restarts', async () => {
    const down = receiver(() => 503)
    const storage = await freshStorage()
    const config = testConfig({ host: '127.0.0.1', ...storage.overrides, webhookUrl: down.url })
    let node = await startServer(config, silentLogger)
    let stopped = false
    try {
      const api = apiClient(node.url)
      await api.post('/channel', { channel_id: 'r-g1', channel_type: 2, subscribers: ['r-a', 'r-b'] })
      const ids: number[] = []
      for (let i = 0; i < 3; i++) ids.push((await api.post('/message/send', { from_uid: 'r-a', channel_id: 'r-g1', channel_type: 2, payload: b64(`r${i}`) })).body.message_id)
      await eventually(() => down.calls.some((c) => c.event === 'msg.notify'))
      await node.stop()
      stopped = true
      down.stop()
      expect(down.calls.every((c) => c.status === 503)).toBe(true)

      const up = receiver()
      node = await startServer({ ...config, webhookUrl: up.url }, silentLogger)
      stopped = false
      try {
        await eventually(() => {
          const got = new Set(up.acked('msg.notify').flatMap((c) => c.body).map((m: any) => m.message_id))
          return ids.every((id) => got.has(id))
        })
        await eventually(() => ids.every((id) => up.acked('msg.offline').some((c) => c.body.message_id === id)))
        const offline = up.acked('msg.offline').map((c) => c.body)
        for (const id of ids) expect(offline.find((b) => b.message_id === id)?.to_uids).toEqual(['r-b'])
        await eventually(async () => (await backlog(node)) === 0)
      } finally {
        up.stop()
      }
    } finally {
      if (!stopped) await node.stop()
      await storage.drop()
    }
  }, 30_000)
})

describe('webhook outbox', () => {
  test('concurrent claims (several nodes) never hand out the same row; leased rows wait, released ones come back', async () => {
    const server = await startTestServer() // no webhook URL: no delivery loop competes here
    try {
      const { createWebhookOutbox } = await import('../../src/core/webhook-outbox')
      const nodes = [createWebhookOutbox(server.ctx.database.db), createWebhookOutbox(server.ctx.database.db)]
      await nodes[0]!.enqueue(Array.from({ length: 40 }, (_, i) => ({ event: 'user.onlinestatus', body: [`u${i}-0-1-1-1-1`] })))
      const claims = await Promise.all([0, 1, 0, 1].map((n) => nodes[n]!.claim(16, 60_000)))
      const ids = claims.flat().map((r) => r.id)
      expect(ids.length).toBe(40)
      expect(new Set(ids).size).toBe(40)
      expect(claims.flat().every((r) => r.attempts === 1)).toBe(true)
      expect(await nodes[1]!.claim(16, 60_000)).toEqual([]) // all leased
      await nodes[0]!.retryLater(ids[0]!, 0)
      const again = await nodes[1]!.claim(16, 60_000)
      expect(again.map((r) => [r.id, r.attempts, r.body])).toEqual([[ids[0]!, 2, claims.flat().find((r) => r.id === ids[0])!.body]])
      await nodes[0]!.complete(ids)
      expect(await nodes[0]!.backlog()).toBe(0)
    } finally {
      await server.stop()
    }
  }, 30_000)
})
