/** TypeBox schemas of the quick-im gateway API (validation + OpenAPI). */
import { t } from 'elysia'

const INT32 = { minimum: -2147483648, maximum: 2147483647 }

export const conversationId = t.String({ minLength: 1, maxLength: 256, description: 'conversation id (group channel id)' })
export const msgId = t.Union([t.String({ minLength: 1, maxLength: 64 }), t.Integer({ minimum: 0 })], {
  description: 'MsgId (`22222-2222-2B7K-9QX`) or decimal message_id',
})
export const sessions = t.Array(t.String({ minLength: 1, maxLength: 64 }), { maxItems: 10000 })
export const desc = t.Optional(t.Boolean({ description: 'order the returned page newest first' }))

export const body = {
  getToken: t.Object({ session: t.String({ minLength: 1, maxLength: 64 }), platform: t.Integer({ minimum: 0, maximum: 255 }) }),
  sendMsg: t.Object({
    conversation_id: conversationId,
    status: t.Optional(t.Integer(INT32)),
    type: t.Optional(t.Integer(INT32)),
    content: t.String(),
  }),
  conversation: t.Object({ conversation_id: conversationId }),
  createConversation: t.Object({ conversation_type: t.Optional(t.Integer()) }),
  joined: t.Optional(t.Object({ SessionId: t.Optional(t.String()) })),
  innerCreate: t.Object({ conversation_type: t.Optional(t.Integer()), sessions: t.Array(t.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: 10000 }) }),
  innerMembers: t.Object({ conversation_id: conversationId, sessions }),
  setArchive: t.Object({ conversation_ids: t.Array(conversationId, { maxItems: 10000 }), is_archive: t.Boolean() }),
  range: t.Object({ conversation_id: conversationId, start_msg_id: msgId, end_msg_id: msgId, desc }),
  aroundId: t.Object({ conversation_id: conversationId, msg_id: msgId, desc }),
  lastMsgs: t.Object({ conversation_id: conversationId, desc }),
}

export const notifyQuery = t.Object({
  token: t.Optional(t.String()),
  protoc: t.Optional(t.String()),
  format: t.Optional(t.Union([t.Literal('json'), t.Literal('msgpack')])),
  cursor: t.Optional(t.String({ maxLength: 64 })),
  timeout: t.Optional(t.Numeric({ minimum: 0 })),
})

export const qimMessage = t.Object({
  MsgId: t.String(),
  ConversationID: t.String(),
  FromSession: t.String(),
  SendTime: t.Integer({ description: 'µs since epoch' }),
  Status: t.Integer(),
  Type: t.Integer(),
  Content: t.String(),
})
