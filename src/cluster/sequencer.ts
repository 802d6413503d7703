/**
 * Puts each channel's stored messages back in seq order before the hub sees them.
 *
 * Why: seqs are assigned under the database lock in commit order, but two nodes publish on two
 * NATS connections, so node A's seq 5 can reach a third node after node B's seq 6 (and a node's
 * own seq 6 is dispatched locally before A's seq 5 arrives). Per channel, this keeps the next
 * expected seq and holds messages that arrive early until the gap fills, or `windowMs` of
 * responsive time passes (the missing seq may never come: its node died between COMMIT and
 * publish; a stalled event loop gets the window once more, see windowPassed) — then the held
 * ones go out in order. A seq below the expected one (later than the window) is delivered at
 * once: late beats lost. Everything else (seq 0 messages, chunks, membership) passes straight through.
 */
import type { CoreEvent } from '../core/events'

export interface SequencerOptions {
  /** how long an early message waits for the seqs before it */
  windowMs?: number
  /** channels remembered (least recently used forgotten first) */
  maxChannels?: number
}

type MessageEvent = Extract<CoreEvent, { type: 'message' }>

interface Lane {
  /** next seq to deliver; undefined = not known yet (first message seen on this channel is not seq 1) */
  next: number | undefined
  held: Map<number, MessageEvent>
  timer: ReturnType<typeof setTimeout> | undefined
  /** when the window's timer was set (performance.now()), and whether it was extended once */
  armedAt: number
  extended: boolean
}

export class ChannelSequencer {
  private readonly lanes = new Map<string, Lane>()
  private readonly windowMs: number
  private readonly maxChannels: number
  /** diagnostics: messages that waited for a gap, gaps given up on, messages that came after their window, windows extended after a stall */
  readonly counters = { held: 0, gapsSkipped: 0, late: 0, stallsWaited: 0 }

  constructor(
    private readonly deliver: (event: CoreEvent) => void,
    opts: SequencerOptions = {},
  ) {
    this.windowMs = opts.windowMs ?? 100
    this.maxChannels = opts.maxChannels ?? 100_000
  }

  push(event: CoreEvent): void {
    if (event.type !== 'message' || !(event.message.messageSeq > 0)) return this.deliver(event)
    const seq = event.message.messageSeq
    const key = `${event.message.channelType}:${event.message.channelId}`
    let lane = this.lanes.get(key)
    if (lane) {
      // Map order = least recently used first
      this.lanes.delete(key)
      this.lanes.set(key, lane)
    } else {
      // Unknown history: seq 1 has nothing before it; anything else waits a window for what may be in flight.
      lane = { next: seq === 1 ? 1 : undefined, held: new Map(), timer: undefined, armedAt: 0, extended: false }
      this.lanes.set(key, lane)
      this.evictOldest()
    }
    if (lane.next !== undefined && seq < lane.next) {
      this.counters.late++
      return this.deliver(event)
    }
    if (seq === lane.next && !lane.held.size) {
      lane.next = seq + 1
      return this.deliver(event)
    }
    lane.held.set(seq, event)
    this.counters.held++
    this.drain(lane)
    if (lane.held.size && !lane.timer) {
      lane.extended = false
      this.arm(lane)
    }
  }

  private arm(lane: Lane): void {
    lane.armedAt = performance.now()
    lane.timer = setTimeout(() => this.windowPassed(lane), this.windowMs)
    lane.timer.unref?.()
  }

  /**
   * A timer that fires well after its window means the event loop was stalled (a GC pause, a
   * starved CPU): timers run before the socket reads that waited behind them, so the missing seq
   * may be in a buffer not yet read. The window counts responsive time: extended once, then given up.
   */
  private windowPassed(lane: Lane): void {
    lane.timer = undefined
    const overdue = performance.now() - lane.armedAt - this.windowMs
    if (overdue > this.windowMs / 2 && !lane.extended && lane.held.size) {
      lane.extended = true
      this.counters.stallsWaited++
      return this.arm(lane)
    }
    this.giveUp(lane)
  }

  /** Delivers everything held now, in order (shutdown, tests). */
  flushAll(): void {
    for (const lane of this.lanes.values()) if (lane.held.size) this.giveUp(lane)
  }

  /** channels remembered and messages waiting (diagnostics) */
  stats(): { channels: number; waiting: number } {
    let waiting = 0
    for (const l of this.lanes.values()) waiting += l.held.size
    return { channels: this.lanes.size, waiting }
  }

  private drain(lane: Lane): void {
    if (lane.next === undefined) return
    let e: MessageEvent | undefined
    while ((e = lane.held.get(lane.next))) {
      lane.held.delete(lane.next)
      lane.next++
      this.deliver(e)
    }
    if (!lane.held.size && lane.timer) {
      clearTimeout(lane.timer)
      lane.timer = undefined
    }
  }

  /** The window passed: skip the gap, deliver what is held in seq order. */
  private giveUp(lane: Lane): void {
    if (lane.timer) clearTimeout(lane.timer)
    lane.timer = undefined
    if (!lane.held.size) return
    if (lane.next !== undefined) this.counters.gapsSkipped++
    const seqs = [...lane.held.keys()].sort((a, b) => a - b)
    for (const s of seqs) {
      const e = lane.held.get(s)!
      lane.held.delete(s)
      lane.next = s + 1
      this.deliver(e)
    }
  }

  private evictOldest(): void {
    while (this.lanes.size > this.maxChannels) {
      const [k, lane] = this.lanes.entries().next().value as [string, Lane]
      if (lane.held.size) this.giveUp(lane)
      this.lanes.delete(k)
    }
  }
}
