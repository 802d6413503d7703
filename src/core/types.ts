/**
 * The domain's shared vocabulary (SPEC §2). Transport-free: no HTTP, no sockets here.
 */

export const CHANNEL_PERSON = 1
export const CHANNEL_GROUP = 2

export interface MessageHeader {
  noPersist: 0 | 1
  redDot: 0 | 1
  syncOnce: 0 | 1
}

/** A message as stored (or, for no_persist, as delivered). Channel ids are the *stored* ids (`a@b` for person channels). */
export interface Message {
  messageId: number
  /** per-channel seq; 0 for no_persist, sync_once and subscriber-scoped messages */
  messageSeq: number
  clientMsgNo: string
  /** "" = system */
  fromUid: string
  channelId: string
  channelType: number
  header: MessageHeader
  setting: number
  /** seconds since epoch */
  timestamp: number
  /** microseconds since epoch (quick-im SendTime) */
  sendTimeUs: number
  payload: Uint8Array
  type: number
  status: number
  streamNo: string | null
  expire: number
  /** on a stream's anchor (history reads only): its chunks in order */
  streams?: StreamChunk[]
  /** on a stream's anchor (history reads only): 1 once the stream is closed */
  streamEnd?: 0 | 1
}

export interface StreamChunk {
  streamSeq: number
  payload: Uint8Array
}

export interface SendInput {
  fromUid: string
  /** as the caller names it: for channel_type 1 this is the receiver's uid */
  channelId: string
  channelType: number
  payload: Uint8Array
  header?: Partial<MessageHeader>
  setting?: number
  clientMsgNo?: string
  type?: number
  status?: number
  /** non-empty: only these uids receive it; not written to the channel's history */
  subscribers?: string[]
  /** append a chunk to this open stream */
  streamNo?: string
  expire?: number
  /** opaque id of the sending connection, so live delivery can skip it (WKProto RECV) */
  originConnection?: string
}

export interface SendResult {
  messageId: number
  messageSeq: number
  clientMsgNo: string
  /** the message as stored/delivered */
  message: Message
}

export interface ChannelKey {
  channelId: string
  channelType: number
}
