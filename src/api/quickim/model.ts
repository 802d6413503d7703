/** TypeBox schemas of the quick-im gateway API (validation + OpenAPI). */
import { type DocumentDecoration, t, type TSchema } from 'elysia'

/**
 * A strict JSON integer, as Go's JSON decoding of quick-im reads it: Elysia's own t.Integer also
 * accepts numeric strings ("1"). TypeBox's Number with multipleOf 1, documented as an integer.
 */
type NumberOptions = Parameters<typeof t.Number>[0]
const Int = (options: NumberOptions = {}) => t.Number({ ...options, multipleOf: 1, type: 'integer' } as NumberOptions)

const INT32 = { minimum: -2147483648, maximum: 2147483647 }
/** conversation_type is an int64 in the seed; JavaScript keeps integers exact up to 2^53−1 */
const conversationType = t.Optional(Int({ minimum: Number.MIN_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER, description: 'opaque integer attribute' }))

/** no NUL: Postgres text cannot hold it (it would surface as a database error, not a 10001) */
const NO_NUL = '^[^\\u0000]+$'
/** a uid (SPEC §2): 1–64 characters, none of @ # &, no whitespace, no NUL */
const session = t.String({ minLength: 1, maxLength: 64, pattern: '^[^@#&\\s\\u0000]+$', description: 'session (uid): 1-64 chars, none of @ # & or whitespace' })
export const conversationId = t.String({ minLength: 1, maxLength: 256, pattern: NO_NUL, description: 'conversation id (group channel id)' })
export const msgId = t.Union([t.String({ minLength: 1, maxLength: 64 }), Int({ minimum: 0 })], {
  description: 'MsgId (`22222-2222-2B7K-9QX`) or decimal message_id',
})
/** the text form of a msg_id field: a JSON number is read as its exact decimal (1e300 → 1000…0) */
export const msgIdText = (v: string | number): string => (typeof v === 'number' ? BigInt(v).toString() : v)
export const sessions = t.Array(session, { maxItems: 10000 })
export const desc = t.Optional(t.Boolean({ description: 'order the returned page newest first' }))

export const body = {
  getToken: t.Object({ session, platform: Int({ minimum: 0, maximum: 255 }) }),
  sendMsg: t.Object({
    conversation_id: conversationId,
    status: t.Optional(Int(INT32)),
    type: t.Optional(Int(INT32)),
    content: t.String(),
  }),
  conversation: t.Object({ conversation_id: conversationId }),
  createConversation: t.Object({ conversation_type: conversationType }),
  joined: t.Optional(t.Object({ SessionId: t.Optional(t.String()) })),
  innerCreate: t.Object({ conversation_type: conversationType, sessions: t.Array(session, { minItems: 1, maxItems: 10000 }) }),
  innerMembers: t.Object({ conversation_id: conversationId, sessions }),
  setArchive: t.Object({ conversation_ids: t.Array(conversationId, { maxItems: 10000 }), is_archive: t.Boolean() }),
  range: t.Object({ conversation_id: conversationId, start_msg_id: msgId, end_msg_id: msgId, desc }),
  aroundId: t.Object({ conversation_id: conversationId, msg_id: msgId, desc }),
  lastMsgs: t.Object({ conversation_id: conversationId, desc }),
}

export const notifyQuery = t.Object({
  token: t.Optional(t.String()),
  protoc: t.Optional(t.String({ description: 'ws, sse or poll (else 90013)' })),
  format: t.Optional(t.Union([t.Literal('json'), t.Literal('msgpack')], { description: 'ws frames: JSON text (default) or binary msgpack' })),
  cursor: t.Optional(t.String({ maxLength: 64, description: 'MsgId (or decimal id) to read after; moves the stored position' })),
  // a string checked by pattern: Elysia's t.Numeric reports a bad value without naming the field
  timeout: t.Optional(t.String({ pattern: '^[0-9]{1,9}(\\.[0-9]{1,9})?$', description: 'seconds to wait (default 25, at most 60)' })),
})

export const qimMessage = t.Object({
  MsgId: t.String(),
  ConversationID: t.String(),
  FromSession: t.String(),
  SendTime: Int({ description: 'µs since epoch' }),
  Status: Int(),
  Type: Int(),
  Content: t.String(),
})

/** The quick-im envelope around `data` (HTTP 200 either way), for the OpenAPI document. */
export const envelope = <T extends TSchema>(data: T) =>
  t.Union([
    t.Object({ code: t.Literal(0), data }),
    t.Object({ code: Int({ description: '10001 invalid parameter, 10002 internal, 10003 not allowed, 10004 not found, 10005 archived, 10101 bad token, 90013 unsupported protoc' }), error: t.String() }),
  ])

export const reply = {
  msgIdOut: t.Object({ MsgID: t.String() }),
  conversationId: t.Object({ ConversationId: t.String() }),
  joined: t.Object({ Joined: t.Boolean() }),
  conversations: t.Object({ Conversations: t.Array(t.String()) }),
  detail: t.Object({
    ConversationID: t.String(),
    LastMsgID: t.Nullable(t.String()),
    LastSendTime: Int({ description: 'µs since epoch; 0 when empty' }),
    IsDelete: t.Boolean(),
    ConversationType: Int(),
    LastSendSession: t.String(),
    IsArchive: t.Boolean(),
  }),
  lastMsgId: t.Object({ MsgId: t.Nullable(t.String()) }),
  messages: t.Object({ Msg: t.Array(qimMessage) }),
  token: t.String({ description: 'signed client token' }),
  none: t.Null(),
}

/** Route docs: tags, summary and the enveloped 200 response (documentation only, not validated at run time). */
export const doc = (summary: string, data: TSchema): DocumentDecoration => ({
  tags: ['quick-im'],
  summary,
  responses: { 200: { description: 'HTTP 200 always: `{code:0,data}` or `{code,error}`', content: { 'application/json': { schema: openApiSchema(envelope(data)) } } } },
})

/** A TypeBox schema is a JSON Schema; OpenAPI's typings just don't know TypeBox's classes. */
type OpenApiSchema = NonNullable<NonNullable<NonNullable<DocumentDecoration['parameters']>[number] & { schema?: unknown }>['schema']>
export const openApiSchema = (s: TSchema) => s as unknown as OpenApiSchema
