import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { sql } from 'drizzle-orm'
import { startTestServer, type TestServer } from '../helpers/server'
import { eventually } from '../helpers/wait'
import { apiClient, b64 } from '../api/wukongim/client'
import { openWs, QuickIm } from '../api/quickim/client'
import { rows } from '../../src/core/sql'

/** Prometheus text → { 'name{labels}': value }; throws on a line that is not valid exposition. */
function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>()
  const typed = new Set<string>()
  for (const line of text.split('\n')) {
    if (line === '') continue
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line)
    if (type) {
      typed.add(type[1]!)
      continue
    }
    if (line.startsWith('# HELP ')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.e+-]+|\+Inf|NaN)$/.exec(line)
    if (!m) throw new Error(`not Prometheus text: ${line}`)
    const family = m[1]!.replace(/_(bucket|sum|count)$/, '')
    if (!typed.has(m[1]!) && !typed.has(family)) throw new Error(`sample before its # TYPE: ${line}`)
    out.set(m[1]! + (m[2] ?? ''), Number(m[3]))
  }
  return out
}

let server: TestServer
let api: ReturnType<typeof apiClient>
beforeAll(async () => {
  server = await startTestServer()
  api = apiClient(server.url)
}, 30_000)
afterAll(() => server.stop())

const scrape = async (url = server.url, headers: Record<string, string> = {}) => {
  const res = await fetch(`${url}/metrics`, { headers })
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() }
}

describe('GET /metrics', () => {
  test('Prometheus text; sends, commit latency, connections and deliveries move', async () => {
    const first = await scrape()
    expect(first.status).toBe(200)
    expect(first.type).toContain('text/plain')
    const before = parseMetrics(first.text)
    expect(before.get('bunim_connections{transport="quickim-ws"}')).toBe(0)
    expect(before.get('bunim_webhook_backlog')).toBe(0)

    await api.post('/channel', { channel_id: 'm-g1', channel_type: 2, subscribers: ['m-a', 'm-b'] })
    const q = new QuickIm(server)
    const ws = await openWs(q.wsUrl(await q.token('m-b')))
    await eventually(async () => (await api.post('/user/onlinestatus', ['m-b'])).body.length === 1)
    for (let i = 0; i < 3; i++)
      expect((await api.post('/message/send', { from_uid: 'm-a', channel_id: 'm-g1', channel_type: 2, payload: b64(`hi ${i}`) })).status).toBe(200)
    const live = await api.post('/message/send', { header: { no_persist: 1 }, from_uid: 'm-a', channel_id: 'm-g1', channel_type: 2, payload: b64('live') })
    expect(live.status).toBe(200)
    await eventually(() => ws.frames.length >= 4)

    const after = parseMetrics((await scrape()).text)
    const delta = (k: string) => after.get(k)! - before.get(k)!
    expect(delta('bunim_sends_total{kind="persisted",origin="api"}')).toBe(3)
    expect(delta('bunim_sends_total{kind="no_persist",origin="api"}')).toBe(1)
    expect(delta('bunim_send_commit_seconds_count')).toBe(3)
    expect(after.get('bunim_send_commit_seconds_bucket{le="+Inf"}')).toBe(after.get('bunim_send_commit_seconds_count')!)
    expect(after.get('bunim_send_commit_seconds_sum')!).toBeGreaterThan(0)
    // three sequential sends: three batches of one (the live send takes no batch)
    expect(delta('bunim_writer_batches_total')).toBe(3)
    // a node alone on its database commits every batch synchronously, one round trip, and so has
    // no WAL flush to time (a cluster node's flushes: test/cluster)
    expect(delta('bunim_writer_sync_batches_total')).toBe(3)
    expect(delta('bunim_writer_batch_items_total')).toBe(3)
    expect(delta('bunim_writer_statement_seconds_total')).toBeGreaterThan(0)
    expect(after.get('bunim_writer_wal_flushes_total')).toBe(0)
    // and has no cluster series (a cluster node's: test/cluster)
    expect([...after.keys()].filter((k) => k.startsWith('bunim_cluster_'))).toEqual([])
    // buckets are cumulative
    const buckets = [...after].filter(([k]) => k.startsWith('bunim_send_commit_seconds_bucket')).map(([, v]) => v)
    expect(buckets).toEqual([...buckets].sort((x, y) => x - y))
    expect(after.get('bunim_connections{transport="quickim-ws"}')).toBe(1)
    expect(delta('bunim_deliveries_total{path="topic"}')).toBeGreaterThanOrEqual(4)
    expect(after.has('bunim_slow_consumers_total')).toBe(true)

    ws.ws.close()
    await eventually(async () => parseMetrics((await scrape()).text).get('bunim_connections{transport="quickim-ws"}') === 0)
  })

  test('no webhook URL: nothing is queued', async () => {
    expect((await api.post('/message/send', { from_uid: 'm-a', channel_id: 'm-g1', channel_type: 2, payload: b64('x') })).status).toBe(200)
    const [r] = await rows<{ n: number }>(server.ctx.database.db, sql`select count(*)::int as n from webhook_outbox`)
    expect(Number(r!.n)).toBe(0)
    expect(server.ctx.webhooks).toBeUndefined()
  })

  test('with a manager token: the token is required (Bearer or token header)', async () => {
    const guarded = await startTestServer({ managerToken: 'sekret' })
    try {
      expect((await scrape(guarded.url)).status).toBe(401)
      expect((await scrape(guarded.url, { authorization: 'Bearer wrong' })).status).toBe(401)
      const ok = await scrape(guarded.url, { authorization: 'Bearer sekret' })
      expect(ok.status).toBe(200)
      expect(parseMetrics(ok.text).has('bunim_webhook_backlog')).toBe(true)
      expect((await scrape(guarded.url, { token: 'sekret' })).status).toBe(200)
    } finally {
      await guarded.stop()
    }
  }, 30_000)
})
