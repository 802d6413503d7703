/**
 * Baseline server: a bare Bun.serve doing the least the same requests need, from memory.
 * - POST /message/send (WuKongIM body): parse, decode the base64 payload, assign message_id and a
 *   per-channel seq, publish the quick-im JSON message to the channel's topic, answer.
 * - GET /notify?protoc=ws&token=bare:<channel>: WebSocket subscribed to that channel's topic.
 * - GET /health.
 * No validation beyond what the answer needs, no storage: an upper bound for BunIM.
 */
const ALPHABET = '23456789ABCDEFGHJKLMNPQRSTUVWXYZ'
function msgId(id: number): string {
  let s = ''
  for (let i = 0; i < 16; i++) {
    s = ALPHABET[id % 32] + s
    id = Math.floor(id / 32)
  }
  return `${s.slice(0, 5)}-${s.slice(5, 9)}-${s.slice(9, 13)}-${s.slice(13)}`
}

let nextId = 1
const seqs = new Map<string, number>()
const json = { 'content-type': 'application/json' }

const server = Bun.serve<{ topic: string }>({
  port: Number(process.env.PORT ?? 0),
  hostname: process.env.HOST ?? '127.0.0.1',
  // several processes on one port (the connections scenario past one process's open-file limit)
  reusePort: process.env.REUSE_PORT === '1',
  async fetch(req, srv) {
    const url = new URL(req.url)
    if (url.pathname === '/message/send' && req.method === 'POST') {
      const b = (await req.json()) as { header?: { no_persist?: number }; from_uid: string; channel_id: string; channel_type: number; client_msg_no?: string; payload: string }
      if (typeof b.channel_id !== 'string' || typeof b.payload !== 'string')
        return new Response('{"status":400,"msg":"invalid request"}', { status: 400, headers: json })
      const id = nextId++
      const key = `${b.channel_id}:${b.channel_type}`
      const seq = b.header?.no_persist ? 0 : (seqs.get(key) ?? 0) + 1
      if (seq) seqs.set(key, seq)
      const now = Date.now()
      const frame = JSON.stringify({
        MsgId: msgId(id),
        ConversationID: b.channel_id,
        FromSession: b.from_uid,
        SendTime: now * 1000,
        Status: 0,
        Type: 0,
        Content: Buffer.from(b.payload, 'base64').toString('utf8'),
      })
      srv.publish(b.channel_id, frame)
      return new Response(JSON.stringify({ message_id: id, message_seq: seq, client_msg_no: b.client_msg_no ?? String(id) }), { headers: json })
    }
    if (url.pathname === '/notify') {
      const token = url.searchParams.get('token') ?? ''
      if (srv.upgrade(req, { data: { topic: token.replace(/^bare:/, '') } })) return undefined
      return new Response('upgrade failed', { status: 400 })
    }
    if (url.pathname === '/health') return new Response('{"status":"ok"}', { headers: json })
    return new Response('{"status":404,"msg":"route not found"}', { status: 404, headers: json })
  },
  websocket: {
    open(ws) {
      ws.subscribe(ws.data.topic)
    },
    message() {},
  },
})
process.stderr.write(`bare listening on ${server.port}\n`)
process.on('SIGTERM', () => {
  server.stop(true)
  process.exit(0)
})
