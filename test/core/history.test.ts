/** messages.byId / range / since: the message_id-based history quick-im reads. */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import type { Core } from '../../src/core/core'
import { startTestServer, type TestServer } from '../helpers/server'

let server: TestServer
let core: Core
const ids: Record<string, number[]> = { h1: [], h2: [] }
const key = (channelId: string) => ({ channelId, channelType: 2 })
const payload = new TextEncoder().encode('x')

beforeAll(async () => {
  server = await startTestServer()
  core = server.ctx.core
  for (const c of ['h1', 'h2']) await core.channels.upsert({ channelId: c, channelType: 2, subscribers: ['a', 'b'] })
  for (let i = 0; i < 10; i++) {
    for (const c of ['h1', 'h2']) ids[c]!.push((await core.messages.send({ fromUid: 'a', channelId: c, channelType: 2, payload })).messageId)
  }
  // neither a command nor a scoped message is history
  await core.messages.send({ fromUid: 'a', channelId: 'h1', channelType: 2, payload, header: { syncOnce: 1 } })
  await core.messages.send({ fromUid: 'a', channelId: 'h1', channelType: 2, payload, subscribers: ['b'] })
}, 60_000)
afterAll(() => server.stop(), 30_000)

test('byId finds a history message of that channel only', async () => {
  const m = await core.messages.byId(key('h1'), ids.h1![3]!)
  expect(m?.messageSeq).toBe(4)
  expect(await core.messages.byId(key('h2'), ids.h1![3]!)).toBeUndefined()
  expect(await core.messages.byId(key('h1'), 9_999_999)).toBeUndefined()
})

test('range: bounds by message_id, ascending, newest picks the last page', async () => {
  const h1 = ids.h1!
  const idsOf = (ms: { messageId: number }[]) => ms.map((m) => m.messageId)
  expect(idsOf(await core.messages.range(key('h1'), { fromId: h1[2], toId: h1[5], limit: 100 }))).toEqual(h1.slice(2, 6))
  expect(idsOf(await core.messages.range(key('h1'), { afterId: h1[7], limit: 100 }))).toEqual(h1.slice(8))
  expect(idsOf(await core.messages.range(key('h1'), { beforeId: h1[5], limit: 3, newest: true }))).toEqual(h1.slice(2, 5))
  expect(idsOf(await core.messages.range(key('h1'), { limit: 30, newest: true }))).toEqual(h1)
  expect(idsOf(await core.messages.range(key('h1'), { afterId: h1[1], limit: 2 }))).toEqual(h1.slice(2, 4))
})

test('since: history after a message_id across channels, in id order, limited', async () => {
  const all = [...ids.h1!, ...ids.h2!].sort((a, b) => a - b)
  const got = await core.messages.since([key('h1'), key('h2')], all[4]!, 100)
  expect(got.map((m) => m.messageId)).toEqual(all.slice(5))
  expect((await core.messages.since([key('h1'), key('h2')], 0, 3)).map((m) => m.messageId)).toEqual(all.slice(0, 3))
  expect(await core.messages.since([], 0, 10)).toEqual([])
})
