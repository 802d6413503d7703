/**
 * Baseline server: the same framework as BunIM (Elysia, TypeBox body validation, JSON answer) with
 * nothing behind the route — POST /message/send validates the WuKongIM body, decodes the payload,
 * assigns ids from memory and answers. Separates the framework's cost from BunIM's own.
 */
import { Elysia, t } from 'elysia'

const Flag = t.Optional(t.Integer({ minimum: 0, maximum: 1 }))
const SendBody = t.Object({
  header: t.Optional(t.Object({ no_persist: Flag, red_dot: Flag, sync_once: Flag })),
  from_uid: t.Optional(t.String({ maxLength: 64 })),
  channel_id: t.String({ minLength: 1, maxLength: 128 }),
  channel_type: t.Integer({ minimum: 1, maximum: 255 }),
  client_msg_no: t.Optional(t.String({ maxLength: 64 })),
  stream_no: t.Optional(t.String({ maxLength: 64 })),
  payload: t.String(),
  subscribers: t.Optional(t.Array(t.String({ maxLength: 64 }))),
})

let nextId = 1
const seqs = new Map<string, number>()
const app = new Elysia()
  .get('/health', () => ({ status: 'ok' }))
  .post(
    '/message/send',
    ({ body }) => {
      const payload = Buffer.from(body.payload, 'base64')
      const id = nextId++
      const key = `${body.channel_id}:${body.channel_type}`
      const seq = body.header?.no_persist ? 0 : (seqs.get(key) ?? 0) + 1
      if (seq) seqs.set(key, seq)
      void payload
      return { message_id: id, message_seq: seq, client_msg_no: body.client_msg_no ?? String(id) }
    },
    { body: SendBody },
  )
  .listen({ port: Number(process.env.PORT ?? 0), hostname: process.env.HOST ?? '127.0.0.1' })
process.stderr.write(`elysia listening on ${app.server?.port}\n`)
process.on('SIGTERM', () => process.exit(0))
