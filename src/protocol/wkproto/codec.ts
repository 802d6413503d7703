/**
 * WKProto encode/decode, byte for byte as WKPROTO.md §1–2. The layout of a packet depends on the
 * protocol version the client announced in CONNECT; callers pass it in.
 * decodePacket never throws on client bytes: it returns { ok: false, error } instead.
 */
import { DecodeError, Reader, Writer } from './bytes'
import { type HeaderFlags, type Packet, PacketType, type RecvStream, Setting } from './packets'

/** GoProto rejects bodies above 1 MiB; so do we. */
export const MAX_REMAINING_LENGTH = 1024 * 1024
const MAX_VARINT_BYTES = 4

export type DecodeResult = { ok: true; packet: Packet } | { ok: false; error: string }

const PING_BYTE = PacketType.PING << 4
const PONG_BYTE = PacketType.PONG << 4

/** Types with no length and no body: exactly one byte on the wire. */
export const isOneBytePacket = (type: number) => type === PacketType.PING || type === PacketType.PONG

function streamLayout(setting: number): RecvStream['layout'] | undefined {
  if (setting & Setting.STREAM_SDK) return 'sdk'
  if (setting & Setting.STREAM_GO) return 'go'
  return undefined
}
const hasStreamField = (setting: number, version: number) => version >= 2 && version < 5 && streamLayout(setting) !== undefined
const hasTopic = (setting: number) => (setting & Setting.TOPIC) !== 0

function flagBits(p: HeaderFlags): number {
  return (p.dup ? 8 : 0) | (p.syncOnce ? 4 : 0) | (p.redDot ? 2 : 0) | (p.noPersist ? 1 : 0)
}

function readFlags(byte0: number): Required<HeaderFlags> {
  return { dup: (byte0 & 8) !== 0, syncOnce: (byte0 & 4) !== 0, redDot: (byte0 & 2) !== 0, noPersist: (byte0 & 1) !== 0 }
}

/** Varint of the remaining length: 7 bits per byte, low group first; zero is written as no bytes (SDK, GoProto). */
export function encodeVarint(n: number): number[] {
  const out: number[] = []
  while (n > 0) {
    let digit = n % 128
    n = Math.floor(n / 128)
    if (n > 0) digit |= 0x80
    out.push(digit)
  }
  return out
}

export type VarintResult = { kind: 'ok'; value: number; size: number } | { kind: 'incomplete' } | { kind: 'error'; error: string }

/** Reads the remaining length at `offset`; tells apart "need more bytes" from "malformed". */
export function readVarint(bytes: Uint8Array, offset: number): VarintResult {
  let value = 0
  let multiplier = 1
  for (let i = 0; i < MAX_VARINT_BYTES; i++) {
    if (offset + i >= bytes.length) return { kind: 'incomplete' }
    const b = bytes[offset + i]!
    value += (b & 0x7f) * multiplier
    if ((b & 0x80) === 0) {
      if (value > MAX_REMAINING_LENGTH) return { kind: 'error', error: `remaining length ${value} exceeds ${MAX_REMAINING_LENGTH}` }
      return { kind: 'ok', value, size: i + 1 }
    }
    multiplier *= 128
  }
  return { kind: 'error', error: 'remaining length longer than 4 bytes' }
}

