/**
 * quick-im gateway HTTP endpoints (SPEC §4, seed 002): thin — validate, authenticate, call
 * QuickImService, wrap in the envelope.
 */
import { Elysia } from 'elysia'
import { quickImMessage } from '../../core/quickim/message-view'
import { encodeMsgId } from '../../core/quickim/msg-id'
import type { HistoryQuery, QuickImService } from '../../core/quickim/service'
import type { Message } from '../../core/types'
import type { AppContext } from '../../context'
import type { QuickImAuth } from './auth'
import { ok } from './envelope'
import { body } from './model'

const tags = ['quick-im']

/** Client endpoints: `Authorization: Bearer <token>` or `?token=`. */
export function clientRoutes(auth: QuickImAuth, svc: QuickImService) {
  const page = (msgs: Message[], viewer: string, descending?: boolean) => {
    const out = msgs.map((m) => quickImMessage(m, viewer))
    return ok({ Msg: descending ? out.reverse() : out })
  }
  const history = (conversationId: string, session: string, q: HistoryQuery, descending?: boolean) =>
    svc.history(conversationId, session, q).then((msgs) => page(msgs, session, descending))

  return (
    new Elysia()
      // Authenticate before validating the body: a caller without a valid token learns nothing.
      .derive(async ({ request, query }) => ({ claims: await auth.client(request, query.token) }))
      .post(
        '/send_msg',
        async ({ body, claims }) => {
          const id = await svc.send(claims.session, body.conversation_id, { status: body.status ?? 0, type: body.type ?? 0, content: body.content })
          return ok({ MsgID: encodeMsgId(id) })
        },
        { body: body.sendMsg, detail: { tags, summary: 'Send a message to a conversation (member only, not archived)' } },
      )
      .post(
        '/create_conversation',
        async ({ body, claims }) => ok({ ConversationId: await svc.create(body.conversation_type ?? 0, [claims.session]) }),
        { body: body.createConversation, detail: { tags, summary: 'Create a conversation; the caller is its member' } },
      )
      .post(
        '/join_conversation',
        async ({ body, claims }) => {
          await svc.join(body.conversation_id, [claims.session])
          return ok({ ConversationId: body.conversation_id })
        },
        { body: body.conversation, detail: { tags, summary: 'Join a conversation (idempotent; archived → 10005)' } },
      )
      .post(
        '/leave_conversation',
        async ({ body, claims }) => {
          await svc.remove(body.conversation_id, [claims.session])
          return ok({ ConversationId: body.conversation_id })
        },
        { body: body.conversation, detail: { tags, summary: 'Leave a conversation (idempotent)' } },
      )
      .post(
        '/check_joined_conversation',
        async ({ body, claims }) => ok({ Joined: await svc.isJoined(body.conversation_id, claims.session) }),
        { body: body.conversation, detail: { tags, summary: 'Whether the caller is a member' } },
      )
      .post('/get_joined_conversation', async ({ claims }) => ok({ Conversations: await svc.joined(claims.session) }), {
        body: body.joined,
        detail: { tags, summary: "The token's session's conversations" },
      })
      .post(
        '/get_conversation_detail',
        async ({ body, claims }) => {
          const { info, message } = await svc.lastMessage(body.conversation_id, claims.session)
          return ok({
            ConversationID: info.channelId,
            LastMsgID: message ? encodeMsgId(message.messageId) : null,
            LastSendTime: message?.sendTimeUs ?? 0,
            IsDelete: info.isDelete,
            ConversationType: info.conversationType,
            LastSendSession: message?.fromUid ?? '',
            IsArchive: info.isArchive,
          })
        },
        { body: body.conversation, detail: { tags, summary: 'Conversation detail (member only)' } },
      )
      .post(
        '/get_lastone_msgid',
        async ({ body, claims }) => {
          const { message } = await svc.lastMessage(body.conversation_id, claims.session)
          return ok({ MsgId: message ? encodeMsgId(message.messageId) : null })
        },
        { body: body.conversation, detail: { tags, summary: 'MsgId of the newest message (null when empty)' } },
      )
      .post(
        '/get_conversation_msg_by_range',
        ({ body, claims }) =>
          history(body.conversation_id, claims.session, { kind: 'range', startMsgId: String(body.start_msg_id), endMsgId: String(body.end_msg_id) }, body.desc),
        { body: body.range, detail: { tags, summary: 'Messages from start_msg_id to end_msg_id inclusive (≤ 1000)' } },
      )
      .post(
        '/get_conversation_30msg_before_the_id',
        ({ body, claims }) => history(body.conversation_id, claims.session, { kind: 'before', msgId: String(body.msg_id) }, body.desc),
        { body: body.aroundId, detail: { tags, summary: 'The 30 newest messages strictly before msg_id' } },
      )
      .post(
        '/get_conversation_30msg_after_the_id',
        ({ body, claims }) => history(body.conversation_id, claims.session, { kind: 'after', msgId: String(body.msg_id) }, body.desc),
        { body: body.aroundId, detail: { tags, summary: 'The 30 oldest messages strictly after msg_id' } },
      )
      .post('/get_conversation_last_30_msg', ({ body, claims }) => history(body.conversation_id, claims.session, { kind: 'last30' }, body.desc), {
        body: body.lastMsgs,
        detail: { tags, summary: 'The 30 newest messages' },
      })
      .post('/get_conversation_lastone_msg', ({ body, claims }) => history(body.conversation_id, claims.session, { kind: 'lastone' }, body.desc), {
        body: body.lastMsgs,
        detail: { tags, summary: 'The newest message (array of at most one)' },
      })
  )
}

/** /inner/*: behind the manager token (loopback only when none is set). */
export function innerRoutes(ctx: AppContext, auth: QuickImAuth, svc: QuickImService) {
  return new Elysia({ prefix: '/inner' })
    .derive(({ request, server }) => {
      auth.manager(request, server?.requestIP(request)?.address)
      return {}
    })
    .post(
      '/get_token',
      async ({ body }) => {
        await svc.ensureSession(body.session)
        return ok((await auth.signer()).sign(body.session, body.platform))
      },
      { body: body.getToken, detail: { tags, summary: `A signed client token (TTL ${ctx.config.tokenTtlSeconds} s)` } },
    )
    .post('/create_conversation', async ({ body }) => ok({ ConversationId: await svc.create(body.conversation_type ?? 0, body.sessions) }), {
      body: body.innerCreate,
      detail: { tags, summary: 'Create a conversation with these members' },
    })
    .post(
      '/join_conversation',
      async ({ body }) => {
        await svc.join(body.conversation_id, body.sessions)
        return ok({ ConversationId: body.conversation_id })
      },
      { body: body.innerMembers, detail: { tags, summary: 'Add members (archived → 10005)' } },
    )
    .post(
      '/kickout_conversation',
      async ({ body }) => {
        await svc.remove(body.conversation_id, body.sessions)
        return ok({ ConversationId: body.conversation_id })
      },
      { body: body.innerMembers, detail: { tags, summary: 'Remove members; they stop receiving at once' } },
    )
    .post(
      '/set_archive_conversations',
      async ({ body }) => {
        await svc.setArchive(body.conversation_ids, body.is_archive)
        return ok(null)
      },
      { body: body.setArchive, detail: { tags, summary: 'Archive (history readable, no sends) or unarchive' } },
    )
}
