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
import { WRITE_LOCK } from '../../src/core/writer'
import { startTestServer, type TestServer } from '../helpers/server'
import { eventually } from '../helpers/wait'

let server: TestServer
let core: Core
const warnings: string[] = []
const log: Logger = { debug() {}, info() {}, warn: (msg) => void warnings.push(msg), error: (msg) => void warnings.push(msg) }
const emitted: number[] = []

beforeAll(async () => {
  server = await startTestServer()
  core = await createCore({ database: server.ctx.database, log, maxPayloadBytes: 1 << 20 })
  core.events.on((e) => {
    if (e.type === 'message') emitted.push(e.message.messageId)
  })
  for (let c = 0; c < 4; c++) await core.channels.upsert({ channelId: `p${c}`, channelType: 2, subscribers: Array.from({ length: 10 }, (_, i) => `u${i}`) })
}, 60_000)
afterAll(async () => {
  await core.messages.flush()
  await server.stop()
}, 30_000)

const payload = new TextEncoder().encode('p')

test('concurrent senders: events and answers in message_id order, seqs gapless', async () => {
  emitted.length = 0
  const perSender = 40
  const answered: number[] = []
  await Promise.all(
    Array.from({ length: 40 }, async (_, s) => {
      for (let k = 0; k < perSender; k++) {
        const r = await core.messages.send({ fromUid: `u${s % 10}`, channelId: `p${s % 4}`, channelType: 2, payload, clientMsgNo: `o-${s}-${k}` })
        answered.push(r.messageId)
      }
    }),
  )
  await core.messages.flush()
  expect(emitted.length).toBe(40 * perSender)
  expect(emitted).toEqual([...emitted].sort((a, b) => a - b))
  // Answers are released batch by batch in commit order: every answer follows a smaller id's answer.
  expect(answered).toEqual([...answered].sort((a, b) => a - b))
  for (let c = 0; c < 4; c++) {
    const seqs = rowsOf<{ message_seq: number }>(await server.ctx.database.db.execute(sql`select message_seq from messages where channel_id = ${`p${c}`} order by message_seq`))
    expect(seqs.map((r) => Number(r.message_seq))).toEqual(Array.from({ length: 10 * perSender }, (_, i) => i + 1))
  }
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
