/** TypeBox schemas of the WuKongIM server API: they validate requests and document /swagger. */
import { t } from 'elysia'
import { MAX_EXPIRE } from '../../core/send-check'

/**
 * A strict JSON integer. Elysia's own t.Integer also accepts numeric strings ("2"); the server API
 * refuses wrong types, so this is TypeBox's Number with multipleOf 1, documented as an integer.
 */
type NumberOptions = Parameters<typeof t.Number>[0]
const Int = (options: NumberOptions = {}) => t.Number({ ...options, multipleOf: 1, type: 'integer' } as NumberOptions)

export const Uid = t.String({ minLength: 1, maxLength: 64, pattern: '^[^@#&\\s]+$', description: 'user id: 1-64 chars, none of @ # & or whitespace' })
/** "" = the system */
export const FromUid = t.String({ maxLength: 64, pattern: '^[^@#&\\s]*$', description: 'sender uid; "" = system' })
export const ChannelId = t.String({ minLength: 1, maxLength: 128, description: 'channel id; for channel_type 1 the peer uid' })
export const ChannelType = Int({ minimum: 1, maximum: 255, description: '1 person, 2 group, 3-10 other WuKongIM types (stored like groups)' })
const Flag = Int({ minimum: 0, maximum: 1 })
const Seq = Int({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })
const Bool01 = t.Union([t.Boolean(), Flag], { description: '0/1 or false/true' })

export const Header = t.Object(
  { no_persist: t.Optional(Flag), red_dot: t.Optional(Flag), sync_once: t.Optional(Flag) },
  { description: 'no_persist: live only; red_dot: counts as unread; sync_once: command message (per-uid queue)' },
)

export const Ok = t.Object({ status: t.Number() })
export const ErrorBody = t.Object({ status: t.Number(), msg: t.String() })

export const TokenBody = t.Object({
  uid: Uid,
  token: t.String({ minLength: 1, maxLength: 512 }),
  device_flag: t.Optional(Int({ minimum: 0, maximum: 2, description: '0 app, 1 web, 2 pc' })),
  device_level: t.Optional(Int({ minimum: 0, maximum: 1, description: '0 slave, 1 master' })),
})
export const DeviceQuitBody = t.Object({ uid: Uid, device_flag: Int({ minimum: -1, maximum: 2, description: '-1 = all' }) })
export const OnlineStatusBody = t.Array(Uid, { maxItems: 10_000 })

const ChannelKeyFields = { channel_id: ChannelId, channel_type: ChannelType }
export const ChannelKeyBody = t.Object(ChannelKeyFields)
export const ChannelBody = t.Object({
  ...ChannelKeyFields,
  subscribers: t.Optional(t.Array(Uid, { maxItems: 100_000 })),
  reset: t.Optional(Bool01),
  ban: t.Optional(Flag),
  disband: t.Optional(Flag),
})
export const SubscribersBody = t.Object({ ...ChannelKeyFields, subscribers: t.Array(Uid, { maxItems: 100_000 }), reset: t.Optional(Bool01) })
export const ListBody = t.Object({ ...ChannelKeyFields, uids: t.Array(Uid, { maxItems: 100_000 }) })
export const ChannelKeyQuery = t.Object({ channel_id: ChannelId, channel_type: t.Numeric({ minimum: 1, maximum: 255 }) })

const SendFields = {
  header: t.Optional(Header),
  from_uid: t.Optional(FromUid),
  client_msg_no: t.Optional(t.String({ maxLength: 128 })),
  payload: t.String({ description: 'standard base64' }),
  setting: t.Optional(Int({ minimum: 0, maximum: 255 })),
  expire: t.Optional(Int({ minimum: 0, maximum: MAX_EXPIRE, description: 'seconds; 0 = never' })),
}
export const SendBody = t.Object({
  ...SendFields,
  ...ChannelKeyFields,
  stream_no: t.Optional(t.String({ maxLength: 64 })),
  subscribers: t.Optional(t.Array(Uid, { maxItems: 100_000 })),
})
export const SendBatchBody = t.Object({ ...SendFields, subscribers: t.Array(t.String(), { minItems: 1, maxItems: 100_000 }) })
export const SendResponse = t.Object({ message_id: t.Number(), message_seq: t.Number(), client_msg_no: t.String() })

