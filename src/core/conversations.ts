/**
 * Recent conversations by read diffusion: nothing is written per member per message. A user's
 * conversation for a channel is derived from its subscriber row (join_seq), the channel row
 * (last_msg_seq, last_message_id) and, once the user acted on it, a `conversations` row
 * (read_seq, unread_base, deleted_seq, version):
 *   visible  ⇔ channel.last_msg_seq > greatest(join_seq, deleted_seq)
 *   unread   = unread_base + red-dot messages of others with seq > greatest(read_seq, join_seq, deleted_seq)
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
import { MESSAGE_COLUMNS, type MessageRow, toMessage } from './message-row'
import { channelKeyOf, rows } from './sql'
import type { StreamInternals } from './streams'
import type { ChannelKey } from './types'
import { WRITE_LOCK } from './writer'

interface ConversationRow {
  channel_id: string
  channel_type: number
  last_msg_seq: number
  version: number
  unread: number
  timestamp: number | null
  client_msg_no: string | null
}

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

export function createConversationService(db: Db, channels: ChannelInternals, streams: StreamInternals): ConversationService {
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
      const found = await rows<ConversationRow>(
        db,
        sql`select s.channel_id, s.channel_type, c.last_msg_seq,
              greatest(c.last_message_id, coalesce(v.version, 0)) as version,
              coalesce(v.unread_base, 0) + (
                -- read up to the channel's last seq (the common case once read): nothing to count
                case when c.last_msg_seq <= greatest(coalesce(v.read_seq, 0), s.join_seq, coalesce(v.deleted_seq, 0)) then 0 else (
                  select count(*) from messages x
                  where x.channel_id = s.channel_id and x.channel_type = s.channel_type and x.message_seq > 0
                    and x.message_seq > greatest(coalesce(v.read_seq, 0), s.join_seq, coalesce(v.deleted_seq, 0))
                    and x.from_uid <> s.uid and x.red_dot = 1
                ) end
              )::int as unread,
              m.timestamp, m.client_msg_no
            from subscribers s
            join channels c on c.channel_id = s.channel_id and c.channel_type = s.channel_type and not c.is_delete
            left join conversations v on v.uid = s.uid and v.channel_id = s.channel_id and v.channel_type = s.channel_type
            left join messages m on m.channel_id = c.channel_id and m.channel_type = c.channel_type and m.message_seq > 0 and m.message_seq = c.last_msg_seq
            where s.uid = ${uid}
              and c.last_msg_seq > greatest(s.join_seq, coalesce(v.deleted_seq, 0))
              and greatest(c.last_message_id, coalesce(v.version, 0)) > ${version}
            order by c.last_message_id desc`,
      )
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
      if (msgCount > 0 && found.length) {
        const wanted = found.map((r) => ({ c: r.channel_id, t: Number(r.channel_type), s: clientSeqs.get(channelKeyOf(r.channel_id, Number(r.channel_type))) ?? 0 }))
        const recent = await rows<MessageRow>(
          db,
          sql`select ${sql.raw(MESSAGE_COLUMNS.split(', ').map((c) => 'm.' + c).join(', '))}
              from jsonb_to_recordset(${JSON.stringify(wanted)}::jsonb) as k(c text, t smallint, s bigint)
              cross join lateral (
                select * from messages where channel_id = k.c and channel_type = k.t and message_seq > 0 and message_seq > k.s
                order by message_seq desc limit ${msgCount}
              ) m`,
        )
        const messages = await streams.attach(recent.map(toMessage))
        const byChannel = new Map<string, typeof messages>()
        for (const m of messages) {
          const k = channelKeyOf(m.channelId, m.channelType)
          byChannel.set(k, [...(byChannel.get(k) ?? []), m])
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
