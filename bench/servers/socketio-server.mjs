// Baseline server: socket.io with rooms, doing the same fan-out as BunIM and the bare server.
// POST /message/send (WuKongIM body) → io.to(channel_id).emit('message', quick-im JSON message).
// Clients connect with query token=bare:<channel> and join that room. Plain JS so Node runs it.
import { createServer } from 'node:http'
import { Server } from 'socket.io'

let nextId = 1
const http = createServer((req, res) => {
  if (req.url === '/health') {
    res.writeHead(200, { 'content-type': 'application/json' })
    return res.end('{"status":"ok"}')
  }
  if (req.url === '/message/send' && req.method === 'POST') {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      const b = JSON.parse(Buffer.concat(chunks).toString('utf8'))
      const id = nextId++
      io.to(b.channel_id).emit('message', {
        MsgId: String(id),
        ConversationID: b.channel_id,
        FromSession: b.from_uid,
        SendTime: Date.now() * 1000,
        Status: 0,
        Type: 0,
        Content: Buffer.from(b.payload, 'base64').toString('utf8'),
      })
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ message_id: id, message_seq: 0, client_msg_no: b.client_msg_no ?? String(id) }))
    })
    return
  }
  res.writeHead(404)
  res.end()
})
const io = new Server(http, { transports: ['websocket'], serveClient: false, perMessageDeflate: false })
io.on('connection', (socket) => {
  const token = String(socket.handshake.query.token ?? '')
  socket.join(token.replace(/^bare:/, ''))
})
http.keepAliveTimeout = 60_000
http.listen(Number(process.env.PORT ?? 0), '127.0.0.1')
process.on('SIGTERM', () => process.exit(0))
