/**
 * The whole data model (SPEC §2), one pg-core schema for both drivers.
 * Migrations in drizzle/ are generated from this file (`npm run db:generate`).
 */
import { sql } from 'drizzle-orm'
import {
  bigint,
  bigserial,
  boolean,
  customType,
  index,
  integer,
  jsonb,
  pgSequence,
  pgTable,
  primaryKey,
  smallint,
  text,
  uniqueIndex,
} from 'drizzle-orm/pg-core'

/** bytea as Uint8Array on both drivers. */
export const bytea = customType<{ data: Uint8Array; driverData: Uint8Array }>({
  dataType: () => 'bytea',
})

/** Message ids: unique cluster-wide, increasing, far below 2^53 − 1. Conversation versions share it. */
export const messageIdSeq = pgSequence('message_id_seq', { startWith: 1, increment: 1 })

const big = (name: string) => bigint(name, { mode: 'number' })

/**
 * Identifiers (uids, channel ids, client_msg_no, …) compare byte by byte: they are opaque keys,
 * never sorted for people. With the database's default collation every comparison in their
 * B-tree indexes goes through strcoll (C.UTF-8, en_US, …); "C" is a memcmp. Measured on the
 * writer's batch statement: ≈ 20 % less Postgres CPU per message (docs/performance.md).
 */
const idText = customType<{ data: string; driverData: string }>({
  dataType: () => 'text COLLATE "C"',
})

export const users = pgTable('users', {
  uid: idText('uid').primaryKey(),
  /** last command-queue seq handed out for this uid (write-diffusion for sync_once messages) */
  cmdLastSeq: big('cmd_last_seq').notNull().default(0),
  /** command-queue entries at or below this seq were acknowledged by /message/syncack */
  cmdAckedSeq: big('cmd_acked_seq').notNull().default(0),
  createdAt: big('created_at').notNull().default(sql`(extract(epoch from now()) * 1000)::bigint`),
})

/** Token a WKProto client must present, per (uid, device_flag) — POST /user/token. */
export const userTokens = pgTable(
  'user_tokens',
  {
    uid: idText('uid').notNull(),
    deviceFlag: smallint('device_flag').notNull(),
    token: text('token').notNull(),
    deviceLevel: smallint('device_level').notNull().default(1),
    updatedAt: big('updated_at').notNull().default(sql`(extract(epoch from now()) * 1000)::bigint`),
  },
  (t) => [primaryKey({ columns: [t.uid, t.deviceFlag] })],
)

/**
 * A channel (person = 1, group = 2, other WuKongIM types stored like groups).
 * A quick-im conversation is the group channel whose id is the conversation id.
 * Person channels are stored under `a@b` (SPEC §2).
 */
export const channels = pgTable(
  'channels',
  {
    channelId: idText('channel_id').notNull(),
    channelType: smallint('channel_type').notNull(),
    /** gapless per-channel seq of the newest stored message; bumped in the same transaction as the INSERT */
    lastMsgSeq: big('last_msg_seq').notNull().default(0),
    lastMessageId: big('last_message_id').notNull().default(0),
    /** red-dot messages stored in this channel so far (unread = this − red_dot_rank at the reader's seq) */
    redDotCount: big('red_dot_count').notNull().default(0),
    ban: smallint('ban').notNull().default(0),
    disband: smallint('disband').notNull().default(0),
    /** quick-im conversation_type: an opaque integer attribute */
    conversationType: big('conversation_type').notNull().default(0),
    isArchive: boolean('is_archive').notNull().default(false),
    isDelete: boolean('is_delete').notNull().default(false),
    createdAt: big('created_at').notNull().default(sql`(extract(epoch from now()) * 1000)::bigint`),
  },
  (t) => [primaryKey({ columns: [t.channelId, t.channelType] })],
)

export const subscribers = pgTable(
  'subscribers',
  {
    channelId: idText('channel_id').notNull(),
    channelType: smallint('channel_type').notNull(),
    uid: idText('uid').notNull(),
    /** channel's last_msg_seq when this uid joined: a later subscriber starts with nothing unread */
    joinSeq: big('join_seq').notNull().default(0),
    createdAt: big('created_at').notNull().default(sql`(extract(epoch from now()) * 1000)::bigint`),
  },
  (t) => [primaryKey({ columns: [t.channelId, t.channelType, t.uid] }), index('subscribers_uid_idx').on(t.uid)],
)

/** Black and white lists of a channel: `list` is 'black' or 'white'. */
export const channelLists = pgTable(
  'channel_lists',
  {
    channelId: idText('channel_id').notNull(),
    channelType: smallint('channel_type').notNull(),
    list: idText('list').notNull(),
    uid: idText('uid').notNull(),
  },
  (t) => [primaryKey({ columns: [t.channelId, t.channelType, t.list, t.uid] })],
)

/**
 * The idempotence key of a message, `type:len(channel):channel:len(from):from:client_msg_no`: the
 * lengths make it injective whatever the ids contain. `tbl` qualifies the columns.
 */
export const IDEMPOTENCE_KEY = (tbl: string) =>
  `${tbl}.channel_type::text || ':' || length(${tbl}.channel_id)::text || ':' || ${tbl}.channel_id || ':' || length(${tbl}.from_uid)::text || ':' || ${tbl}.from_uid || ':' || ${tbl}.client_msg_no`

