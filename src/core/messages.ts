/**
 * Sending (through the group-commit writer) and reading channel history.
 */
import { sql } from 'drizzle-orm'
import type { Db } from '../db/client'
import { isValidUid, storedChannelId } from './channel-id'
import type { ChannelInternals } from './channels'
import type { MessageService, UserService } from './core'
import { DomainError, invalid, notFound } from './errors'
import { MESSAGE_COLUMNS, type MessageRow, messageColumnsOf, toMessage } from './message-row'
import { checkShape, prepareSend, type SendCheckDeps } from './send-check'
import { rows } from './sql'
import type { StreamInternals } from './streams'
import { CHANNEL_PERSON, type ChannelKey, type Message } from './types'
import type { GroupCommitWriter } from './writer'

const MAX_SEQ = Number.MAX_SAFE_INTEGER
export const SYNC_LIMIT_MAX = 10_000

export function createMessageService(
  db: Db,
  writer: GroupCommitWriter,
  deps: SendCheckDeps & { channels: ChannelInternals; users: UserService; streams: StreamInternals },
): MessageService {
  const cols = sql.raw(MESSAGE_COLUMNS)

  async function history(key: ChannelKey, where: ReturnType<typeof sql>, order: 'asc' | 'desc', limit: number): Promise<Message[]> {
    const found = await rows<MessageRow>(
      db,
      sql`select ${cols} from messages where channel_id = ${key.channelId} and channel_type = ${key.channelType} and message_seq > 0 and ${where}
          order by message_seq ${sql.raw(order)} limit ${limit}`,
    )
    return found.map(toMessage)
  }

  const service: MessageService = {
    async send(input) {
      if (input.streamNo) return deps.streams.append({ ...input, streamNo: input.streamNo })
      return writer.submit(await prepareSend(deps, input))
    },

    async sendBatch(input) {
      checkShape(input, deps.maxPayloadBytes)
      if (!input.fromUid) throw invalid('from_uid: required (one person message is sent from it to each subscriber)')
      const failUids: string[] = []
      const reason: string[] = []
      const uids = [...new Set(input.subscribers)]
      const outcomes = await Promise.all(
        uids.map(async (uid) => {
          if (!isValidUid(uid)) return 'invalid uid'
          if (!(await deps.users.exists(uid))) return 'user does not exist'
          try {
            // Each receiver gets its own message: a client_msg_no would collide across channels only if reused, which is fine (per channel).
            await service.send({ ...input, channelId: uid, channelType: CHANNEL_PERSON, subscribers: undefined })
            return undefined
          } catch (err) {
            return err instanceof DomainError ? err.message : 'internal error'
          }
        }),
      )
      outcomes.forEach((o, i) => {
        if (o === undefined) return
        failUids.push(uids[i]!)
        reason.push(o)
      })
      return { failUids, reason }
    },

    async sync(q) {
      const key = { channelId: storedChannelId(q.loginUid, q.channelId, q.channelType), channelType: q.channelType }
      if (q.channelType === CHANNEL_PERSON && !key.channelId.includes('@')) throw invalid('login_uid: required to name a person channel')
      const channel = await deps.channels.get(key)
      const start = q.startMessageSeq
      const end = q.endMessageSeq
      // Two users who never wrote to each other have an empty person channel, not an unknown one.
      if (!channel && q.channelType === CHANNEL_PERSON) return { startMessageSeq: start, endMessageSeq: end, more: 0, messages: [] }
      if (!channel || channel.isDelete) throw notFound(`channel ${q.channelId} (type ${q.channelType}) does not exist`)
      const limit = Math.min(Math.max(q.limit, 1), SYNC_LIMIT_MAX)
      let page: Message[]
      let more: 0 | 1
      if (start === 0 && end === 0) {
        // Newest `limit`, whatever the pull mode.
        const found = await history(key, sql`true`, 'desc', limit + 1)
        more = found.length > limit ? 1 : 0
        page = found.slice(0, limit).reverse()
      } else if (q.pullMode === 1) {
        const lo = Math.max(start, 1)
        const hi = end ? end - 1 : MAX_SEQ
        const found = await history(key, sql`message_seq >= ${lo} and message_seq <= ${hi}`, 'asc', limit + 1)
        more = found.length > limit ? 1 : 0
        page = found.slice(0, limit)
      } else {
        const hi = start || MAX_SEQ
        const lo = end ? end + 1 : 1
        const found = await history(key, sql`message_seq >= ${lo} and message_seq <= ${hi}`, 'desc', limit + 1)
        more = found.length > limit ? 1 : 0
        page = found.slice(0, limit).reverse()
      }
      await deps.streams.attach(page)
      return { startMessageSeq: start, endMessageSeq: end, more, messages: page }
    },

    async byId(key, messageId) {
      const [found] = await history(key, sql`message_id = ${messageId}`, 'asc', 1)
      return found
    },

    async range(key, opts) {
      const conds = [sql`true`]
      if (opts.afterId !== undefined) conds.push(sql`message_id > ${opts.afterId}`)
      if (opts.fromId !== undefined) conds.push(sql`message_id >= ${opts.fromId}`)
      if (opts.beforeId !== undefined) conds.push(sql`message_id < ${opts.beforeId}`)
      if (opts.toId !== undefined) conds.push(sql`message_id <= ${opts.toId}`)
      const found = await rows<MessageRow>(
        db,
        sql`select ${cols} from messages where channel_id = ${key.channelId} and channel_type = ${key.channelType} and message_seq > 0
            and ${sql.join(conds, sql` and `)} order by message_id ${sql.raw(opts.newest ? 'desc' : 'asc')} limit ${Math.max(1, opts.limit)}`,
      )
      const list = found.map(toMessage)
      return opts.newest ? list.reverse() : list
    },

    async since(keys, afterMessageId, limit) {
      if (!keys.length) return []
      const found = await rows<MessageRow>(
        db,
        sql`select ${sql.raw(messageColumnsOf('m'))}
            from jsonb_to_recordset(${JSON.stringify(keys.map((k) => ({ c: k.channelId, t: k.channelType })))}::jsonb) as k(c text, t smallint)
            cross join lateral (
              select * from messages where channel_id = k.c and channel_type = k.t and message_id > ${afterMessageId} and message_seq > 0
              order by message_id limit ${limit}
            ) m
            order by m.message_id limit ${limit}`,
      )
      return found.map(toMessage)
    },

    flush: () => writer.flush(),
  }
  return service
}
