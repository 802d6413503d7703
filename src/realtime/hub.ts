/**
 * The hub: who is connected here, which channels each connection follows, and the fan-out of
 * core events to them. Deliveries are driven by CoreEvents (local core, or a cluster bus calling
 * dispatch()), never by the request that caused them.
 *
 * Two delivery paths per channel:
 * - topic path: one Bun pub/sub topic per (format, channel[, viewer]); a message is encoded once
 *   per format (per party for person channels) and published once;
 * - callback path: an in-process set of connections whose deliver() is called (SSE, poll, WKProto).
 * No database read and no per-recipient encoding happens on the delivery path.
 */
import { personParties } from '../core/channel-id'
import type { Core } from '../core/core'
import type { CoreEvent } from '../core/events'
import { CHANNEL_PERSON, type ChannelKey, type Message } from '../core/types'
import type { Logger } from '../log'
import { AttachClock, type AttachStamp, attachedBefore } from './attach-order'
import type { CloseReason, Delivery, FrameFormat, HubConnection, OnlineConnection } from './types'

/** What the hub needs of Bun's Server: publishing to topics. Bound after listen(). */
export interface Publisher {
  publish(topic: string, data: string | Buffer): number
}

export interface HubOptions {
  core: Pick<Core, 'events' | 'channels'>
  log: Logger
  /** a socket whose unsent bytes pass this is cut off (slow consumer) */
  sendBufferLimit?: number
  /** how often every topic socket's buffer is checked, besides after each backpressured send */
  sweepIntervalMs?: number
  /** cluster: tells the other nodes a connection with a replace key attached here (see replacedElsewhere) */
  announceReplacement?: (r: { key: string; at: number }) => void
  /** cluster: stamps attach times so that they order across nodes (default: the wall clock) */
  clock?: AttachClock
}

const SEP = '\u0001'
const keyOf = (channelId: string, channelType: number) => `${channelType}${SEP}${channelId}`

interface Entry {
  conn: HubConnection
  /** channel keys this connection follows */
  channels: Set<string>
  /** while the initial channel list loads: keys removed meanwhile (the loaded list may be stale) */
  removedWhileLoading?: Set<string>
  detached: boolean
  /** presenceListener was told it came online (so it is told when it goes) */
  announced?: boolean
  /** when it attached (which of two connections with one replace key is older) */
  attached: AttachStamp
}

interface ChannelSubs {
  /** format name → number of topic connections of that format in the channel */
  formats: Map<string, number>
  topicEntries: Set<Entry>
  callbackEntries: Set<Entry>
  /** format → topic name (shared, non-per-viewer topics), built once */
  topics: Map<string, string>
}

export class Hub {
  private readonly entries = new Map<string, Entry>()
  private readonly byUid = new Map<string, Set<Entry>>()
  private readonly byReplaceKey = new Map<string, Entry>()
  /** a cluster's clock, or the wall clock of a node alone */
  private readonly clock: AttachClock
  private readonly channels = new Map<string, ChannelSubs>()
  private readonly formats = new Map<string, FrameFormat>()
  private publisher: Publisher | undefined
  private readonly sweepTimer: ReturnType<typeof setInterval>
  private readonly unsubscribeEvents: () => void
  /** running totals for metrics: topic publishes, callback deliveries, connections cut off as slow */
  readonly counters = { publishes: 0, callbackDeliveries: 0, slowConsumers: 0 }
  /** told when a connection is online (subscriptions in place) and when it goes (webhooks); must not throw */
  presenceListener: ((conn: HubConnection, online: boolean) => void) | undefined
  /** bytes a consumer may fall behind before it is cut off (settable at run time) */
  sendBufferLimit: number

  constructor(private readonly opts: HubOptions) {
    this.clock = opts.clock ?? new AttachClock('')
    this.sendBufferLimit = opts.sendBufferLimit ?? 4 * 1024 * 1024
    this.unsubscribeEvents = opts.core.events.on((e) => this.dispatch(e))
    this.sweepTimer = setInterval(() => this.sweep(), opts.sweepIntervalMs ?? 1000)
    this.sweepTimer.unref?.()
  }

  /** Bun's server, once listening (topic path). Before that, topic connections cannot exist. */
  bindServer(publisher: Publisher): void {
    this.publisher = publisher
  }

  registerFormat(format: FrameFormat): void {
    this.formats.set(format.name, format)
  }

