/**
 * Writer ordering and in-flight idempotence: answers and `message` events come out in commit
 * (= message_id) order, seqs stay gapless, and a client_msg_no repeated while its first batch is
 * still uncommitted (held on the write lock) answers the same message without failing a batch. A
 * batch statement's snapshot predates the write lock, so a writer that sent the repeat in a
 * second concurrent batch would miss the first copy and hit the unique index (logged retry):
 * this test catches that (tried in docs/performance.md, "Two batches in flight").
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { sql } from 'drizzle-orm'
import type { Core } from '../../src/core/core'
import { createCore } from '../../src/core'
import { rowsOf } from '../../src/db/migrate'
import type { Logger } from '../../src/log'
import { FlushGauge } from '../../src/core/flush-gauge'
import { WRITE_LOCK, type WriteObserver } from '../../src/core/writer'
import { startTestServer, type TestServer } from '../helpers/server'
import { eventually } from '../helpers/wait'

let server: TestServer
let core: Core
const warnings: string[] = []
const log: Logger = { debug() {}, info() {}, warn: (msg) => void warnings.push(msg), error: (msg) => void warnings.push(msg) }

beforeAll(async () => {
  server = await startTestServer()
  core = await createCore({ database: server.ctx.database, log, maxPayloadBytes: 1 << 20 })
  for (let c = 0; c < 4; c++) await core.channels.upsert({ channelId: `p${c}`, channelType: 2, subscribers: Array.from({ length: 10 }, (_, i) => `u${i}`) })
}, 60_000)
afterAll(async () => {
  await core.messages.flush()
  await server.stop()
}, 30_000)

const payload = new TextEncoder().encode('p')

/** A flush gauge whose verdict the test sets (the writer's probes still run and are recorded). */
class PinnedGauge extends FlushGauge {
  constructor(public verdict: boolean) {
    super()
  }
  override get fast(): boolean {
    return this.verdict
  }
}

/**
 * Every commit mode: a node alone (synchronous commits); a cluster node's own judgement of the
 * flush; asynchronous commits (a slow WAL flush); and a switch to synchronous commits while earlier
 * asynchronous batches still await their flush.
 */
const MODES = [
  { name: 'alone on the database', clustered: false, gauge: () => undefined, flipAfter: undefined },
  { name: 'cluster, measured flush speed', clustered: true, gauge: () => undefined, flipAfter: undefined },
  { name: 'cluster, slow flushes: asynchronous', clustered: true, gauge: () => new PinnedGauge(false), flipAfter: undefined },
  { name: 'cluster, flushes turn fast mid-run', clustered: true, gauge: () => new PinnedGauge(false), flipAfter: 400 },
] as const

for (const [m, mode] of MODES.entries())
  test(`concurrent senders (${mode.name}): events and answers in message_id order, seqs gapless`, async () => {
    const gauge = mode.gauge()
    const batches = { sync: 0, async: 0 }
    const observer: WriteObserver = {
      acknowledged() {},
      batchCommitted: (_items, _ms, synchronous) => void batches[synchronous ? 'sync' : 'async']++,
      walFlushed() {},
    }
    const writerCore = await createCore({ database: server.ctx.database, log, maxPayloadBytes: 1 << 20, clustered: mode.clustered, flushGauge: gauge, writeObserver: observer })
    const events: number[] = []
    writerCore.events.on((e) => {
      if (e.type === 'message') events.push(e.message.messageId)
    })
    const channel = (c: number) => `o${m}-${c}`
    for (let c = 0; c < 4; c++) await writerCore.channels.upsert({ channelId: channel(c), channelType: 2, subscribers: Array.from({ length: 10 }, (_, i) => `u${i}`) })
    const perSender = 40
    const answered: number[] = []
    await Promise.all(
      Array.from({ length: 40 }, async (_, s) => {
        for (let k = 0; k < perSender; k++) {
          const r = await writerCore.messages.send({ fromUid: `u${s % 10}`, channelId: channel(s % 4), channelType: 2, payload, clientMsgNo: `o-${s}-${k}` })
          answered.push(r.messageId)
          if (gauge && answered.length === mode.flipAfter) gauge.verdict = true
        }
      }),
    )
    await writerCore.messages.flush()
    expect(events.length).toBe(40 * perSender)
    expect(events).toEqual([...events].sort((a, b) => a - b))
    // Answers are released batch by batch in commit order: every answer follows a smaller id's answer.
    expect(answered).toEqual([...answered].sort((a, b) => a - b))
    for (let c = 0; c < 4; c++) {
      const seqs = rowsOf<{ message_seq: number }>(await server.ctx.database.db.execute(sql`select message_seq from messages where channel_id = ${channel(c)} order by message_seq`))
      expect(seqs.map((r) => Number(r.message_seq))).toEqual(Array.from({ length: 10 * perSender }, (_, i) => i + 1))
    }
    // the pinned modes ran what they name (PGlite always commits synchronously)
    if (!mode.clustered || server.ctx.database.kind !== 'postgres') expect(batches.async).toBe(0)
    else if (gauge) {
      expect(batches.async).toBeGreaterThan(0)
      if (mode.flipAfter) expect(batches.sync).toBeGreaterThan(0)
    }
  }, 60_000)

