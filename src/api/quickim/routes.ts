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
import { body, doc, msgIdText, reply } from './model'


/*
 * Every route says `parse: 'json'`: the plugin's parse hook (index.ts) always answers first, so
 * Elysia's own parser never runs, but the OpenAPI generator documents a request body's fields only
 * for a named parser.
 */

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
        { parse: 'json', body: body.sendMsg, detail: doc('Send a message to a conversation (member only, not archived)', reply.msgIdOut) },
      )
      .post(
        '/create_conversation',
        async ({ body, claims }) => ok({ ConversationId: await svc.create(body.conversation_type ?? 0, [claims.session]) }),
        { parse: 'json', body: body.createConversation, detail: doc('Create a conversation; the caller is its member', reply.conversationId) },
      )
      .post(
        '/join_conversation',
        async ({ body, claims }) => {
          await svc.join(body.conversation_id, [claims.session])
          return ok({ ConversationId: body.conversation_id })
        },
        { parse: 'json', body: body.conversation, detail: doc('Join a conversation (idempotent; archived → 10005)', reply.conversationId) },
      )
      .post(
        '/leave_conversation',
        async ({ body, claims }) => {
          await svc.remove(body.conversation_id, [claims.session])
          return ok({ ConversationId: body.conversation_id })
        },
        { parse: 'json', body: body.conversation, detail: doc('Leave a conversation (idempotent)', reply.conversationId) },
      )
      .post(
        '/check_joined_conversation',
        async ({ body, claims }) => ok({ Joined: await svc.isJoined(body.conversation_id, claims.session) }),
        { parse: 'json', body: body.conversation, detail: doc('Whether the caller is a member', reply.joined) },
      )
      .post('/get_joined_conversation', async ({ claims }) => ok({ Conversations: await svc.joined(claims.session) }), {
        parse: 'json', body: body.joined,
        detail: doc("The token's session's conversations", reply.conversations),
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
        { parse: 'json', body: body.conversation, detail: doc('Conversation detail (member only)', reply.detail) },
      )
      .post(
        '/get_lastone_msgid',
        async ({ body, claims }) => {
          const { message } = await svc.lastMessage(body.conversation_id, claims.session)
          return ok({ MsgId: message ? encodeMsgId(message.messageId) : null })
        },
        { parse: 'json', body: body.conversation, detail: doc('MsgId of the newest message (null when empty)', reply.lastMsgId) },
      )
      .post(
        '/get_conversation_msg_by_range',
        ({ body, claims }) =>
          history(body.conversation_id, claims.session, { kind: 'range', startMsgId: msgIdText(body.start_msg_id), endMsgId: msgIdText(body.end_msg_id) }, body.desc),
        { parse: 'json', body: body.range, detail: doc('Messages from start_msg_id to end_msg_id inclusive (≤ 1000)', reply.messages) },
      )
      .post(
        '/get_conversation_30msg_before_the_id',
        ({ body, claims }) => history(body.conversation_id, claims.session, { kind: 'before', msgId: msgIdText(body.msg_id) }, body.desc),
        { parse: 'json', body: body.aroundId, detail: doc('The 30 newest messages strictly before msg_id', reply.messages) },
      )
      .post(
        '/get_conversation_30msg_after_the_id',
        ({ body, claims }) => history(body.conversation_id, claims.session, { kind: 'after', msgId: msgIdText(body.msg_id) }, body.desc),
        { parse: 'json', body: body.aroundId, detail: doc('The 30 oldest messages strictly after msg_id', reply.messages) },
      )
      .post('/get_conversation_last_30_msg', ({ body, claims }) => history(body.conversation_id, claims.session, { kind: 'last30' }, body.desc), {
        parse: 'json', body: body.lastMsgs,
        detail: doc('The 30 newest messages', reply.messages),
      })
      .post('/get_conversation_lastone_msg', ({ body, claims }) => history(body.conversation_id, claims.session, { kind: 'lastone' }, body.desc), {
        parse: 'json', body: body.lastMsgs,
        detail: doc('The newest message (array of at most one)', reply.messages),
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
      { parse: 'json', body: body.getToken, detail: doc(`A signed client token (TTL ${ctx.config.tokenTtlSeconds} s)`, reply.token) },
    )
    .post('/create_conversation', async ({ body }) => ok({ ConversationId: await svc.create(body.conversation_type ?? 0, body.sessions) }), {
      parse: 'json', body: body.innerCreate,
      detail: doc('Create a conversation with these members', reply.conversationId),
    })
    .post(
      '/join_conversation',
      async ({ body }) => {
        await svc.join(body.conversation_id, body.sessions)
        return ok({ ConversationId: body.conversation_id })
      },
      { parse: 'json', body: body.innerMembers, detail: doc('Add members (archived → 10005)', reply.conversationId) },
    )
    .post(
      '/kickout_conversation',
      async ({ body }) => {
        await svc.remove(body.conversation_id, body.sessions)
        return ok({ ConversationId: body.conversation_id })
      },
      { parse: 'json', body: body.innerMembers, detail: doc('Remove members; they stop receiving at once', reply.conversationId) },
    )
    .post(
      '/set_archive_conversations',
      async ({ body }) => {
        await svc.setArchive(body.conversation_ids, body.is_archive)
        return ok(null)
      },
      { parse: 'json', body: body.setArchive, detail: doc('Archive (history readable, no sends) or unarchive', reply.none) },
    )
}