/**
 * Stored messages. message_seq > 0: the channel's history (gapless). message_seq = 0: stored only
 * for idempotence and the command queues (sync_once, subscriber-scoped sends).
 */
export const messages = pgTable(
  'messages',
  {
    messageId: big('message_id').primaryKey(),
    messageSeq: big('message_seq').notNull(),
    channelId: idText('channel_id').notNull(),
    channelType: smallint('channel_type').notNull(),
    clientMsgNo: idText('client_msg_no').notNull(),
    fromUid: idText('from_uid').notNull(),
    redDot: smallint('red_dot').notNull().default(1),
    syncOnce: smallint('sync_once').notNull().default(0),
    setting: smallint('setting').notNull().default(0),
    /** seconds since epoch (WuKongIM) */
    timestamp: integer('timestamp').notNull(),
    /** microseconds since epoch (quick-im SendTime) */
    sendTimeUs: big('send_time_us').notNull(),
    payload: bytea('payload').notNull(),
    type: integer('type').notNull().default(0),
    status: integer('status').notNull().default(0),
    /** set on the anchor message of a stream */
    streamNo: idText('stream_no'),
    expire: integer('expire').notNull().default(0),
    /** history messages: the channel's red_dot_count once this message was stored (counts itself if red_dot) */
    redDotRank: big('red_dot_rank').notNull().default(0),
  },
  (t) => [
    uniqueIndex('messages_channel_seq_idx')
      .on(t.channelId, t.channelType, t.messageSeq)
      .where(sql`${t.messageSeq} > 0`),
    /**
     * Idempotence of (channel, from_uid, client_msg_no) as ONE expression (see IDEMPOTENCE_KEY): the
     * writer's lookup compares that expression, so this index is the only one that can serve it.
     * With plain columns, the planner picked messages_channel_id_idx on tables not yet analysed
     * (always on PGlite) and read the channel's whole history per message.
     */
    uniqueIndex('messages_idempotence_idx').on(sql.raw(`(${IDEMPOTENCE_KEY('messages')})`)),
    /** message_id-based history (quick-im ranges, poll/SSE replay) */
    index('messages_channel_id_idx').on(t.channelId, t.channelType, t.messageId),
  ],
)

/** Per-uid command queue (write diffusion for sync_once messages); seq gapless per uid. */
export const commandQueue = pgTable(
  'command_queue',
  {
    uid: idText('uid').notNull(),
    seq: big('seq').notNull(),
    messageId: big('message_id').notNull(),
  },
  (t) => [primaryKey({ columns: [t.uid, t.seq] })],
)

/** LLM-style streams: the anchor message plus ordered chunks. */
export const streams = pgTable('streams', {
  streamNo: idText('stream_no').primaryKey(),
  messageId: big('message_id').notNull(),
  channelId: idText('channel_id').notNull(),
  channelType: smallint('channel_type').notNull(),
  fromUid: idText('from_uid').notNull(),
  lastChunkSeq: integer('last_chunk_seq').notNull().default(0),
  closed: smallint('closed').notNull().default(0),
})

export const streamChunks = pgTable(
  'stream_chunks',
  {
    streamNo: idText('stream_no').notNull(),
    streamSeq: integer('stream_seq').notNull(),
    clientMsgNo: idText('client_msg_no').notNull(),
    payload: bytea('payload').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.streamNo, t.streamSeq] }),
    uniqueIndex('stream_chunks_idempotence_idx').on(t.streamNo, t.clientMsgNo),
  ],
)

/**
 * Read-diffusion conversation state of one uid in one channel: only the reader's position,
 * never a row per member per message. Unread = unread_base + red-dot messages of others after read_seq.
 */
export const conversations = pgTable(
  'conversations',
  {
    uid: idText('uid').notNull(),
    channelId: idText('channel_id').notNull(),
    channelType: smallint('channel_type').notNull(),
    readSeq: big('read_seq').notNull().default(0),
    unreadBase: integer('unread_base').notNull().default(0),
    /** hidden while the channel's last_msg_seq ≤ deleted_seq */
    deletedSeq: big('deleted_seq').notNull().default(0),
    /** from message_id_seq when this row changes; a conversation's version = max(this, channel.last_message_id) */
    version: big('version').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.uid, t.channelId, t.channelType] })],
)

/** Long-poll positions of quick-im /notify?protoc=poll per (session, platform). */
export const pollCursors = pgTable(
  'poll_cursors',
  {
    session: idText('session').notNull(),
    platform: smallint('platform').notNull(),
    lastMessageId: big('last_message_id').notNull(),
  },
  (t) => [primaryKey({ columns: [t.session, t.platform] })],
)

/** Webhook events waiting for delivery (at least once, survives restarts). */
export const webhookOutbox = pgTable(
  'webhook_outbox',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    event: text('event').notNull(),
    body: jsonb('body').notNull(),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: big('next_attempt_at').notNull().default(0),
    createdAt: big('created_at').notNull().default(sql`(extract(epoch from now()) * 1000)::bigint`),
  },
  (t) => [index('webhook_outbox_next_idx').on(t.nextAttemptAt)],
)

/** Generated secrets (token HMAC key) and other server-wide values. */
export const serverSecrets = pgTable('server_secrets', {
  name: text('name').primaryKey(),
  value: text('value').notNull(),
})
