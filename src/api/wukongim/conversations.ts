/** /conversation/sync, /conversations/setUnread|clearUnread|delete (seed 001) */
import type { AppContext } from '../../context'
import { OK, doc, wukongimBase } from './base'
import { messageJson } from './json'
import { ConversationKeyBody, ConversationSyncOut, ConversationSyncBody, SetUnreadBody } from './models'

const DEFAULT_MSG_COUNT = 20

export function conversationRoutes(ctx: AppContext) {
  const { conversations } = ctx.core
  const key = (b: { channel_id: string; channel_type: number }) => ({ channelId: b.channel_id, channelType: b.channel_type })
  return wukongimBase(ctx)
    .post(
      '/conversation/sync',
      async ({ body }) => {
        const views = await conversations.sync({
          uid: body.uid,
          version: body.version ?? 0,
          lastMsgSeqs: body.last_msg_seqs ?? '',
          msgCount: body.msg_count ?? DEFAULT_MSG_COUNT,
        })
        return views.map((v) => ({
          channel_id: v.channelId,
          channel_type: v.channelType,
          unread: v.unread,
          timestamp: v.timestamp,
          last_msg_seq: v.lastMsgSeq,
          last_client_msg_no: v.lastClientMsgNo,
          version: v.version,
          recents: v.recents.map((m) => messageJson(m, body.uid)),
        }))
      },
      { parse: 'json', body: ConversationSyncBody, detail: doc('Recent conversations, most recent first (only those changed after `version`)', ConversationSyncOut) },
    )
    .post(
      '/conversations/setUnread',
      async ({ body }) => {
        await conversations.setUnread(body.uid, key(body), body.unread)
        return OK
      },
      { parse: 'json', body: SetUnreadBody, detail: doc('Set a conversation’s unread count exactly') },
    )
    .post(
      '/conversations/clearUnread',
      async ({ body }) => {
        await conversations.clearUnread(body.uid, key(body))
        return OK
      },
      { parse: 'json', body: ConversationKeyBody, detail: doc('Set a conversation’s unread count to 0') },
    )
    .post(
      '/conversations/delete',
      async ({ body }) => {
        await conversations.delete(body.uid, key(body))
        return OK
      },
      { parse: 'json', body: ConversationKeyBody, detail: doc('Hide a conversation until a newer message arrives') },
    )
}