  /**
   * Registers a live connection and subscribes it to every channel its user belongs to.
   * Resolves when the subscriptions are in place; deliveries may start before that.
   */
  async attach(conn: HubConnection): Promise<void> {
    if (conn.topic && !this.formats.has(conn.topic.format)) throw new Error(`unknown frame format ${conn.topic.format}`)
    const attached = this.clock.stamp()
    if (conn.replaceKey) {
      const older = this.byReplaceKey.get(conn.replaceKey)
      if (older) this.end(older, 'replaced')
      this.opts.announceReplacement?.({ key: conn.replaceKey, at: attached.at })
    }
    const entry: Entry = { conn, channels: new Set(), removedWhileLoading: new Set(), detached: false, attached }
    this.entries.set(conn.id, entry)
    let set = this.byUid.get(conn.uid)
    if (!set) this.byUid.set(conn.uid, (set = new Set()))
    set.add(entry)
    if (conn.replaceKey) this.byReplaceKey.set(conn.replaceKey, entry)
    try {
      const keys = await this.opts.core.channels.channelsOf(conn.uid)
      if (entry.detached) return
      for (const k of keys) {
        const key = keyOf(k.channelId, k.channelType)
        if (!entry.removedWhileLoading!.has(key)) this.subscribe(entry, key)
      }
    } finally {
      entry.removedWhileLoading = undefined
    }
    if (!entry.detached && this.presenceListener) {
      entry.announced = true
      this.presenceListener(conn, true)
    }
  }

  /** Forgets a connection (its transport closed). Idempotent. */
  detach(conn: HubConnection | string): void {
    const entry = this.entries.get(typeof conn === 'string' ? conn : conn.id)
    if (entry && (typeof conn === 'string' || entry.conn === conn)) this.remove(entry)
  }

  /** Live connections of these uids on this node, listed once their subscriptions are in place. */
  online(uids: string[]): OnlineConnection[] {
    const out: OnlineConnection[] = []
    for (const uid of uids) {
      for (const e of this.byUid.get(uid) ?? []) {
        if (e.removedWhileLoading) continue
        out.push({ uid, deviceFlag: e.conn.deviceFlag, transport: e.conn.transport, connectionId: e.conn.id })
      }
    }
    return out
  }

  /** PresenceService (src/core/presence.ts): one entry per live connection on this node */
  async onlineStatus(uids: string[]): Promise<{ uid: string; deviceFlag: number; online: 1 }[]> {
    return this.online(uids).map((c) => ({ uid: c.uid, deviceFlag: c.deviceFlag, online: 1 as const }))
  }

  /** Ends the uid's connections that match; returns how many. */
  kick(uid: string, match: (conn: HubConnection) => boolean = () => true, reason: CloseReason = 'kicked'): number {
    let n = 0
    for (const e of [...(this.byUid.get(uid) ?? [])]) {
      if (match(e.conn)) {
        this.end(e, reason)
        n++
      }
    }
    return n
  }

  /** Connections per transport (metrics). */
  stats(): Record<string, number> {
    const out: Record<string, number> = {}
    for (const e of this.entries.values()) out[e.conn.transport] = (out[e.conn.transport] ?? 0) + 1
    return out
  }

  /** The channels a live connection currently follows (tests, diagnostics). */
  channelsOfConnection(connectionId: string): ChannelKey[] {
    const e = this.entries.get(connectionId)
    return [...(e?.channels ?? [])].map((k) => {
      const i = k.indexOf(SEP)
      return { channelType: Number(k.slice(0, i)), channelId: k.slice(i + 1) }
    })
  }

  /** Entry point of every real-time event: the local core, or a cluster bus with remote events. */
  dispatch(event: CoreEvent): void {
    try {
      switch (event.type) {
        case 'message':
          return this.deliverMessage(event.message, event.to, event.originConnection)
        case 'stream_chunk':
          return this.deliverChunk(event)
        case 'members':
          return this.applyMembers(event.channel, event.added, event.removed)
        case 'channel_deleted':
          return this.dropChannel(keyOf(event.channel.channelId, event.channel.channelType))
        case 'kick_devices':
          this.kick(event.uid, (c) => c.auth === 'user_token' && (event.deviceFlag === -1 || c.deviceFlag === event.deviceFlag))
          return
      }
    } catch (err) {
      this.opts.log.error('real-time dispatch failed', { event: event.type, error: err instanceof Error ? err.message : String(err) })
    }
  }

  /** Ends every connection (shutdown). */
  stop(): void {
    clearInterval(this.sweepTimer)
    this.unsubscribeEvents()
    for (const e of [...this.entries.values()]) this.end(e, 'shutdown')
  }

  // ── delivery ────────────────────────────────────────────────────────────────────────────

