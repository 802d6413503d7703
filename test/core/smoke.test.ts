import { afterAll, beforeAll, expect, test } from 'bun:test'
import { startTestServer, type TestServer } from '../helpers/server'

let server: TestServer
beforeAll(async () => {
  server = await startTestServer()
}, 60_000)
afterAll(() => server.stop(), 30_000)

test('core smoke: group send, person send, seqs', async () => {
  const core = server.ctx.core
  await core.channels.upsert({ channelId: 'g1', channelType: 2, subscribers: ['a', 'b'] })
  const p = new TextEncoder().encode('hi')
  const rs = await Promise.all(Array.from({ length: 50 }, () => core.messages.send({ fromUid: 'a', channelId: 'g1', channelType: 2, payload: p })))
  expect(rs.map((r) => r.messageSeq).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1))
  const pr = await core.messages.send({ fromUid: 'a', channelId: 'b', channelType: 1, payload: p })
  expect(pr.messageSeq).toBe(1)
  const s = await core.messages.sync({ loginUid: 'b', channelId: 'a', channelType: 1, startMessageSeq: 0, endMessageSeq: 0, limit: 10, pullMode: 0 })
  expect(s.messages.length).toBe(1)
  const conv = await core.conversations.sync({ uid: 'b', version: 0, lastMsgSeqs: '', msgCount: 5 })
  expect(conv.length).toBe(2)
})