function encodeBody(p: Packet, version: number, w: Writer): void {
  switch (p.type) {
    case PacketType.CONNECT:
      w.u8(p.version).u8(p.deviceFlag).str(p.deviceId).str(p.uid).str(p.token).i64(p.clientTimestamp).str(p.clientKey)
      return
    case PacketType.CONNACK:
      if (p.serverVersion !== undefined) w.u8(p.serverVersion)
      w.i64(p.timeDiff).u8(p.reasonCode).str(p.serverKey).str(p.salt)
      if (version >= 4) w.u64(p.nodeId ?? 0n)
      return
    case PacketType.SEND:
      w.u8(p.setting).u32(p.clientSeq).str(p.clientMsgNo)
      if (hasStreamField(p.setting, version)) w.str(p.streamNo ?? '')
      w.str(p.channelId).u8(p.channelType)
      if (version >= 3) w.u32(p.expire ?? 0)
      w.str(p.msgKey)
      if (hasTopic(p.setting)) w.str(p.topic ?? '')
      w.bytes(p.payload)
      return
    case PacketType.SENDACK:
      w.i64(p.messageId).u32(p.clientSeq).u32(p.messageSeq).u8(p.reasonCode)
      return
    case PacketType.RECV: {
      w.u8(p.setting).str(p.msgKey).str(p.fromUid).str(p.channelId).u8(p.channelType)
      if (version >= 3) w.u32(p.expire ?? 0)
      w.str(p.clientMsgNo)
      if (hasStreamField(p.setting, version)) {
        const s = p.stream
        if (streamLayout(p.setting) === 'sdk') {
          w.str(s?.streamNo ?? '')
            .u32(s?.layout === 'sdk' ? s.streamSeq : 0)
            .u8(s?.streamFlag ?? 0)
        } else {
          w.u8(s?.streamFlag ?? 0)
            .str(s?.streamNo ?? '')
            .u64(s?.layout === 'go' ? s.streamId : 0n)
        }
      }
      w.i64(p.messageId).u32(p.messageSeq).i32(p.timestamp)
      if (hasTopic(p.setting)) w.str(p.topic ?? '')
      w.bytes(p.payload)
      return
    }
    case PacketType.RECVACK:
      w.i64(p.messageId).u32(p.messageSeq)
      return
    case PacketType.DISCONNECT:
      w.u8(p.reasonCode).str(p.reason)
      return
    case PacketType.SUB:
      w.u8(p.setting).str(p.subNo).str(p.channelId).u8(p.channelType).u8(p.action).str(p.param)
      return
    case PacketType.SUBACK:
      w.str(p.subNo).str(p.channelId).u8(p.channelType).u8(p.action).u8(p.reasonCode)
      return
    case PacketType.EVENT:
      w.str(p.id).str(p.eventType).i64(p.timestamp).bytes(p.data)
      return
    case PacketType.PING:
    case PacketType.PONG:
      return
  }
}

const bodyWriter = new Writer(4096)

/**
 * One whole frame (header, remaining length, body). Throws only on a programming error of ours
 * (a string over 32767 bytes, a body over 1 MiB), never because of client input.
 */
export function encodePacket(p: Packet, version: number): Uint8Array {
  if (p.type === PacketType.PING) return Uint8Array.of(PING_BYTE)
  if (p.type === PacketType.PONG) return Uint8Array.of(PONG_BYTE)
  bodyWriter.length = 0
  encodeBody(p, version, bodyWriter)
  const body = bodyWriter.finish()
  if (body.length > MAX_REMAINING_LENGTH) throw new RangeError(`packet body of ${body.length} bytes exceeds ${MAX_REMAINING_LENGTH}`)
  const flags = p.type === PacketType.CONNACK ? (p.serverVersion !== undefined ? 1 : 0) : flagBits(p)
  const len = encodeVarint(body.length)
  const out = new Uint8Array(1 + len.length + body.length)
  out[0] = (p.type << 4) | flags
  out.set(len, 1)
  out.set(body, 1 + len.length)
  return out
}

