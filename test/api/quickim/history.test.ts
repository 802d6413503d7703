import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { parseMsgId } from '../../../src/core/quickim/msg-id'
import { startTestServer, type TestServer } from '../../helpers/server'
import { QuickIm } from './client'

let server: TestServer
let q: QuickIm
let alice: string
let conv: string
/** MsgIds of 40 messages "m0".."m39", in send order */
const ids: string[] = []

beforeAll(async () => {
  server = await startTestServer()
  q = new QuickIm(server)
  alice = await q.token('alice')
  conv = await q.conversation(['alice'])
  for (let i = 0; i < 40; i++) ids.push(await q.send(alice, conv, `m${i}`))
}, 30_000)
afterAll(() => server.stop())

const contents = (r: { Msg: { Content: string }[] }) => r.Msg.map((m) => m.Content)
const call = (path: string, body: Record<string, unknown>) => q.ok(path, { conversation_id: conv, ...body }, alice)
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => `m${a + i}`)

describe('history', () => {
  test('messages carry every field; SendTime in µs', async () => {
    const [m] = (await call('/get_conversation_lastone_msg', {})).Msg
    expect(Object.keys(m).sort()).toEqual(['Content', 'ConversationID', 'FromSession', 'MsgId', 'SendTime', 'Status', 'Type'])
    expect(m).toMatchObject({ MsgId: ids[39], ConversationID: conv, FromSession: 'alice', Status: 0, Type: 1, Content: 'm39' })
    expect(m.SendTime).toBeGreaterThan(1e15)
  })

  test('by range: inclusive at both ends; MsgId or decimal; desc orders the page', async () => {
    expect(contents(await call('/get_conversation_msg_by_range', { start_msg_id: ids[5], end_msg_id: ids[9] }))).toEqual(range(5, 9))
    const decimal = String(parseMsgId(ids[5]!))
    expect(contents(await call('/get_conversation_msg_by_range', { start_msg_id: decimal, end_msg_id: ids[6], desc: true }))).toEqual(['m6', 'm5'])
    expect(contents(await call('/get_conversation_msg_by_range', { start_msg_id: ids[9], end_msg_id: ids[5] }))).toEqual([])
  })

  test('30 before: the 30 newest strictly before', async () => {
    expect(contents(await call('/get_conversation_30msg_before_the_id', { msg_id: ids[35] }))).toEqual(range(5, 34))
    expect(contents(await call('/get_conversation_30msg_before_the_id', { msg_id: ids[3], desc: true }))).toEqual(['m2', 'm1', 'm0'])
  })

  test('30 after: the 30 oldest strictly after', async () => {
    expect(contents(await call('/get_conversation_30msg_after_the_id', { msg_id: ids[2] }))).toEqual(range(3, 32))
    expect(contents(await call('/get_conversation_30msg_after_the_id', { msg_id: ids[39] }))).toEqual([])
  })

  test('last 30 and last one', async () => {
    expect(contents(await call('/get_conversation_last_30_msg', {}))).toEqual(range(10, 39))
    expect(contents(await call('/get_conversation_last_30_msg', { desc: true }))).toEqual(range(10, 39).reverse())
    expect(contents(await call('/get_conversation_lastone_msg', { desc: false }))).toEqual(['m39'])
  })

  test('an empty conversation gives {Msg: []}, never null', async () => {
    const empty = await q.conversation(['alice'])
    for (const path of ['/get_conversation_last_30_msg', '/get_conversation_lastone_msg'])
      expect(await q.ok(path, { conversation_id: empty }, alice)).toEqual({ Msg: [] })
  })
})
