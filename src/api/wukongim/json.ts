/** Domain → WuKongIM JSON (snake_case, payload base64, person channels as the viewer's peer). */
import { viewedChannelId } from '../../core/channel-id'
import type { Message } from '../../core/types'

export const base64 = (u8: Uint8Array) => Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength).toString('base64')

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** Standard base64 (with padding) → bytes; undefined when it is not valid. */
export function decodeBase64(text: string): Uint8Array | undefined {
  if (!BASE64.test(text)) return undefined
  return Buffer.from(text, 'base64')
}

export function messageJson(m: Message, viewer?: string) {
  const out: Record<string, unknown> = {
    header: { no_persist: m.header.noPersist, red_dot: m.header.redDot, sync_once: m.header.syncOnce },
    setting: m.setting,
    message_id: m.messageId,
    message_idstr: String(m.messageId),
    client_msg_no: m.clientMsgNo,
    message_seq: m.messageSeq,
    from_uid: m.fromUid,
    channel_id: viewer ? viewedChannelId(viewer, m.channelId, m.channelType) : m.channelId,
    channel_type: m.channelType,
    timestamp: m.timestamp,
    expire: m.expire,
    payload: base64(m.payload),
  }
  if (m.streamNo) {
    out.stream_no = m.streamNo
    out.streams = (m.streams ?? []).map((s) => ({ stream_seq: s.streamSeq, payload: base64(s.payload) }))
    out.stream_end = m.streamEnd ?? 0
  }
  return out
}