  private deliverMessage(message: Message, to: string[] | undefined, originConnection: string | undefined): void {
    const delivery = new MessageDelivery(this.formats, message, originConnection)
    const key = keyOf(message.channelId, message.channelType)
    if (to) {
      // Scoped (subscriber-only or command) message: straight to the named users' connections.
      for (const uid of to) {
        for (const e of [...(this.byUid.get(uid) ?? [])]) this.sendDirect(e, delivery, originConnection)
      }
      return
    }
    if (message.channelType === CHANNEL_PERSON) this.ensurePartiesFollow(key, message.channelId)
    const subs = this.channels.get(key)
    if (!subs) return
    if (subs.formats.size && this.publisher) {
      let backpressured = false
      for (const [name, count] of subs.formats) {
        if (count <= 0) continue
        const fmt = this.formats.get(name)!
        if (fmt.perViewer(message.channelType)) {
          for (const viewer of this.viewersOf(subs, name)) {
            if (this.publishTopic(topicOf(name, key, viewer), delivery.frame(name, viewer)) <= 0) backpressured = true
          }
        } else if (this.publishTopic(subs.topics.get(name) ?? this.cacheTopic(subs, name, key), delivery.frame(name, '')) <= 0) backpressured = true
      }
      // publish() reports the worst subscriber: find and cut off the ones past the limit (never re-publish).
      if (backpressured) for (const e of [...subs.topicEntries]) this.checkBuffer(e)
    }
    if (subs.callbackEntries.size) {
      for (const e of [...subs.callbackEntries]) {
        if (e.conn.id !== originConnection) this.callDeliver(e, delivery)
      }
    }
  }

  private cacheTopic(subs: ChannelSubs, format: string, key: string): string {
    const topic = topicOf(format, key, '')
    subs.topics.set(format, topic)
    return topic
  }

  private deliverChunk(chunk: Extract<CoreEvent, { type: 'stream_chunk' }>): void {
    const key = keyOf(chunk.channel.channelId, chunk.channel.channelType)
    if (chunk.channel.channelType === CHANNEL_PERSON) this.ensurePartiesFollow(key, chunk.channel.channelId)
    const subs = this.channels.get(key)
    if (!subs) return
    const delivery: Delivery = { type: 'stream_chunk', chunk }
    for (const e of [...subs.callbackEntries]) this.callDeliver(e, delivery)
  }

  private sendDirect(e: Entry, delivery: Delivery, originConnection: string | undefined): void {
    if (e.detached) return
    const { conn } = e
    if (conn.topic && delivery.type === 'message') {
      const fmt = this.formats.get(conn.topic.format)!
      const viewer = fmt.perViewer(delivery.message.channelType) ? conn.uid : ''
      const r = conn.topic.socket.send(delivery.frame(fmt.name, viewer))
      if (r === 0) {
        this.counters.slowConsumers++
        this.end(e, 'slow_consumer')
      }
      else if (r < 0) this.checkBuffer(e)
    } else if (conn.deliver && conn.id !== originConnection) {
      this.callDeliver(e, delivery)
    }
  }

  private publishTopic(topic: string, frame: string | Buffer): number {
    this.counters.publishes++
    return this.publisher!.publish(topic, frame)
  }

  private callDeliver(e: Entry, delivery: Delivery): void {
    this.counters.callbackDeliveries++
    try {
      e.conn.deliver!(delivery)
    } catch (err) {
      this.opts.log.warn('connection deliver failed', { transport: e.conn.transport, error: err instanceof Error ? err.message : String(err) })
    }
  }

  /** uids that follow a person channel in a per-viewer format */
  private viewersOf(subs: ChannelSubs, format: string): Set<string> {
    const viewers = new Set<string>()
    for (const e of subs.topicEntries) if (e.conn.topic!.format === format) viewers.add(e.conn.uid)
    return viewers
  }

  /** A person channel may be created by its first message: make its parties' live connections follow it. */
  private ensurePartiesFollow(key: string, storedId: string): void {
    if (!storedId.includes('@')) return
    for (const uid of personParties(storedId)) {
      for (const e of this.byUid.get(uid) ?? []) if (!e.channels.has(key)) this.subscribe(e, key)
    }
  }

  // ── membership ──────────────────────────────────────────────────────────────────────────

  private applyMembers(channel: ChannelKey, added: string[], removed: string[]): void {
    const key = keyOf(channel.channelId, channel.channelType)
    for (const uid of added) {
      for (const e of this.byUid.get(uid) ?? []) {
        e.removedWhileLoading?.delete(key)
        this.subscribe(e, key)
      }
    }
    for (const uid of removed) {
      for (const e of this.byUid.get(uid) ?? []) {
        e.removedWhileLoading?.add(key)
        this.unsubscribe(e, key)
      }
    }
  }

  private dropChannel(key: string): void {
    const subs = this.channels.get(key)
    for (const e of this.entries.values()) e.removedWhileLoading?.add(key)
    if (!subs) return
    for (const e of [...subs.topicEntries, ...subs.callbackEntries]) this.unsubscribe(e, key)
  }

