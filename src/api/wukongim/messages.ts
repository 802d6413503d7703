/** /message/send, /message/sendbatch, /channel/messagesync, /message/sync, /message/syncack, /stream/* */
import type { AppContext } from '../../context'
import { invalid } from '../../core/errors'
import type { SendInput } from '../../core/types'
import { OK, doc, wukongimBase } from './base'
import { decodeBase64, messageJson } from './json'
import {
  CommandAckBody,
  CommandSyncOut,
  MessageSyncOut,
  SendBatchOut,
  SendOut,
  StreamOpenOut,
  CommandSyncBody,
  MessageSyncBody,
  SendBatchBody,
  SendBody,
  StreamCloseBody,
  StreamOpenBody,
} from './models'

const DEFAULT_LIMIT = 100
const MAX_LIMIT = 10_000
const limitOf = (l: number | undefined) => Math.min(l || DEFAULT_LIMIT, MAX_LIMIT)

interface SendFieldsJson {
  header?: { no_persist?: number; red_dot?: number; sync_once?: number }
  from_uid?: string
  client_msg_no?: string
  payload: string
  setting?: number
  expire?: number
}

function sendFields(b: SendFieldsJson): Omit<SendInput, 'channelId' | 'channelType'> {
  const payload = decodeBase64(b.payload)
  if (!payload) throw invalid('payload: must be valid standard base64')
  return {
    fromUid: b.from_uid ?? '',
    payload,
    header: b.header && { noPersist: b.header.no_persist as 0 | 1, redDot: b.header.red_dot as 0 | 1, syncOnce: b.header.sync_once as 0 | 1 },
    clientMsgNo: b.client_msg_no || undefined,
    setting: b.setting,
    expire: b.expire,
  }
}

export function messageRoutes(ctx: AppContext) {
  const { messages, commands, streams } = ctx.core
  return wukongimBase(ctx)
    .post(
      '/message/send',
      async ({ body }) => {
        const r = await messages.send({
          ...sendFields(body),
          channelId: body.channel_id,
          channelType: body.channel_type,
          subscribers: body.subscribers,
          streamNo: body.stream_no || undefined,
        })
        return { message_id: r.messageId, message_seq: r.messageSeq, client_msg_no: r.clientMsgNo }
      },
      { parse: 'json', body: SendBody, detail: doc('Send a message; answers after it is durably committed: {message_id, message_seq, client_msg_no}', SendOut) },
    )
    .post(
      '/message/sendbatch',
      async ({ body }) => {
        const r = await messages.sendBatch({ ...sendFields(body), subscribers: body.subscribers })
        return { fail_uids: r.failUids, reason: r.reason }
      },
      { parse: 'json', body: SendBatchBody, detail: doc('One person message from from_uid to each subscriber: {fail_uids, reason}', SendBatchOut) },
    )
    .post(
      '/channel/messagesync',
      async ({ body }) => {
        const r = await messages.sync({
          loginUid: body.login_uid ?? '',
          channelId: body.channel_id,
          channelType: body.channel_type,
          startMessageSeq: body.start_message_seq ?? 0,
          endMessageSeq: body.end_message_seq ?? 0,
          limit: limitOf(body.limit),
          pullMode: body.pull_mode === 1 ? 1 : 0,
        })
        return {
          start_message_seq: r.startMessageSeq,
          end_message_seq: r.endMessageSeq,
          more: r.more,
          messages: r.messages.map((m) => messageJson(m, body.login_uid || undefined)),
        }
      },
      { parse: 'json', body: MessageSyncBody, detail: doc('Channel history by seq (pull_mode 0 down / 1 up); messages ascending', MessageSyncOut) },
    )
    .post(
      '/message/sync',
      async ({ body }) => (await commands.sync(body.uid, limitOf(body.limit))).map((m) => messageJson(m, body.uid)),
      { parse: 'json', body: CommandSyncBody, detail: doc('The uid’s unacknowledged command (sync_once) messages, oldest first', CommandSyncOut) },
    )
    .post(
      '/message/syncack',
      async ({ body }) => {
        await commands.ack(body.uid, body.last_message_seq)
        return OK
      },
      { parse: 'json', body: CommandAckBody, detail: doc('Drop command-queue entries up to last_message_seq (idempotent)') },
    )
    .post(
      '/stream/open',
      async ({ body }) => {
        const r = await streams.open({ ...sendFields(body), channelId: body.channel_id, channelType: body.channel_type })
        return { stream_no: r.streamNo, message_id: r.messageId, message_seq: r.messageSeq }
      },
      { parse: 'json', body: StreamOpenBody, detail: doc('Open a stream: stores its anchor message → {stream_no}', StreamOpenOut) },
    )
    .post(
      '/stream/close',
      async ({ body }) => {
        await streams.close(body.stream_no, { channelId: body.channel_id, channelType: body.channel_type })
        return OK
      },
      { parse: 'json', body: StreamCloseBody, detail: doc('Close a stream (its anchor then reports stream_end 1)') },
    )
}
