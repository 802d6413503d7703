/**
 * Recent conversations by read diffusion: nothing is written per member per message. A user's
 * conversation for a channel is derived from its subscriber row (join_seq), the channel row
 * (last_msg_seq, last_message_id) and, once the user acted on it, a `conversations` row
 * (read_seq, unread_base, deleted_seq, version):
 *   visible  ⇔ channel.last_msg_seq > greatest(join_seq, deleted_seq)
 *   unread   = unread_base + red-dot messages with seq > pos = greatest(read_seq, join_seq, deleted_seq)
 *            = unread_base + channel.red_dot_count − red_dot_rank of the message at seq pos
 * (the writer keeps both counters, so no message is counted at read time). The reader's own
 * messages never count: sending moves the sender's read_seq to the message it sent, so they are
 * never above pos.
 *   version  = greatest(channel.last_message_id, conversations.version)
 * (Every read of history says `message_seq > 0` literally: only then may the planner use the
 * partial index messages_channel_seq_idx.)
 * Versions come from message_id_seq, taken under the writer's advisory lock so they too grow in
 * commit order (a client syncing with its max version misses nothing).
 */
import { sql } from 'drizzle-orm'
import type { Db } from '../db/client'
import { storedChannelId, viewedChannelId } from './channel-id'
import type { ChannelInternals } from './channels'
import type { ConversationService, ConversationView } from './core'
import { forbidden, invalid, notFound } from './errors'
import { type MessageRow, messageColumnsOf, toMessage } from './message-row'
import type { RawQuery } from './raw-query'
import { channelKeyOf } from './sql'
import type { StreamInternals } from './streams'
import type { ChannelKey } from './types'
import { WRITE_LOCK } from './writer'

/** the conversation and, joined, its channel's newest message (its columns are null if it is missing) */
interface ConversationRow extends MessageRow {
  last_msg_seq: number
  version: number
  unread: number
}

/** the newest message's columns; channel_id and channel_type come from the subscriber row */
const LAST_MESSAGE_COLUMNS = messageColumnsOf('m', ['channel_id', 'channel_type'])

/**
 * A user's visible conversations changed after a version ($1 uid, $2 version), newest first, each
 * with its channel's newest message. Prepared: planning it cost more than half its execution
 * (measured with 1,000 conversations: 27–31 ms a call unprepared, 16–22 ms prepared).
 * Every join is an index probe per subscriber row whatever the statistics (PGlite never
 * analyses): `limit 1` keeps the PK lookups lateral (as plain joins an unanalysed planner built a
 * 1000 × 500 nested loop), and `pos` is a column of the materialized CTE (computed from the
 * outer-joined row, Postgres 17 would not use it as an index condition). The red-dot rank at
 * `pos` is a subquery of the CASE, so it is looked up only for a conversation with unread
 * messages after a position above 0 (a read conversation, or one unread since seq 0, needs none).
 */
const SYNC_QUERY = `with me as materialized (
    select s.channel_id, s.channel_type, s.join_seq, v.unread_base, v.version, v.deleted_seq,
           greatest(coalesce(v.read_seq, 0), s.join_seq, coalesce(v.deleted_seq, 0)) as pos
    from subscribers s
    left join lateral (select * from conversations v where v.uid = s.uid and v.channel_id = s.channel_id and v.channel_type = s.channel_type limit 1) v on true
    where s.uid = $1
  )
  select me.channel_id, me.channel_type, c.last_msg_seq,
    greatest(c.last_message_id, coalesce(me.version, 0)) as version,
    (coalesce(me.unread_base, 0) + case
      when c.last_msg_seq <= me.pos then 0
      when me.pos = 0 then c.red_dot_count
      else c.red_dot_count - coalesce((select r.red_dot_rank from messages r
        where r.channel_id = me.channel_id and r.channel_type = me.channel_type and r.message_seq > 0 and r.message_seq = me.pos), 0)
    end)::int as unread,
    ${LAST_MESSAGE_COLUMNS}
  from me
  join lateral (select * from channels c where c.channel_id = me.channel_id and c.channel_type = me.channel_type and not c.is_delete limit 1) c on true
  left join messages m on m.channel_id = c.channel_id and m.channel_type = c.channel_type and m.message_seq > 0 and m.message_seq = c.last_msg_seq
  where c.last_msg_seq > greatest(me.join_seq, coalesce(me.deleted_seq, 0))
    and greatest(c.last_message_id, coalesce(me.version, 0)) > $2
  order by c.last_message_id desc`

/**
 * The newest messages of several channels ($1 jsonb `[{c, t, s}]`: channel, type, the client's seq;
 * $2 how many per channel), each above the seq the client already has. Prepared like SYNC_QUERY.
 */
