/** The per-channel reordering in front of the hub, and the node-to-node encoding of events. */
import { describe, expect, test } from 'bun:test'
import { ChannelSequencer } from '../../src/cluster/sequencer'
import { decodeEvent, encodeEvent } from '../../src/cluster/wire'
import type { CoreEvent } from '../../src/core/events'
import type { Message } from '../../src/core/types'
import { eventually } from '../helpers/wait'

const message = (seq: number, channelId = 'g1', extra: Partial<Message> = {}): Message => ({
  messageId: 1000 + seq,
  messageSeq: seq,
  clientMsgNo: `c${seq}`,
  fromUid: 'u1',
  channelId,
  channelType: 2,
  header: { noPersist: 0, redDot: 1, syncOnce: 0 },
  setting: 0,
  timestamp: 1_700_000_000,
  sendTimeUs: 1_700_000_000_123_456,
  payload: new Uint8Array([seq & 255, 0, 255]),
  type: 1,
  status: 0,
  streamNo: null,
  expire: 0,
  ...extra,
})
const ev = (seq: number, channelId?: string): CoreEvent => ({ type: 'message', message: message(seq, channelId) })
const seqsOf = (out: CoreEvent[]) => out.map((e) => (e.type === 'message' ? `${e.message.channelId}:${e.message.messageSeq}` : e.type))

describe('ChannelSequencer', () => {
  test('an early seq waits for the one before it; channels do not wait for each other', () => {
    const out: CoreEvent[] = []
    const s = new ChannelSequencer((e) => out.push(e), { windowMs: 10_000 })
    s.push(ev(1))
    s.push(ev(3))
    s.push(ev(1, 'g2'))
    s.push({ type: 'members', channel: { channelId: 'g1', channelType: 2 }, added: ['x'], removed: [] })
    expect(seqsOf(out)).toEqual(['g1:1', 'g2:1', 'members'])
    s.push(ev(2))
    expect(seqsOf(out)).toEqual(['g1:1', 'g2:1', 'members', 'g1:2', 'g1:3'])
    expect(s.stats().waiting).toBe(0)
  })

  test('a gap that never fills is skipped after the window, in seq order', async () => {
    const out: CoreEvent[] = []
    const s = new ChannelSequencer((e) => out.push(e), { windowMs: 30 })
    s.push(ev(1))
    s.push(ev(4))
    s.push(ev(3))
    expect(seqsOf(out)).toEqual(['g1:1'])
    await eventually(() => out.length === 3)
    expect(seqsOf(out)).toEqual(['g1:1', 'g1:3', 'g1:4'])
    expect(s.counters.gapsSkipped).toBe(1)
    // the missing one arriving after its window is delivered anyway: late beats lost
    s.push(ev(2))
    s.push(ev(5))
    expect(seqsOf(out)).toEqual(['g1:1', 'g1:3', 'g1:4', 'g1:2', 'g1:5'])
    expect(s.counters.late).toBe(1)
  })

  test('an event loop stalled past the window (a GC pause) does not skip a gap whose seq the stall held up', async () => {
    const out: CoreEvent[] = []
    const s = new ChannelSequencer((e) => out.push(e), { windowMs: 30 })
    s.push(ev(1))
    s.push(ev(3))
    const until = performance.now() + 120
    while (performance.now() < until) {} // the stall: the window's timer is overdue when it runs
    // the missing seq comes just after the stall (its sender, or the socket it travels on, was held up too)
    setTimeout(() => s.push(ev(2)), 5)
    await eventually(() => out.length === 3)
    expect(seqsOf(out)).toEqual(['g1:1', 'g1:2', 'g1:3'])
    expect(s.counters).toMatchObject({ gapsSkipped: 0, stallsWaited: 1 })
    // a gap that really never fills is still skipped: the window once more after a stall, then given up
    s.push(ev(5))
    const again = performance.now() + 120
    while (performance.now() < again) {}
    await eventually(() => out.length === 4, 2000)
    expect(seqsOf(out)).toEqual(['g1:1', 'g1:2', 'g1:3', 'g1:5'])
    expect(s.counters).toMatchObject({ gapsSkipped: 1, stallsWaited: 2 })
  })

  test('first sight of a channel past seq 1 waits a window for earlier seqs still in flight', async () => {
    const out: CoreEvent[] = []
    const s = new ChannelSequencer((e) => out.push(e), { windowMs: 30 })
    s.push(ev(8))
    s.push(ev(7))
    expect(out).toEqual([])
    await eventually(() => out.length === 2)
    expect(seqsOf(out)).toEqual(['g1:7', 'g1:8'])
    s.push(ev(9))
    expect(seqsOf(out)).toEqual(['g1:7', 'g1:8', 'g1:9'])
  })

  test('unsequenced messages (seq 0: no_persist, subscriber-scoped) pass straight through', () => {
    const out: CoreEvent[] = []
    const s = new ChannelSequencer((e) => out.push(e), { windowMs: 10_000 })
    s.push(ev(1))
    s.push(ev(3))
    s.push(ev(0))
    expect(seqsOf(out)).toEqual(['g1:1', 'g1:0'])
    s.flushAll()
    expect(seqsOf(out)).toEqual(['g1:1', 'g1:0', 'g1:3'])
  })

  test('remembers a bounded number of channels (least recently used forgotten, its held messages delivered)', () => {
    const out: CoreEvent[] = []
    const s = new ChannelSequencer((e) => out.push(e), { windowMs: 10_000, maxChannels: 2 })
    s.push(ev(5, 'a'))
    s.push(ev(1, 'b'))
    s.push(ev(1, 'c'))
    expect(s.stats().channels).toBe(2)
    expect(seqsOf(out)).toEqual(['b:1', 'a:5', 'c:1'])
  })
})

describe('cluster wire format', () => {
  test('a Message round-trips exactly (binary payload, large ids, null stream); the origin connection is dropped', () => {
    const m = message(7, 'g9', { messageId: 2 ** 40 + 3, payload: new Uint8Array(300).map((_, i) => i % 251), streamNo: null })
    const back = decodeEvent(encodeEvent('node-a#1', { type: 'message', message: m, to: ['u2'], originConnection: 'wk-1' }))
    expect(back.origin).toBe('node-a#1')
    expect(back.event).toEqual({ type: 'message', message: m, to: ['u2'] })
    const got = (back.event as Extract<CoreEvent, { type: 'message' }>).message
    expect(got.payload).toBeInstanceOf(Uint8Array)
    expect(got.messageId).toBe(2 ** 40 + 3)
  })

  test('stream chunks and kicks round-trip', () => {
    const chunk: CoreEvent = { type: 'stream_chunk', channel: { channelId: 'g', channelType: 2 }, streamNo: 's1', streamSeq: 3, anchorMessageId: 42, fromUid: 'u', clientMsgNo: 'c', payload: new Uint8Array([1, 2, 3]), end: true }
    expect(decodeEvent(encodeEvent('o', chunk)).event).toEqual(chunk)
    const kick: CoreEvent = { type: 'kick_devices', uid: 'u', deviceFlag: -1, reason: 'device_quit' }
    expect(decodeEvent(encodeEvent('o', kick)).event).toEqual(kick)
  })

  test('garbage is refused, not dispatched', () => {
    expect(() => decodeEvent(new Uint8Array([0xc1]))).toThrow()
    expect(() => decodeEvent(new Uint8Array([0x80]))).toThrow('malformed')
  })
})