  private subscribe(e: Entry, key: string): void {
    if (e.detached || e.channels.has(key)) return
    e.channels.add(key)
    let subs = this.channels.get(key)
    if (!subs) this.channels.set(key, (subs = { formats: new Map(), topicEntries: new Set(), callbackEntries: new Set(), topics: new Map() }))
    const { topic } = e.conn
    if (topic) {
      subs.topicEntries.add(e)
      subs.formats.set(topic.format, (subs.formats.get(topic.format) ?? 0) + 1)
      try {
        topic.socket.subscribe(this.topicFor(e, key))
      } catch {
        // socket already closed: its close handler detaches it
      }
    }
    if (e.conn.deliver) subs.callbackEntries.add(e)
  }

  private unsubscribe(e: Entry, key: string): void {
    if (!e.channels.delete(key)) return
    const subs = this.channels.get(key)
    if (!subs) return
    const { topic } = e.conn
    if (topic && subs.topicEntries.delete(e)) {
      const n = (subs.formats.get(topic.format) ?? 1) - 1
      if (n > 0) subs.formats.set(topic.format, n)
      else subs.formats.delete(topic.format)
      try {
        topic.socket.unsubscribe(this.topicFor(e, key))
      } catch {
        // socket already closed
      }
    }
    subs.callbackEntries.delete(e)
    if (!subs.topicEntries.size && !subs.callbackEntries.size) this.channels.delete(key)
  }

  private topicFor(e: Entry, key: string): string {
    const format = e.conn.topic!.format
    const channelType = Number(key.slice(0, key.indexOf(SEP)))
    return topicOf(format, key, this.formats.get(format)!.perViewer(channelType) ? e.conn.uid : '')
  }

  // ── ending connections ──────────────────────────────────────────────────────────────────

  /**
   * A connection with this replace key attached on node `origin` at `at`: the local one ends as
   * replaced if it attached earlier (see attach-order.ts). Of two such connections the later
   * survives on both nodes, whichever notice arrives first.
   */
  replacedElsewhere(key: string, at: number, origin: string): void {
    const local = this.byReplaceKey.get(key)
    if (local && attachedBefore(local.attached, { at, node: origin })) this.end(local, 'replaced')
  }

  private remove(e: Entry): void {
    if (e.detached) return
    e.detached = true
    for (const key of [...e.channels]) this.unsubscribe(e, key)
    this.entries.delete(e.conn.id)
    const set = this.byUid.get(e.conn.uid)
    set?.delete(e)
    if (set && !set.size) this.byUid.delete(e.conn.uid)
    if (e.conn.replaceKey && this.byReplaceKey.get(e.conn.replaceKey) === e) this.byReplaceKey.delete(e.conn.replaceKey)
    if (e.announced) this.presenceListener?.(e.conn, false)
  }

  /** Detach first (delivery stops at once), then let the transport close. */
  private end(e: Entry, reason: CloseReason): void {
    if (e.detached) return
    this.remove(e)
    try {
      e.conn.close(reason)
    } catch (err) {
      this.opts.log.warn('connection close failed', { transport: e.conn.transport, error: err instanceof Error ? err.message : String(err) })
    }
  }

  private checkBuffer(e: Entry): void {
    if (e.detached || !e.conn.topic) return
    let buffered: number
    try {
      buffered = e.conn.topic.socket.getBufferedAmount()
    } catch {
      return
    }
    if (buffered > this.sendBufferLimit) {
      this.opts.log.warn('slow consumer cut off', { uid: e.conn.uid, transport: e.conn.transport, buffered })
      this.counters.slowConsumers++
      this.end(e, 'slow_consumer')
    }
  }

  private sweep(): void {
    for (const e of [...this.entries.values()]) this.checkBuffer(e)
  }
}

/**
 * A message on its way out: frames are encoded on first use and shared by every receiver. Most
 * messages need one frame (one format, no viewer), kept in fields; a Map only for the rest.
 */
class MessageDelivery {
  readonly type = 'message' as const
  private firstFormat: string | undefined
  private firstViewer = ''
  private firstFrame: string | Buffer = ''
  private more: Map<string, string | Buffer> | undefined

  constructor(
    private readonly formats: Map<string, FrameFormat>,
    readonly message: Message,
    readonly originConnection: string | undefined,
  ) {}

  frame(format: string, viewer: string): string | Buffer {
    if (format === this.firstFormat && viewer === this.firstViewer) return this.firstFrame
    const k = format + SEP + viewer
    const cached = this.more?.get(k)
    if (cached !== undefined) return cached
    const fmt = this.formats.get(format)
    if (!fmt) throw new Error(`unknown frame format ${format}`)
    const f = fmt.encode(this.message, viewer)
    if (this.firstFormat === undefined) {
      this.firstFormat = format
      this.firstViewer = viewer
      this.firstFrame = f
    } else (this.more ??= new Map()).set(k, f)
    return f
  }
}

function topicOf(format: string, key: string, viewer: string): string {
  return viewer ? format + SEP + key + SEP + viewer : format + SEP + key
}
