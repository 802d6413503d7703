/**
 * Two nodes on one database (two cores over the same database, each with its own writer and
 * caches): per-channel seqs stay gapless, message_ids follow seq order, and a client_msg_no sent
 * through both at once is stored once — the write lock and the channel row lock order batches,
 * whichever node sends them.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { sql } from 'drizzle-orm'
import type { Core } from '../../src/core/core'
import { createCore } from '../../src/core'
import { rowsOf } from '../../src/db/migrate'
import { silentLogger } from '../../src/log'
import { startTestServer, type TestServer } from '../helpers/server'

let server: TestServer
let nodeA: Core
let nodeB: Core
beforeAll(async () => {
  server = await startTestServer()
  nodeA = server.ctx.core
  nodeB = await createCore({ database: server.ctx.database, log: silentLogger, maxPayloadBytes: 1 << 20 })
  await nodeA.channels.upsert({ channelId: 'shared', channelType: 2, subscribers: Array.from({ length: 10 }, (_, i) => `m${i}`) })
}, 60_000)
afterAll(async () => {
  await nodeB.messages.flush()
  await server.stop()
}, 30_000)

const payload = new TextEncoder().encode('p')

test('concurrent sends through two nodes: seqs 1..N gapless, ids in seq order', async () => {
  const perSender = 60
  await Promise.all(
    [nodeA, nodeB].flatMap((node, n) =>
      Array.from({ length: 10 }, async (_, s) => {
        for (let k = 0; k < perSender; k++) {
          await node.messages.send({ fromUid: `m${s}`, channelId: 'shared', channelType: 2, payload, clientMsgNo: `n${n}-s${s}-${k}` })
        }
      }),
    ),
  )
  const stored = rowsOf<{ message_seq: number; message_id: number }>(
    await server.ctx.database.db.execute(sql`select message_seq, message_id from messages where channel_id = 'shared' order by message_seq`),
  )
  expect(stored.map((r) => Number(r.message_seq))).toEqual(Array.from({ length: 2 * 10 * perSender }, (_, i) => i + 1))
  const ids = stored.map((r) => Number(r.message_id))
  expect(ids).toEqual([...ids].sort((a, b) => a - b))
}, 60_000)

test('the same client_msg_no through both nodes at once is stored once and both get its answer', async () => {
  for (let round = 0; round < 10; round++) {
    const same = { fromUid: 'm1', channelId: 'shared', channelType: 2, payload, clientMsgNo: `twice-${round}` }
    const [a, b] = await Promise.all([nodeA.messages.send(same), nodeB.messages.send(same)])
    expect(a.messageId).toBe(b.messageId)
    expect(a.messageSeq).toBe(b.messageSeq)
  }
  const [row] = rowsOf<{ n: number; gaps: number }>(
    await server.ctx.database.db.execute(
      sql`select count(*)::int as n, (max(message_seq) - count(*))::int as gaps from messages where channel_id = 'shared' and message_seq > 0`,
    ),
  )
  expect(Number(row!.gaps)).toBe(0)
  const [twice] = rowsOf<{ n: number }>(await server.ctx.database.db.execute(sql`select count(*)::int as n from messages where client_msg_no like 'twice-%'`))
  expect(Number(twice!.n)).toBe(10)
})