function decodeBody(type: number, byte0: number, r: Reader, version: number): Packet {
  const flags = readFlags(byte0)
  switch (type) {
    case PacketType.CONNECT:
      return {
        type: PacketType.CONNECT,
        ...flags,
        version: r.u8(),
        deviceFlag: r.u8(),
        deviceId: r.str(),
        uid: r.str(),
        token: r.str(),
        clientTimestamp: r.i64(),
        clientKey: r.str(),
      }
    case PacketType.CONNACK: {
      const serverVersion = byte0 & 1 ? r.u8() : undefined
      const timeDiff = r.i64()
      const reasonCode = r.u8()
      const serverKey = r.str()
      const salt = r.str()
      const nodeId = version >= 4 ? r.u64() : undefined
      return { type: PacketType.CONNACK, serverVersion, timeDiff, reasonCode, serverKey, salt, nodeId }
    }
    case PacketType.SEND: {
      const setting = r.u8()
      const clientSeq = r.u32()
      const clientMsgNo = r.str()
      const streamNo = hasStreamField(setting, version) ? r.str() : undefined
      const channelId = r.str()
      const channelType = r.u8()
      const expire = version >= 3 ? r.u32() : undefined
      const msgKey = r.str()
      const topic = hasTopic(setting) ? r.str() : undefined
      return { type: PacketType.SEND, ...flags, setting, clientSeq, clientMsgNo, streamNo, channelId, channelType, expire, msgKey, topic, payload: r.rest() }
    }
    case PacketType.SENDACK:
      return { type: PacketType.SENDACK, ...flags, messageId: r.i64(), clientSeq: r.u32(), messageSeq: r.u32(), reasonCode: r.u8() }
    case PacketType.RECV: {
      const setting = r.u8()
      const msgKey = r.str()
      const fromUid = r.str()
      const channelId = r.str()
      const channelType = r.u8()
      const expire = version >= 3 ? r.u32() : undefined
      const clientMsgNo = r.str()
      let stream: RecvStream | undefined
      if (hasStreamField(setting, version)) {
        if (streamLayout(setting) === 'sdk') stream = { layout: 'sdk', streamNo: r.str(), streamSeq: r.u32(), streamFlag: r.u8() }
        else stream = { layout: 'go', streamFlag: r.u8(), streamNo: r.str(), streamId: r.u64() }
      }
      const messageId = r.i64()
      const messageSeq = r.u32()
      const timestamp = r.i32()
      const topic = hasTopic(setting) ? r.str() : undefined
      return { type: PacketType.RECV, ...flags, setting, msgKey, fromUid, channelId, channelType, expire, clientMsgNo, stream, messageId, messageSeq, timestamp, topic, payload: r.rest() }
    }
    case PacketType.RECVACK:
      return { type: PacketType.RECVACK, ...flags, messageId: r.i64(), messageSeq: r.u32() }
    case PacketType.DISCONNECT:
      return { type: PacketType.DISCONNECT, ...flags, reasonCode: r.u8(), reason: r.str() }
    case PacketType.SUB:
      return { type: PacketType.SUB, ...flags, setting: r.u8(), subNo: r.str(), channelId: r.str(), channelType: r.u8(), action: r.u8(), param: r.str() }
    case PacketType.SUBACK:
      return { type: PacketType.SUBACK, ...flags, subNo: r.str(), channelId: r.str(), channelType: r.u8(), action: r.u8(), reasonCode: r.u8() }
    case PacketType.EVENT:
      return { type: PacketType.EVENT, ...flags, id: r.str(), eventType: r.str(), timestamp: r.i64(), data: r.rest() }
    default:
      throw new DecodeError(`unknown packet type ${type}`)
  }
}

/**
 * Decodes one whole frame as produced by FrameSplitter (or one WS message holding one packet).
 * Trailing bytes after the last fixed field are ignored, as GoProto does.
 */
export function decodePacket(frame: Uint8Array, version: number): DecodeResult {
  if (frame.length === 0) return { ok: false, error: 'empty frame' }
  const byte0 = frame[0]!
  const type = byte0 >> 4
  if (type === PacketType.PING) return { ok: true, packet: { type } }
  if (type === PacketType.PONG) return { ok: true, packet: { type } }
  const len = readVarint(frame, 1)
  if (len.kind === 'incomplete') return { ok: false, error: 'packet truncated in its remaining length' }
  if (len.kind === 'error') return { ok: false, error: len.error }
  const start = 1 + len.size
  if (frame.length < start + len.value) return { ok: false, error: 'packet shorter than its remaining length' }
  try {
    return { ok: true, packet: decodeBody(type, byte0, new Reader(frame.subarray(start, start + len.value)), version) }
  } catch (err) {
    if (err instanceof DecodeError) return { ok: false, error: err.message }
    return { ok: false, error: 'malformed packet' }
  }
}
