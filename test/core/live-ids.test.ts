/**
 * Live (no_persist) message ids come from blocks reserved from message_id_seq: unique across
 * several blocks, increasing, and never an id a stored message also got — even while other
 * sessions draw from the same sequence, which splits a reservation into several runs.
 */
import { expect, test } from 'bun:test'
import { IdBlock } from '../../src/core/id-block'
import { rawQuery } from '../../src/core/raw-query'
import { usingTestServer, type TestServer } from '../helpers/server'

let server: TestServer
usingTestServer((s) => {
  server = s
})

test('ids from several blocks are unique and increasing; stored sends interleave without collisions', async () => {
  const { core } = server.ctx
  await core.channels.upsert({ channelId: 'live-ids', channelType: 2, subscribers: ['a', 'b'] })
  const payload = new TextEncoder().encode('x')
  const query = rawQuery(server.ctx.database)
  const block = new IdBlock(query, 1000)
  const live: number[] = []
  const stored: number[] = []
  // Other sessions draw from the sequence meanwhile (stored sends and bare nextval calls).
  let done = false
  const interleave = (async () => {
    while (!done) {
      stored.push((await core.messages.send({ fromUid: 'a', channelId: 'live-ids', channelType: 2, payload })).messageId)
      const drawn = await query<{ id: number }>(`select nextval('message_id_seq') as id from generate_series(1, 50)`, [])
      stored.push(...drawn.map((r) => Number(r.id)))
    }
  })()
  for (let i = 0; i < 2600; i++) {
    live.push(await block.take())
    if (i % 10 === 0) await Bun.sleep(1)
  }
  done = true
  await interleave
  // the sequence really was shared: stored ids fall inside the span of the live ones
  expect(stored.some((id) => id > live[0]! && id < live.at(-1)!)).toBe(true)
  expect(new Set(live).size).toBe(live.length)
  for (let i = 1; i < live.length; i++) expect(live[i]!).toBeGreaterThan(live[i - 1]!)
  const storedSet = new Set(stored)
  expect(live.filter((id) => storedSet.has(id))).toEqual([])
})

test('live sends through the core answer unique ids', async () => {
  const { core } = server.ctx
  await core.channels.upsert({ channelId: 'live-ids-2', channelType: 2, subscribers: ['a'] })
  const payload = new TextEncoder().encode('x')
  const ids = await Promise.all(
    Array.from({ length: 1500 }, () => core.messages.send({ fromUid: 'a', channelId: 'live-ids-2', channelType: 2, payload, header: { noPersist: 1 } }).then((r) => r.messageId)),
  )
  expect(new Set(ids).size).toBe(ids.length)
  expect(ids.every((id) => Number.isSafeInteger(id) && id > 0)).toBe(true)
})

test('a reservation that is not one contiguous run hands out only the ids it drew', async () => {
  const query = rawQuery(server.ctx.database)
  // Every other value: as if another session had drawn in between each of ours.
  await query(`alter sequence message_id_seq increment by 2`, [])
  try {
    const block = new IdBlock(query, 1000)
    const ids: number[] = []
    for (let i = 0; i < 600; i++) ids.push(await block.take())
    for (let i = 1; i < ids.length; i++) expect(ids[i]! - ids[i - 1]!).toBe(2)
  } finally {
    await query(`alter sequence message_id_seq increment by 1`, [])
  }
})
