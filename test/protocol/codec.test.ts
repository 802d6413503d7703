/**
 * WKProto codec: every packet type round-trips at every version 2–5, frames split or coalesced
 * arbitrarily come out whole, and truncated or garbage input yields an error value (never a throw,
 * never a hang). Byte layouts are cross-checked against the SDK's own encoder/decoder.
 */
import { describe, expect, test } from 'bun:test'
import fc from 'fast-check'
import SdkProto, { ConnectPacket as SdkConnect, RecvackPacket as SdkRecvack } from 'wukongimjssdk/lib/proto'
import { decodePacket, encodePacket, encodeVarint, MAX_REMAINING_LENGTH, readVarint } from '../../src/protocol/wkproto/codec'
import { FrameSplitter } from '../../src/protocol/wkproto/frame-splitter'
import { type Packet, PacketType, Setting } from '../../src/protocol/wkproto/packets'

const u8 = fc.integer({ min: 0, max: 255 })
const u32 = fc.integer({ min: 0, max: 0xffffffff })
const i32 = fc.integer({ min: -0x80000000, max: 0x7fffffff })
const i64 = fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n })
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })
const str = fc.string({ unit: 'grapheme', maxLength: 40 })
const bytes = fc.uint8Array({ maxLength: 300 })
const flags = fc.record({ dup: fc.boolean(), syncOnce: fc.boolean(), redDot: fc.boolean(), noPersist: fc.boolean() })
const version = fc.integer({ min: 2, max: 5 })

/** A packet as the codec reads it back at version v: version-only fields present exactly when v has them. */
function packetFor(v: number): fc.Arbitrary<Packet> {
  const streamy = (setting: number) => v < 5 && (setting & (Setting.STREAM_SDK | Setting.STREAM_GO)) !== 0
  const hasTopic = (setting: number) => (setting & Setting.TOPIC) !== 0
  return fc.oneof(
    fc.record({ type: fc.constant(PacketType.CONNECT), version: u8, deviceFlag: u8, deviceId: str, uid: str, token: str, clientTimestamp: i64, clientKey: str }).chain((p) => flags.map((f) => ({ ...p, ...f }))),
    fc.record({ type: fc.constant(PacketType.CONNACK), serverVersion: fc.option(u8, { nil: undefined }), timeDiff: i64, reasonCode: u8, serverKey: str, salt: str, nodeId: v >= 4 ? u64 : fc.constant(undefined) }),
    fc
      .record({ setting: u8, clientSeq: u32, clientMsgNo: str, streamNo: str, channelId: str, channelType: u8, expire: u32, msgKey: str, topic: str, payload: bytes })
      .chain((p) => flags.map((f) => ({ ...p, ...f })))
      .map((p) => ({
        ...p,
        type: PacketType.SEND,
        streamNo: streamy(p.setting) ? p.streamNo : undefined,
        expire: v >= 3 ? p.expire : undefined,
        topic: hasTopic(p.setting) ? p.topic : undefined,
      })),
    fc.record({ type: fc.constant(PacketType.SENDACK), messageId: i64, clientSeq: u32, messageSeq: u32, reasonCode: u8 }).chain((p) => flags.map((f) => ({ ...p, ...f }))),
    fc
      .record({
        setting: u8,
        msgKey: str,
        fromUid: str,
        channelId: str,
        channelType: u8,
        expire: u32,
        clientMsgNo: str,
        streamNo: str,
        streamSeq: u32,
        streamFlag: u8,
        streamId: u64,
        messageId: i64,
        messageSeq: u32,
        timestamp: i32,
        topic: str,
        payload: bytes,
      })
      .chain((p) => flags.map((f) => ({ ...p, ...f })))
      .map(({ streamNo, streamSeq, streamFlag, streamId, ...p }) => ({
        ...p,
        type: PacketType.RECV,
        expire: v >= 3 ? p.expire : undefined,
        topic: hasTopic(p.setting) ? p.topic : undefined,
        stream: !streamy(p.setting)
          ? undefined
          : p.setting & Setting.STREAM_SDK
            ? { layout: 'sdk' as const, streamNo, streamSeq, streamFlag }
            : { layout: 'go' as const, streamFlag, streamNo, streamId },
      })),
    fc.record({ type: fc.constant(PacketType.RECVACK), messageId: i64, messageSeq: u32 }).chain((p) => flags.map((f) => ({ ...p, ...f }))),
    fc.constant({ type: PacketType.PING }),
    fc.constant({ type: PacketType.PONG }),
    fc.record({ type: fc.constant(PacketType.DISCONNECT), reasonCode: u8, reason: str }).chain((p) => flags.map((f) => ({ ...p, ...f }))),
    fc.record({ type: fc.constant(PacketType.SUB), setting: u8, subNo: str, channelId: str, channelType: u8, action: u8, param: str }).chain((p) => flags.map((f) => ({ ...p, ...f }))),
    fc.record({ type: fc.constant(PacketType.SUBACK), subNo: str, channelId: str, channelType: u8, action: u8, reasonCode: u8 }).chain((p) => flags.map((f) => ({ ...p, ...f }))),
    fc.record({ type: fc.constant(PacketType.EVENT), id: str, eventType: str, timestamp: i64, data: bytes }).chain((p) => flags.map((f) => ({ ...p, ...f }))),
  ) as fc.Arbitrary<Packet>
}

