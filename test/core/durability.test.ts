/**
 * SPEC §2: an acknowledged send survives a crash. The server runs as a child process; a burst of
 * concurrent sends is cut by SIGKILL; after a restart on the same data every acknowledged message
 * is there with its acknowledged seq, and every channel's seqs are gapless from 1.
 * Runs on PGlite (IM_DATA_DIR) and, with TEST_DATABASE_URL, on a fresh Postgres database.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { BUN, type ChildServer, spawnServer, stopWith } from '../helpers/process'
import { freshStorage } from '../helpers/server'
import { apiClient, b64 } from '../api/wukongim/client'

let storage: Awaited<ReturnType<typeof freshStorage>>
let env: Record<string, string>
const start = () => spawnServer({ cmd: [BUN, 'src/main.ts', 'serve'], cwd: process.cwd(), env, readyTimeoutMs: 30_000 })

beforeAll(async () => {
  storage = await freshStorage()
  env = { IM_DATA_DIR: storage.overrides.dataDir!, HOST: '127.0.0.1', IM_LOG_LEVEL: 'warn' }
  if (storage.overrides.databaseUrl) env.DATABASE_URL = storage.overrides.databaseUrl
}, 30_000)
afterAll(() => storage.drop(), 30_000)

interface Ack {
  channel: string
  clientMsgNo: string
  messageId: number
  seq: number
}

test('SIGKILL mid-burst loses no acknowledged message and leaves no seq gap', async () => {
  let child: ChildServer = await start()
  const channels = ['d1', 'd2', 'd3', 'd4']
  const senders = Array.from({ length: 16 }, (_, i) => `sender${i}`)
  let api = apiClient(child.url)
  for (const c of channels) expect((await api.post('/channel', { channel_id: c, channel_type: 2, subscribers: senders })).status).toBe(200)

  const acks: Ack[] = []
  let killed = false
  let attempted = 0
  const loops = senders.map(async (uid, i) => {
    for (let n = 0; !killed; n++) {
      const channel = channels[(i + n) % channels.length]!
      const clientMsgNo = `${uid}-${n}`
      attempted++
      try {
        const r = await api.post('/message/send', { from_uid: uid, channel_id: channel, channel_type: 2, client_msg_no: clientMsgNo, payload: b64(clientMsgNo) })
        if (r.status === 200) acks.push({ channel, clientMsgNo, messageId: r.body.message_id, seq: r.body.message_seq })
      } catch {
        return // connection refused / reset: the server is gone
      }
    }
  })
  // Kill while sends are in flight, once a good number were acknowledged.
  const deadline = Date.now() + 20_000
  while (acks.length < 400 && Date.now() < deadline) await Bun.sleep(5)
  await stopWith(child, 'SIGKILL')
  killed = true
  await Promise.all(loops)
  expect(acks.length).toBeGreaterThanOrEqual(400)
  expect(attempted).toBeGreaterThan(acks.length) // some sends were cut mid-flight

  child = await start()
  api = apiClient(child.url)
  try {
    const stored = new Map<string, { seq: number; id: number }>()
    for (const c of channels) {
      const r = await api.post('/channel/messagesync', { login_uid: 'sender0', channel_id: c, channel_type: 2, start_message_seq: 1, pull_mode: 1, limit: 10_000 })
      expect(r.status).toBe(200)
      const seqs = r.body.messages.map((m: any) => m.message_seq)
      // gapless from 1
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1))
      for (const m of r.body.messages) stored.set(`${c}/${m.client_msg_no}`, { seq: m.message_seq, id: m.message_id })
    }
    for (const a of acks) expect(stored.get(`${a.channel}/${a.clientMsgNo}`)).toEqual({ seq: a.seq, id: a.messageId })
    // after the restart the seqs go on from where they were
    const next = await api.post('/message/send', { from_uid: 'sender0', channel_id: 'd1', channel_type: 2, payload: b64('after') })
    const d1Count = [...stored.keys()].filter((k) => k.startsWith('d1/')).length
    expect(next.body.message_seq).toBe(d1Count + 1)
    // a retried send (same client_msg_no) of an acknowledged message is answered, not stored again
    const retry = acks[0]!
    const again = await api.post('/message/send', { from_uid: retry.clientMsgNo.split('-')[0], channel_id: retry.channel, channel_type: 2, client_msg_no: retry.clientMsgNo, payload: b64('x') })
    expect(again.body).toEqual({ message_id: retry.messageId, message_seq: retry.seq, client_msg_no: retry.clientMsgNo })
  } finally {
    await stopWith(child, 'SIGTERM')
  }
}, 90_000)