export const MessageSyncBody = t.Object({
  login_uid: t.Optional(t.String({ maxLength: 64 })),
  ...ChannelKeyFields,
  start_message_seq: t.Optional(Seq),
  end_message_seq: t.Optional(Seq),
  limit: t.Optional(Int({ minimum: 0, description: 'default 100, capped at 10000' })),
  pull_mode: t.Optional(Int({ minimum: 0, maximum: 1, description: '0 down (older), 1 up (newer)' })),
})
export const CommandSyncBody = t.Object({ uid: Uid, limit: t.Optional(Int({ minimum: 0, description: 'default 100, capped at 10000' })) })
export const CommandAckBody = t.Object({ uid: Uid, last_message_seq: Seq })

export const StreamOpenBody = t.Object({ ...SendFields, ...ChannelKeyFields })
export const StreamCloseBody = t.Object({ stream_no: t.String({ minLength: 1, maxLength: 64 }), ...ChannelKeyFields })

export const ConversationSyncBody = t.Object({
  uid: Uid,
  version: t.Optional(Seq),
  last_msg_seqs: t.Optional(t.String({ description: 'channel_id:channel_type:seq|… (person channels as the peer uid)' })),
  msg_count: t.Optional(Int({ minimum: 0, maximum: 10_000, description: 'recents per conversation (default 20)' })),
})
export const ConversationKeyBody = t.Object({ uid: Uid, ...ChannelKeyFields })
export const SetUnreadBody = t.Object({ uid: Uid, ...ChannelKeyFields, unread: Int({ minimum: 0, maximum: 2_147_483_647 }) })

// Responses (documentation only: the handlers build exactly these shapes)

const MessageHeaderOut = t.Object({ no_persist: Flag, red_dot: Flag, sync_once: Flag })
export const MessageOut = t.Object(
  {
    header: MessageHeaderOut,
    setting: Int(),
    message_id: Int(),
    message_idstr: t.String({ description: 'message_id as a decimal string' }),
    client_msg_no: t.String(),
    message_seq: Int({ description: 'per channel; in /message/sync the position in the uid’s command queue' }),
    from_uid: t.String({ description: '"" = system' }),
    channel_id: t.String({ description: 'for a person channel: the other uid, seen from the viewer' }),
    channel_type: Int(),
    timestamp: Int({ description: 'seconds' }),
    expire: Int(),
    payload: t.String({ description: 'standard base64' }),
    stream_no: t.Optional(t.String({ description: 'stream anchors only' })),
    streams: t.Optional(t.Array(t.Object({ stream_seq: Int(), payload: t.String() }), { description: 'stream anchors only: the chunks, in order' })),
    stream_end: t.Optional(Flag),
  },
  { description: 'a message (seed 000)' },
)
export const OnlineStatusOut = t.Array(t.Object({ uid: t.String(), device_flag: Int(), online: Int() }))
export const RouteOut = t.Object({ tcp_addr: t.String(), ws_addr: t.String(), wss_addr: t.String() })
export const UidList = t.Array(t.String())
export const SendOut = t.Object({ message_id: Int(), message_seq: Int({ description: '0 when not written to history' }), client_msg_no: t.String() })
export const SendBatchOut = t.Object({ fail_uids: t.Array(t.String()), reason: t.Array(t.String(), { description: 'one per fail_uids entry, same order' }) })
export const MessageSyncOut = t.Object({ start_message_seq: Int(), end_message_seq: Int(), more: Flag, messages: t.Array(MessageOut, { description: 'ascending seq' }) })
export const CommandSyncOut = t.Array(MessageOut, { description: 'oldest first' })
export const StreamOpenOut = t.Object({ stream_no: t.String(), message_id: Int(), message_seq: Int() })
export const ConversationSyncOut = t.Array(
  t.Object({
    channel_id: t.String(),
    channel_type: Int(),
    unread: Int(),
    timestamp: Int(),
    last_msg_seq: Int(),
    last_client_msg_no: t.String(),
    version: Int(),
    recents: t.Array(MessageOut, { description: 'newest first' }),
  }),
  { description: 'most recent first' },
)
