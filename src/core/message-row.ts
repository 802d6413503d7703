/** Maps a raw `messages` row (snake_case, either driver) to the domain Message. */
import { bytes } from './sql'
import type { Message } from './types'

export interface MessageRow {
  message_id: number | string
  message_seq: number | string
  channel_id: string
  channel_type: number
  client_msg_no: string
  from_uid: string
  red_dot: number
  sync_once: number
  setting: number
  timestamp: number
  send_time_us: number | string
  payload: unknown
  type: number
  status: number
  stream_no: string | null
  expire: number
}

/** The column list every message query selects, in MessageRow's names. */
export const MESSAGE_COLUMNS =
  'message_id, message_seq, channel_id, channel_type, client_msg_no, from_uid, red_dot, sync_once, setting, timestamp, send_time_us, payload, type, status, stream_no, expire'

/** MESSAGE_COLUMNS of a table alias (`m.message_id, …`), leaving out `except` */
export const messageColumnsOf = (alias: string, except: string[] = []) =>
  MESSAGE_COLUMNS.split(', ')
    .filter((c) => !except.includes(c))
    .map((c) => `${alias}.${c}`)
    .join(', ')

export function toMessage(r: MessageRow): Message {
  return {
    messageId: Number(r.message_id),
    messageSeq: Number(r.message_seq),
    clientMsgNo: r.client_msg_no,
    fromUid: r.from_uid,
    channelId: r.channel_id,
    channelType: Number(r.channel_type),
    header: { noPersist: 0, redDot: Number(r.red_dot) ? 1 : 0, syncOnce: Number(r.sync_once) ? 1 : 0 },
    setting: Number(r.setting),
    timestamp: Number(r.timestamp),
    sendTimeUs: Number(r.send_time_us),
    payload: bytes(r.payload),
    type: Number(r.type),
    status: Number(r.status),
    streamNo: r.stream_no ?? null,
    expire: Number(r.expire),
  }
}
