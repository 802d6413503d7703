/**
 * WKProto packet shapes (WKPROTO.md §2). Versions 2–5 share these shapes; fields that exist only in
 * some versions are optional here and the codec writes/reads them only where the version has them.
 * 64-bit fields are bigint so every value round-trips exactly.
 */

export const PacketType = {
  CONNECT: 1,
  CONNACK: 2,
  SEND: 3,
  SENDACK: 4,
  RECV: 5,
  RECVACK: 6,
  PING: 7,
  PONG: 8,
  DISCONNECT: 9,
  SUB: 10,
  SUBACK: 11,
  EVENT: 12,
} as const
export type PacketTypeNumber = (typeof PacketType)[keyof typeof PacketType]

/** The setting byte of SEND/RECV. Stream is bit 2 for SDK 1.0.4/GoProto ≤1.0.8, bit 1 for newer GoProto. */
export const Setting = {
  RECEIPT: 0x80,
  SIGNAL: 0x20,
  NO_ENCRYPT: 0x10,
  TOPIC: 0x08,
  STREAM_SDK: 0x04,
  STREAM_GO: 0x02,
} as const

export const PROTO_VERSION_MIN = 2
export const PROTO_VERSION_MAX = 5

/** Fixed-header flag bits (byte 0, low nibble). CONNACK uses bit 0 for "has server version" instead. */
export interface HeaderFlags {
  dup?: boolean
  syncOnce?: boolean
  redDot?: boolean
  noPersist?: boolean
}

export interface ConnectPacket extends HeaderFlags {
  type: typeof PacketType.CONNECT
  version: number
  deviceFlag: number
  deviceId: string
  uid: string
  token: string
  clientTimestamp: bigint
  clientKey: string
}

export interface ConnackPacket {
  type: typeof PacketType.CONNACK
  /** present ⇔ header bit 0; the server sends it only to clients with version > 3 */
  serverVersion?: number
  timeDiff: bigint
  reasonCode: number
  serverKey: string
  salt: string
  /** only version ≥ 4 */
  nodeId?: bigint
}

export interface SendPacket extends HeaderFlags {
  type: typeof PacketType.SEND
  setting: number
  clientSeq: number
  clientMsgNo: string
  /** only 2 ≤ version < 5 with a stream bit */
  streamNo?: string
  channelId: string
  channelType: number
  /** only version ≥ 3 */
  expire?: number
  msgKey: string
  /** only with the topic bit */
  topic?: string
  payload: Uint8Array
}

export interface SendackPacket extends HeaderFlags {
  type: typeof PacketType.SENDACK
  messageId: bigint
  clientSeq: number
  messageSeq: number
  reasonCode: number
}

/** RECV stream block: SDK 1.0.4 layout (stream bit 0x04) or GoProto 1.2.3 layout (stream bit 0x02). */
export type RecvStream =
  | { layout: 'sdk'; streamNo: string; streamSeq: number; streamFlag: number }
  | { layout: 'go'; streamFlag: number; streamNo: string; streamId: bigint }

export interface RecvPacket extends HeaderFlags {
  type: typeof PacketType.RECV
  setting: number
  msgKey: string
  fromUid: string
  channelId: string
  channelType: number
  /** only version ≥ 3 */
  expire?: number
  clientMsgNo: string
  /** only 2 ≤ version < 5 with a stream bit */
  stream?: RecvStream
  messageId: bigint
  messageSeq: number
  /** unix seconds */
  timestamp: number
  topic?: string
  payload: Uint8Array
}

export interface RecvackPacket extends HeaderFlags {
  type: typeof PacketType.RECVACK
  messageId: bigint
  messageSeq: number
}

export interface PingPacket {
  type: typeof PacketType.PING
}
export interface PongPacket {
  type: typeof PacketType.PONG
}

export interface DisconnectPacket extends HeaderFlags {
  type: typeof PacketType.DISCONNECT
  reasonCode: number
  reason: string
}

export interface SubPacket extends HeaderFlags {
  type: typeof PacketType.SUB
  setting: number
  subNo: string
  channelId: string
  channelType: number
  /** 0 subscribe, 1 unsubscribe */
  action: number
  param: string
}

export interface SubackPacket extends HeaderFlags {
  type: typeof PacketType.SUBACK
  subNo: string
  channelId: string
  channelType: number
  action: number
  reasonCode: number
}

export interface EventPacket extends HeaderFlags {
  type: typeof PacketType.EVENT
  id: string
  eventType: string
  timestamp: bigint
  data: Uint8Array
}

export type Packet =
  | ConnectPacket
  | ConnackPacket
  | SendPacket
  | SendackPacket
  | RecvPacket
  | RecvackPacket
  | PingPacket
  | PongPacket
  | DisconnectPacket
  | SubPacket
  | SubackPacket
  | EventPacket
