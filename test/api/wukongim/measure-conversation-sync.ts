/**
 * p50/p99 of POST /conversation/sync {msg_count: 1} for a user in 1,000 group channels of a few
 * hundred messages each (rows inserted in bulk, as the writer would leave them), half of them read.
 *   TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test bun test/api/wukongim/measure-conversation-sync.ts
 */
import { sql } from 'drizzle-orm'
import { startTestServer } from '../../helpers/server'

const CHANNELS = Number(process.env.CHANNELS ?? 1000)
const PER_CHANNEL = Number(process.env.PER_CHANNEL ?? 300)
const ROUNDS = Number(process.env.ROUNDS ?? 200)

const server = await startTestServer()
const db = server.ctx.database.db
try {
  await db.execute(sql`insert into users (uid) values ('reader'), ('writer') on conflict do nothing`)
  // every 7th message has red_dot 0; the counters are what the writer would have left
  await db.execute(sql`insert into channels (channel_id, channel_type, last_msg_seq, last_message_id, red_dot_count)
    select 'c' || i, 2, ${PER_CHANNEL}, i * ${PER_CHANNEL}, ${PER_CHANNEL - Math.floor(PER_CHANNEL / 7)} from generate_series(1, ${CHANNELS}) i`)
  await db.execute(sql`insert into subscribers (channel_id, channel_type, uid)
    select 'c' || i, 2, u from generate_series(1, ${CHANNELS}) i, (values ('reader'), ('writer')) v(u)`)
  await db.execute(sql`insert into messages (message_id, message_seq, channel_id, channel_type, client_msg_no, from_uid, red_dot, timestamp, send_time_us, payload, red_dot_rank)
    select (i - 1) * ${PER_CHANNEL} + s, s, 'c' || i, 2, md5(i || ':' || s), 'writer',
           case when s % 7 = 0 then 0 else 1 end, 1795300000 + s, 0, '\\x6869'::bytea, s - s / 7
    from generate_series(1, ${CHANNELS}) i, generate_series(1, ${PER_CHANNEL}) s`)
  // the reader read every other channel up to its middle
  await db.execute(sql`insert into conversations (uid, channel_id, channel_type, read_seq)
    select 'reader', 'c' || i, 2, ${PER_CHANNEL / 2} from generate_series(1, ${CHANNELS}, 2) i`)
  await db.execute(sql`select setval('message_id_seq', ${CHANNELS * PER_CHANNEL})`)
  if (process.env.TEST_DATABASE_URL) await db.execute(sql`analyze`)

  const body = JSON.stringify({ uid: 'reader', version: 0, msg_count: 1 })
  const call = async () => {
    const t0 = performance.now()
    const res = await fetch(`${server.url}/conversation/sync`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    const list = (await res.json()) as { unread: number }[]
    if (list.length !== CHANNELS) throw new Error(`expected ${CHANNELS} conversations, got ${list.length}`)
    return { ms: performance.now() - t0, unread: list.reduce((n, c) => n + c.unread, 0) }
  }
  for (let i = 0; i < 10; i++) await call()
  const times: number[] = []
  let unread = 0
  for (let i = 0; i < ROUNDS; i++) {
    const r = await call()
    times.push(r.ms)
    unread = r.unread
  }
  times.sort((a, b) => a - b)
  const pct = (p: number) => times[Math.min(times.length - 1, Math.floor((p / 100) * times.length))]!.toFixed(1)
  console.log(
    `${process.env.TEST_DATABASE_URL ? 'postgres' : 'pglite'}: ${CHANNELS} conversations × ${PER_CHANNEL} messages, ${ROUNDS} sequential syncs:` +
      ` p50 ${pct(50)} ms, p99 ${pct(99)} ms, max ${pct(100)} ms (total unread ${unread}); load ${(await import('node:os')).loadavg()[0]!.toFixed(1)}`,
  )
  if (process.env.BREAKDOWN) {
    const core = server.ctx.core.conversations
    for (const msgCount of [0, 1]) {
      const ts: number[] = []
      for (let i = 0; i < 50; i++) {
        const t0 = performance.now()
        await core.sync({ uid: 'reader', version: 0, lastMsgSeqs: '', msgCount })
        ts.push(performance.now() - t0)
      }
      ts.sort((a, b) => a - b)
      console.log(`in process, msg_count ${msgCount}: p50 ${ts[25]!.toFixed(1)} ms, max ${ts[49]!.toFixed(1)} ms`)
    }
  }
} finally {
  await server.stop()
}