const versionAndPacket = version.chain((v) => packetFor(v).map((p) => ({ v, p })))

/** Drop undefined fields so a decoded packet compares equal to the generated one. */
const clean = (p: object) => Object.fromEntries(Object.entries(p).filter(([, x]) => x !== undefined))

describe('round trips', () => {
  test('every packet type at every version 2–5', () => {
    fc.assert(
      fc.property(versionAndPacket, ({ v, p }) => {
        const frame = encodePacket(p, v)
        const back = decodePacket(frame, v)
        expect(back.ok).toBe(true)
        if (back.ok) expect(clean(back.packet)).toEqual(clean(p))
      }),
      { numRuns: 2000 },
    )
  })

  test('a stream of frames split at arbitrary points comes out whole and in order', () => {
    fc.assert(
      fc.property(version, fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 30 }), (v, cuts) =>
        fc.assert(
          fc.property(fc.array(packetFor(v), { minLength: 1, maxLength: 8 }), (packets) => {
            const frames = packets.map((p) => encodePacket(p, v))
            const all = Buffer.concat(frames)
            const splitter = new FrameSplitter()
            const out: Uint8Array[] = []
            let at = 0
            let i = 0
            while (at < all.length) {
              const n = cuts[i++ % cuts.length]!
              const r = splitter.push(all.subarray(at, at + n))
              expect(r.error).toBeUndefined()
              out.push(...r.frames)
              at += n
            }
            expect(out.map((f) => Buffer.from(f).toString('hex'))).toEqual(frames.map((f) => Buffer.from(f).toString('hex')))
            expect(splitter.buffered).toBe(0)
          }),
          { numRuns: 5 },
        ),
      ),
      { numRuns: 60 },
    )
  })
})

describe('bad input is an error value', () => {
  test('every strict prefix of a frame is rejected, never thrown', () => {
    fc.assert(
      fc.property(versionAndPacket, ({ v, p }) => {
        const frame = encodePacket(p, v)
        if (frame.length === 1) return // PING / PONG have no prefix
        for (let n = 0; n < frame.length; n += Math.max(1, Math.floor(frame.length / 17))) {
          expect(decodePacket(frame.subarray(0, n), v).ok).toBe(false)
        }
        // And the splitter just waits for more.
        const s = new FrameSplitter()
        const r = s.push(frame.subarray(0, frame.length - 1))
        expect(r.frames).toHaveLength(0)
        expect(r.error).toBeUndefined()
      }),
      { numRuns: 500 },
    )
  })

  test('garbage never throws and never hangs, in the decoder or the splitter', () => {
    fc.assert(
      fc.property(version, fc.uint8Array({ maxLength: 600 }), (v, junk) => {
        const r = decodePacket(junk, v)
        expect(typeof r.ok).toBe('boolean')
        const s = new FrameSplitter()
        const split = s.push(junk)
        for (const f of split.frames) expect(typeof decodePacket(f, v).ok).toBe('boolean')
      }),
      { numRuns: 3000 },
    )
  })

  test('remaining length: over 4 bytes or over 1 MiB is rejected; the splitter stays failed', () => {
    expect(readVarint(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x01), 0)).toEqual({ kind: 'error', error: 'remaining length longer than 4 bytes' })
    const tooBig = encodeVarint(MAX_REMAINING_LENGTH + 1)
    expect(readVarint(Uint8Array.from(tooBig), 0).kind).toBe('error')
    expect(readVarint(Uint8Array.from(encodeVarint(MAX_REMAINING_LENGTH)), 0)).toEqual({ kind: 'ok', value: MAX_REMAINING_LENGTH, size: 3 })
    const s = new FrameSplitter()
    expect(s.push(Uint8Array.of(0x30, ...tooBig)).error).toContain('exceeds')
    expect(s.push(Uint8Array.of(0x70)).error).toContain('exceeds')
    expect(decodePacket(Uint8Array.of(0x30, ...tooBig), 2).ok).toBe(false)
  })

  test('unknown packet types are rejected', () => {
    expect(decodePacket(Uint8Array.of(0xd0, 0x01, 0x00), 4)).toEqual({ ok: false, error: 'unknown packet type 13' })
    expect(new FrameSplitter().push(Uint8Array.of(0x00, 0x00)).error).toBe('unknown packet type 0')
  })

  test('strings must be UTF-8', () => {
    const frame = Uint8Array.of(0x90, 0x04, 0x01, 0x00, 0x01, 0xff)
    expect(decodePacket(frame, 2)).toEqual({ ok: false, error: 'string is not valid UTF-8' })
  })
})