// Postgres only: PGlite commits every batch synchronously (no flush to wait for).
test.skipIf(!process.env.TEST_DATABASE_URL)('a synchronous batch committed while an earlier one awaits its flush answers after it', async () => {
  const gauge = new PinnedGauge(false)
  const writerCore = await createCore({ database: server.ctx.database, log, maxPayloadBytes: 1 << 20, clustered: true, flushGauge: gauge })
  const events: number[] = []
  writerCore.events.on((e) => {
    if (e.type === 'message') events.push(e.message.messageId)
  })
  await writerCore.channels.upsert({ channelId: 'held', channelType: 2, subscribers: ['ha', 'hb'] })
  // answered after its read mark (a conversations row) is written
  await writerCore.messages.send({ fromUid: 'ha', channelId: 'held', channelType: 2, payload })
  // Hold ha's read-mark row: the flush statement of ha's next asynchronous batch waits on it.
  const { db } = server.ctx.database
  let release = () => {}
  let locked = () => {}
  const isLocked = new Promise<void>((r) => (locked = r))
  const holder = db.transaction(async (tx) => {
    await tx.execute(sql`select 1 from conversations where uid = 'ha' and channel_id = 'held' for update`)
    locked()
    await new Promise<void>((r) => (release = r))
  })
  await isLocked
  const order: string[] = []
  // flushes are slow: committed asynchronously, their flush (ha's read mark) held on the row lock
  const early = Array.from({ length: 17 }, (_, i) => writerCore.messages.send({ fromUid: 'ha', channelId: 'held', channelType: 2, payload, clientMsgNo: `early-${i}` }).then((r) => (order.push('early'), r)))
  await eventually(async () => rowsOf<{ n: number }>(await db.execute(sql`select count(*)::int as n from messages where client_msg_no like 'early-%'`))[0]!.n === 17)
  // Flushes turn fast: the next batch commits synchronously while the early batch awaits its flush.
  gauge.verdict = true
  const late = writerCore.messages.send({ fromUid: 'hb', channelId: 'held', channelType: 2, payload, clientMsgNo: 'late' }).then((r) => (order.push('late'), r))
  await eventually(async () => rowsOf<{ n: number }>(await db.execute(sql`select count(*)::int as n from messages where client_msg_no = 'late'`))[0]!.n === 1)
  await new Promise((r) => setTimeout(r, 50))
  expect(order).toEqual([])
  release()
  await holder
  const [answers, last] = await Promise.all([Promise.all(early), late])
  expect(order).toEqual([...Array(17).fill('early'), 'late'])
  expect(last.messageId).toBeGreaterThan(Math.max(...answers.map((a) => a.messageId)))
  expect(events).toEqual([...events].sort((a, b) => a - b))
  expect(events.length).toBe(19)
}, 60_000)

test('a client_msg_no repeated while its batch is in flight: one message, no failed batch', async () => {
  warnings.length = 0
  const { database } = server.ctx
  const waitingForLock = async () =>
    Number(rowsOf<{ n: number }>(await database.db.execute(sql`select count(*)::int as n from pg_locks where locktype = 'advisory' and objid::bigint = ${WRITE_LOCK}::bigint and not granted`))[0]!.n)
  for (let round = 0; round < 5; round++) {
    const same = { fromUid: 'u1', channelId: 'p1', channelType: 2, payload, clientMsgNo: `again-${round}` }
    // Postgres: another transaction holds the write lock, so the first copy's batch stays
    // uncommitted while the second copy is submitted (PGlite has one connection: no lock to hold).
    let release = () => {}
    let holder: Promise<unknown> = Promise.resolve()
    if (database.kind === 'postgres') {
      const locked = new Promise<void>((r) => (release = r))
      let held = () => {}
      const isHeld = new Promise<void>((r) => (held = r))
      holder = database.db.transaction(async (tx) => {
        await tx.execute(sql`select pg_advisory_xact_lock(${WRITE_LOCK})`)
        held()
        await locked
      })
      await isHeld
    }
    const first = core.messages.send(same)
    if (database.kind === 'postgres') await eventually(async () => (await waitingForLock()) === 1)
    const second = core.messages.send(same)
    // A neighbour in the same batch: a failed batch of several items is logged before its retry.
    const neighbour = core.messages.send({ ...same, clientMsgNo: `neighbour-${round}` })
    // Give the writer the chance to send the second copy now (it must not: its snapshot would miss the first).
    await new Promise((r) => setTimeout(r, 30))
    release()
    await holder
    const [a, b, c] = await Promise.all([first, second, neighbour])
    expect(c.messageId).toBeGreaterThan(a.messageId)
    expect(b.messageId).toBe(a.messageId)
    expect(b.messageSeq).toBe(a.messageSeq)
  }
  const [row] = rowsOf<{ n: number }>(await database.db.execute(sql`select count(*)::int as n from messages where client_msg_no like 'again-%'`))
  expect(Number(row!.n)).toBe(5)
  expect(warnings).toEqual([])
}, 60_000)
