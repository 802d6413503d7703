/**
 * quick-im /notify frame formats, registered with the hub: each is encoded once per message
 * (once per party for person channels) and shared by every receiver.
 */
import { encodeMsgpack } from '../../codec/msgpack'
import { quickImMessage } from '../../core/quickim/message-view'
import { encodeMsgId } from '../../core/quickim/msg-id'
import { CHANNEL_PERSON } from '../../core/types'
import type { FrameFormat } from '../../realtime/types'

const perViewer = (channelType: number) => channelType === CHANNEL_PERSON

/** ws text frames: the message JSON */
export const QIM_JSON = 'quickim-json'
/** ws binary frames: msgpack of the same object */
export const QIM_MSGPACK = 'quickim-msgpack'
/** one SSE event: `id: <MsgId>`, `event: message`, `data: <json>` */
export const QIM_SSE = 'quickim-sse'

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
    encode: (m, viewer) =>
      Buffer.from(`id: ${encodeMsgId(m.messageId)}\nevent: message\ndata: ${JSON.stringify(quickImMessage(m, viewer))}\n\n`),
  },
]