const RECENTS_QUERY = `select ${messageColumnsOf('m')}
  from jsonb_to_recordset($1::jsonb) as k(c text, t smallint, s bigint)
  cross join lateral (
    select * from messages where channel_id = k.c and channel_type = k.t and message_seq > 0 and message_seq > k.s
    order by message_seq desc limit $2
  ) m`

/** `id:type:seq|…` with person ids as the peer uid → stored key → seq */
export function parseLastMsgSeqs(uid: string, text: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const part of text.split('|')) {
    if (!part.trim()) continue
    const m = /^(.+):(\d+):(\d+)$/.exec(part.trim())
    if (!m) throw invalid(`last_msg_seqs: "${part}" is not channel_id:channel_type:seq`)
    const type = Number(m[2])
    const seq = Number(m[3])
    if (type > 255 || seq > Number.MAX_SAFE_INTEGER) throw invalid(`last_msg_seqs: "${part}" is out of range`)
    out.set(channelKeyOf(storedChannelId(uid, m[1]!, type), type), seq)
  }
  return out
}

export function createConversationService(db: Db, query: RawQuery, channels: ChannelInternals, streams: StreamInternals): ConversationService {
  async function writeState(uid: string, key: ChannelKey, unread: number | 'delete'): Promise<void> {
    const channelId = storedChannelId(uid, key.channelId, key.channelType)
    const s = await channels.state({ channelId, channelType: key.channelType })
    if (!s.exists) throw notFound(`channel ${key.channelId} (type ${key.channelType}) does not exist`)
    if (!s.members.has(uid)) throw forbidden(`uid: ${uid} is not a subscriber of the channel`)
    const del = unread === 'delete'
    const base = del ? 0 : unread
    await db.transaction(async (tx) => {
      await tx.execute(sql`insert into conversations (uid, channel_id, channel_type, read_seq, unread_base, deleted_seq, version)
        select ${uid}, c.channel_id, c.channel_type, c.last_msg_seq, ${base}, ${del ? sql`c.last_msg_seq` : sql`0`}, nextval('message_id_seq')
        from (select pg_advisory_xact_lock(${WRITE_LOCK})) l, channels c
        where c.channel_id = ${channelId} and c.channel_type = ${key.channelType}
        on conflict (uid, channel_id, channel_type) do update set
          read_seq = excluded.read_seq, unread_base = excluded.unread_base, version = excluded.version
          ${del ? sql`, deleted_seq = excluded.deleted_seq` : sql``}`)
    })
  }

  return {
    async sync({ uid, version, lastMsgSeqs, msgCount }) {
      const clientSeqs = parseLastMsgSeqs(uid, lastMsgSeqs)
      const found = await query<ConversationRow>(SYNC_QUERY, [uid, version])
      const views: ConversationView[] = found.map((r) => ({
        channelId: viewedChannelId(uid, r.channel_id, Number(r.channel_type)),
        channelType: Number(r.channel_type),
        unread: Number(r.unread),
        timestamp: Number(r.timestamp ?? 0),
        lastMsgSeq: Number(r.last_msg_seq),
        lastClientMsgNo: r.client_msg_no ?? '',
        version: Number(r.version),
        recents: [],
      }))
      const clientSeq = (r: ConversationRow) => clientSeqs.get(channelKeyOf(r.channel_id, Number(r.channel_type))) ?? 0
      if (msgCount === 1) {
        // the newest message is already joined: no second query
        const newest = found.map((r) => (r.message_id !== null && Number(r.message_seq) > clientSeq(r) ? toMessage(r) : undefined))
        await streams.attach(newest.filter((m) => m !== undefined))
        newest.forEach((m, i) => {
          if (m) views[i]!.recents = [m]
        })
      } else if (msgCount > 1 && found.length) {
        const wanted = found.map((r) => ({ c: r.channel_id, t: Number(r.channel_type), s: clientSeq(r) }))
        const recent = await query<MessageRow>(RECENTS_QUERY, [JSON.stringify(wanted), msgCount])
        const messages = await streams.attach(recent.map(toMessage))
        const byChannel = new Map<string, typeof messages>()
        for (const m of messages) {
          const k = channelKeyOf(m.channelId, m.channelType)
          const list = byChannel.get(k)
          if (list) list.push(m)
          else byChannel.set(k, [m])
        }
        found.forEach((r, i) => {
          views[i]!.recents = (byChannel.get(channelKeyOf(r.channel_id, Number(r.channel_type))) ?? []).sort((a, b) => b.messageSeq - a.messageSeq)
        })
      }
      return views
    },
    setUnread: (uid, key, unread) => {
      if (!Number.isInteger(unread) || unread < 0) return Promise.reject(invalid('unread: must be a non-negative integer'))
      return writeState(uid, key, unread)
    },
    clearUnread: (uid, key) => writeState(uid, key, 0),
    delete: (uid, key) => writeState(uid, key, 'delete'),
  }
}