describe('byte layouts match wukongimjssdk 1.0.4', () => {
  // The SDK types its decode() result as its base Packet; the tests read the concrete fields.
  const sdk = new SdkProto() as unknown as { encode(p: unknown): Uint8Array; decode(b: Uint8Array): any }

  test('CONNECT from the SDK decodes (WKPROTO.md §7: 101 bytes, length 0x63)', () => {
    const c = new SdkConnect()
    Object.assign(c, { version: 2, deviceFlag: 1, deviceID: 'a'.repeat(32) + 'W', uid: 'u1', token: 'tk', clientTimestamp: 1763700000123, clientKey: 'K'.repeat(43) + '=' })
    const bytes: Uint8Array = sdk.encode(c)
    expect(bytes.length).toBe(101)
    expect([bytes[0], bytes[1]]).toEqual([0x10, 0x63])
    const r = decodePacket(bytes, 2)
    expect(r).toEqual({
      ok: true,
      packet: { type: PacketType.CONNECT, dup: false, syncOnce: false, redDot: false, noPersist: false, version: 2, deviceFlag: 1, deviceId: 'a'.repeat(32) + 'W', uid: 'u1', token: 'tk', clientTimestamp: 1763700000123n, clientKey: 'K'.repeat(43) + '=' },
    })
  })

  test('CONNACK v2 is 75 bytes and the SDK reads it', () => {
    const frame = encodePacket({ type: PacketType.CONNACK, timeDiff: 5n, reasonCode: 1, serverKey: 'S'.repeat(43) + '=', salt: 'abcdefghijklmnop' }, 2)
    expect(frame.length).toBe(75)
    expect([frame[0], frame[1]]).toEqual([0x20, 0x49])
    const p = sdk.decode(frame)
    expect([p.reasonCode, p.serverKey, p.salt, p.timeDiff.toString()]).toEqual([1, 'S'.repeat(43) + '=', 'abcdefghijklmnop', '5'])
  })

  test('RECV, SENDACK, DISCONNECT and SUBACK at v2 decode in the SDK', () => {
    const payload = Buffer.from('aGVsbG8=', 'ascii')
    const recv = sdk.decode(
      encodePacket({ type: PacketType.RECV, redDot: true, setting: 0, msgKey: 'k', fromUid: 'ä', channelId: 'g1', channelType: 2, clientMsgNo: 'c1', messageId: 9007199254740991n, messageSeq: 7, timestamp: 1763700000, payload }, 2),
    )
    expect([recv.fromUID, recv.channelID, recv.channelType, recv.clientMsgNo, recv.messageID, recv.messageSeq, recv.timestamp, recv.reddot]).toEqual(['ä', 'g1', 2, 'c1', '9007199254740991', 7, 1763700000, true])
    expect(Buffer.from(recv.payload).toString()).toBe('aGVsbG8=')
    const ack = sdk.decode(encodePacket({ type: PacketType.SENDACK, messageId: 42n, clientSeq: 3, messageSeq: 4, reasonCode: 1 }, 2))
    expect([ack.messageID.toString(), ack.clientSeq, ack.messageSeq, ack.reasonCode]).toEqual(['42', 3, 4, 1])
    const dis = sdk.decode(encodePacket({ type: PacketType.DISCONNECT, reasonCode: 12, reason: 'login in other device' }, 2))
    expect([dis.reasonCode, dis.reason]).toEqual([12, 'login in other device'])
    const sub = sdk.decode(encodePacket({ type: PacketType.SUBACK, subNo: 's', channelId: 'c', channelType: 2, action: 0, reasonCode: 1 }, 2))
    expect([sub.clientMsgNo, sub.channelID, sub.channelType, sub.action, sub.reasonCode]).toEqual(['s', 'c', 2, 0, 1])
  })

  test("the SDK's RECVACK decodes with its header flags", () => {
    const a = new SdkRecvack()
    Object.assign(a, { messageID: '123456789012', messageSeq: 5, reddot: true, noPersist: false, syncOnce: true })
    const r = decodePacket(sdk.encode(a), 2)
    expect(r).toEqual({ ok: true, packet: { type: PacketType.RECVACK, dup: false, syncOnce: true, redDot: true, noPersist: false, messageId: 123456789012n, messageSeq: 5 } })
  })
})
