/**
 * quick-im's rules over the shared domain (SPEC §4), transport-free: a conversation is a group
 * channel (type 2) whose id is the conversation id; archived conversations keep their history
 * but take no sends and no joins; MsgIds must name a stored message of the conversation.
 */
import type { ChannelInfo, Core } from '../core'
import { archived, DomainError, forbidden, invalid, notFound } from '../errors'
import { CHANNEL_GROUP, type ChannelKey, type Message } from '../types'
import { isValidUid } from '../channel-id'
import { parseMsgId } from './msg-id'

const HISTORY_PAGE = 30
const RANGE_MAX = 1000

export type HistoryQuery =
  | { kind: 'range'; startMsgId: string; endMsgId: string }
  | { kind: 'before'; msgId: string }
  | { kind: 'after'; msgId: string }
  | { kind: 'last30' }
  | { kind: 'lastone' }

export class QuickImService {
  constructor(private readonly core: Core) {}

  static key(conversationId: string): ChannelKey {
    return { channelId: conversationId, channelType: CHANNEL_GROUP }
  }

  /** the conversation, or not_found */
  async conversation(conversationId: string): Promise<ChannelInfo> {
    const info = await this.core.channels.get(QuickImService.key(conversationId))
    if (!info || info.isDelete) throw notFound(`conversation ${conversationId} not found`)
    return info
  }

  /** the conversation, when the session is a member (not_found, then forbidden) */
  async memberConversation(conversationId: string, session: string): Promise<ChannelInfo> {
    const info = await this.conversation(conversationId)
    if (!(await this.core.channels.isMember(QuickImService.key(conversationId), session)))
      throw forbidden(`session is not a member of conversation ${conversationId}`)
    return info
  }

  async send(session: string, conversationId: string, input: { status: number; type: number; content: string }): Promise<number> {
    const info = await this.memberConversation(conversationId, session)
    if (info.isArchive) throw archived(`conversation ${conversationId} is archived`)
    try {
      const r = await this.core.messages.send({
        fromUid: session,
        channelId: conversationId,
        channelType: CHANNEL_GROUP,
        payload: new TextEncoder().encode(input.content),
        type: input.type,
        status: input.status,
      })
      return r.messageId
    } catch (err) {
      // the core checks the payload; quick-im calls that field `content`
      if (err instanceof DomainError && err.kind === 'too_large') throw invalid(err.message.replace(/^payload/, 'content'))
      throw err
    }
  }

  /** /inner/get_token: the session becomes a user */
  async ensureSession(session: string): Promise<void> {
    if (!isValidUid(session)) throw invalid('session: 1-64 characters, none of @ # & or whitespace')
    await this.core.users.ensureUsers([session])
  }

  async create(conversationType: number, sessions: string[]): Promise<string> {
    this.checkSessions(sessions)
    const id = crypto.randomUUID()
    await this.core.users.ensureUsers(sessions)
    await this.core.channels.upsert({ channelId: id, channelType: CHANNEL_GROUP, subscribers: sessions, conversationType })
    return id
  }

  /** idempotent; archived → archived */
  async join(conversationId: string, sessions: string[]): Promise<void> {
    this.checkSessions(sessions)
    const info = await this.conversation(conversationId)
    if (info.isArchive) throw archived(`conversation ${conversationId} is archived`)
    await this.core.users.ensureUsers(sessions)
    await this.core.channels.addSubscribers(QuickImService.key(conversationId), sessions)
  }

  /** leave / kick out: idempotent, allowed on archived conversations */
  async remove(conversationId: string, sessions: string[]): Promise<void> {
    this.checkSessions(sessions)
    await this.conversation(conversationId)
    await this.core.channels.removeSubscribers(QuickImService.key(conversationId), sessions)
  }

  async isJoined(conversationId: string, session: string): Promise<boolean> {
    await this.conversation(conversationId)
    return this.core.channels.isMember(QuickImService.key(conversationId), session)
  }

  /** conversation ids (group channels: a conversation is always type 2) the session belongs to */
  async joined(session: string): Promise<string[]> {
    const keys = await this.core.channels.channelsOf(session)
    return keys.filter((k) => k.channelType === CHANNEL_GROUP).map((k) => k.channelId)
  }

  /** every conversation must exist (nothing changes otherwise) */
  async setArchive(conversationIds: string[], isArchive: boolean): Promise<void> {
    for (const id of conversationIds) await this.conversation(id)
    await this.core.channels.setArchive(conversationIds.map(QuickImService.key), isArchive)
  }

  /** the newest history message, or undefined */
  async lastMessage(conversationId: string, session: string): Promise<{ info: ChannelInfo; message: Message | undefined }> {
    const info = await this.memberConversation(conversationId, session)
    const [message] = await this.core.messages.range(QuickImService.key(conversationId), { limit: 1, newest: true })
    return { info, message }
  }

  /** member only; always ascending here (the route orders the page) */
  async history(conversationId: string, session: string, q: HistoryQuery): Promise<Message[]> {
    await this.memberConversation(conversationId, session)
    const key = QuickImService.key(conversationId)
    const m = this.core.messages
    switch (q.kind) {
      case 'range': {
        const from = await this.messageIdIn(key, q.startMsgId, 'start_msg_id')
        const to = await this.messageIdIn(key, q.endMsgId, 'end_msg_id')
        if (from > to) return []
        return m.range(key, { fromId: from, toId: to, limit: RANGE_MAX })
      }
      case 'before':
        return m.range(key, { beforeId: await this.messageIdIn(key, q.msgId, 'msg_id'), limit: HISTORY_PAGE, newest: true })
      case 'after':
        return m.range(key, { afterId: await this.messageIdIn(key, q.msgId, 'msg_id'), limit: HISTORY_PAGE })
      case 'last30':
        return m.range(key, { limit: HISTORY_PAGE, newest: true })
      case 'lastone':
        return m.range(key, { limit: 1, newest: true })
    }
  }

  /** a MsgId (or decimal id) that names a history message of this conversation */
  private async messageIdIn(key: ChannelKey, raw: string, field: string): Promise<number> {
    const id = parseMsgId(raw)
    if (id === 'malformed') throw invalid(`${field} is not a message id`)
    const msg = id === 'unknown' ? undefined : await this.core.messages.byId(key, id)
    if (!msg || msg.messageSeq <= 0) throw notFound(`${field} names no message of this conversation`)
    return id as number
  }

  private checkSessions(sessions: string[]): void {
    for (const s of sessions) if (!isValidUid(s)) throw invalid(`sessions: invalid session "${s.slice(0, 64)}"`)
  }
}
