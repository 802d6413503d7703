/**
 * quick-im /notify frame formats, registered with the hub: each is encoded once per message
 * (once per party for person channels) and shared by every receiver.
 */
import { encodeMsgpack } from '../../codec/msgpack'
import { quickImMessage } from '../../core/quickim/message-view'
import { encodeMsgId } from '../../core/quickim/msg-id'
import { CHANNEL_PERSON, type Message } from '../../core/types'
import type { FrameFormat } from '../../realtime/types'

const perViewer = (channelType: number) => channelType === CHANNEL_PERSON

/** ws text frames: the message JSON */
export const QIM_JSON = 'quickim-json'
/** ws binary frames: msgpack of the same object */
export const QIM_MSGPACK = 'quickim-msgpack'
/** one SSE event: `id: <MsgId>`, `event: message`, `data: <json>` */
export const QIM_SSE = 'quickim-sse'

/**
 * An SSE event for a message. Only history messages (seq > 0) carry `id:`: the id is what a
 * reconnecting client sends back as Last-Event-ID, and only history can be replayed. A live-only
 * message (no_persist) has an id from a block reserved ahead of time, lower than stored ids sent
 * around it; leaving `id:` out keeps the client's last event id at the last stored message (SSE
 * keeps the previous id when an event has none), so a resume neither repeats nor skips history.
 */
export function sseEvent(m: Message, viewer: string): string {
  const data = `event: message\ndata: ${JSON.stringify(quickImMessage(m, viewer))}\n\n`
  return m.messageSeq > 0 ? `id: ${encodeMsgId(m.messageId)}\n${data}` : data
}

export const quickImFormats: FrameFormat[] = [
  { name: QIM_JSON, perViewer, encode: (m, viewer) => JSON.stringify(quickImMessage(m, viewer)) },
  {
    name: QIM_MSGPACK,
    perViewer,
    encode: (m, viewer) => {
      const u8 = encodeMsgpack(quickImMessage(m, viewer))
      return Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength)
    },
  },
  {
    name: QIM_SSE,
    perViewer,
    encode: (m, viewer) => Buffer.from(sseEvent(m, viewer)),
  },
]
