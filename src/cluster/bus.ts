/**
 * The cluster bus (SPEC §6): several nodes on one Postgres and one NATS server.
 *
 * - Every core event of this node is published on `<cluster>.ev` with this node's origin id; each
 *   other node invalidates its channel cache for membership/channel events and dispatches the
 *   event into its hub. A node never hears its own events back (NATS noEcho, plus an origin check).
 * - Per-channel seq order: one connection per node publishes in emit order (NATS keeps one
 *   publisher's order), and a ChannelSequencer in front of the hub merges local and remote
 *   messages back into seq order (seqs are assigned under the database lock; two origins interleave).
 * - Presence: `<cluster>.presence` is a request every other node answers with its local
 *   connections; the asker waits for the live peers it knows (heartbeats on `<cluster>.ctl`) or a
 *   short timeout, whichever comes first.
 * - Notices on `<cluster>.ctl`: heartbeats, WKProto logins (the device rule across nodes), and
 *   quick-im attaches with a replace key (same session + platform replaces across nodes).
 * A lost NATS connection is logged and retried forever; local connections keep being served.
 */
import { randomUUID } from 'node:crypto'
import { connect, type NatsConnection, type Subscription } from '@nats-io/transport-node'
import type { Core } from '../core/core'
import { type CoreEvent, CoreEvents } from '../core/events'
import type { OnlineDevice, PresenceService } from '../core/presence'
import type { Logger } from '../log'
import { AttachClock } from '../realtime/attach-order'
import { ChannelSequencer } from './sequencer'
import * as wire from './wire'

export type WkLogin = Omit<Extract<wire.Notice, { kind: 'wk_login' }>, 'kind' | 'origin'>
export type Replacement = Omit<Extract<wire.Notice, { kind: 'replace' }>, 'kind' | 'origin'>
/** what another node announced, and which node (its `origin`) */
export type Heard<T> = T & { origin: string }

/** adds a handler to a list; returns its remover */
function addHandler<T>(list: ((x: T) => void)[], handler: (x: T) => void): () => void {
  list.push(handler)
  return () => {
    const i = list.indexOf(handler)
    if (i >= 0) list.splice(i, 1)
  }
}

export interface ClusterBusOptions {
  natsUrl: string
  /** subject prefix: nodes with the same name on one NATS server form one cluster */
  clusterName: string
  nodeId: string
  core: Pick<Core, 'events' | 'channels'>
  log: Logger
  /** how long an early message waits for the seqs before it (ChannelSequencer) */
  reorderWindowMs?: number
  /** how long a presence query waits for the other nodes */
  presenceTimeoutMs?: number
  heartbeatMs?: number
  /** bytes of events kept while NATS is away */
  outboxMaxBytes?: number
}

const errText = (err: unknown) => (err instanceof Error ? err.message : String(err))

export class ClusterBus implements PresenceService {
  /** what the hub subscribes to: this node's and other nodes' events, per channel in seq order */
  readonly events = new CoreEvents()
  /** this process's id on the bus (node id + a random part: two nodes may share a node id by mistake) */
  readonly origin: string
  readonly sequencer: ChannelSequencer
  /** diagnostics and metrics */
  readonly counters = { published: 0, received: 0, publishErrors: 0, badFrames: 0, outboxDropped: 0 }
  private readonly subjects: { ev: string; ctl: string; presence: string }
  private readonly peers = new Map<string, number>()
  private readonly subs: Subscription[] = []
  private readonly loginHandlers: ((login: Heard<WkLogin>) => void)[] = []
  private readonly replaceHandlers: ((r: Heard<Replacement>) => void)[] = []
  /** stamps logins and attaches so that they order across nodes (it hears every announced time) */
  readonly clock: AttachClock
  private local: PresenceService | undefined
  private unsubscribeCore: (() => void) | undefined
  private heartbeat: ReturnType<typeof setInterval> | undefined
  private stopped = false
  /** false while NATS is away: events wait in the outbox meanwhile */
  connected = true
  /**
   * Events and notices published while NATS is away, sent on reconnect in order (the NATS client
   * drops its own pending buffer when it reconnects). Bounded: past the limit they are dropped.
   */
  private outbox: { subject: string; data: Uint8Array }[] = []
  private outboxBytes = 0

  private constructor(
    private readonly nc: NatsConnection,
    private readonly opts: ClusterBusOptions,
  ) {
    this.origin = `${opts.nodeId}#${randomUUID().slice(0, 8)}`
    this.clock = new AttachClock(this.origin)
    const p = opts.clusterName
    this.subjects = { ev: `${p}.ev`, ctl: `${p}.ctl`, presence: `${p}.presence` }
    this.sequencer = new ChannelSequencer((e) => this.events.emit(e), { windowMs: opts.reorderWindowMs })
  }

  /** Connects (a NATS server unreachable at start-up is an error), then follows core events. */
  static async start(opts: ClusterBusOptions): Promise<ClusterBus> {
    let nc: NatsConnection
    try {
      nc = await connect({
        servers: opts.natsUrl,
        name: `bunim-${opts.nodeId}`,
        noEcho: true,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 1000,
        timeout: 5000,
      })
    } catch (err) {
      throw new Error(`cannot reach NATS at ${opts.natsUrl}: ${errText(err)}`)
    }
    const bus = new ClusterBus(nc, opts)
    bus.listen()
    return bus
  }

  /** The node's own presence (the hub): answers other nodes' queries and is part of every answer here. */
  setLocalPresence(local: PresenceService): void {
    this.local = local
  }

  /** Nodes heard from recently (not counting this one). */
  livePeers(): string[] {
    const now = Date.now()
    const ttl = (this.opts.heartbeatMs ?? 1000) * 3.5
    return [...this.peers].filter(([, at]) => now - at < ttl).map(([id]) => id)
  }

  // ── presence ───────────────────────────────────────────────────────────────────────────────

  async onlineStatus(uids: string[]): Promise<OnlineDevice[]> {
    const out = this.local ? await this.local.onlineStatus(uids) : []
    const peers = this.livePeers().length
    if (!peers || !uids.length || this.nc.isClosed()) return out
    try {
      const replies = await this.nc.requestMany(this.subjects.presence, wire.encodePresenceQuery({ origin: this.origin, uids }), {
        strategy: 'count',
        maxMessages: peers,
        maxWait: this.opts.presenceTimeoutMs ?? 300,
      })
      for await (const m of replies) {
        try {
          out.push(...wire.decodePresenceAnswer(m.data).online)
        } catch (err) {
          this.counters.badFrames++
          this.opts.log.warn('cluster presence answer unreadable', { error: errText(err) })
        }
      }
    } catch (err) {
      // a node that does not answer in time is treated as having nobody online; never fail the request
      this.opts.log.warn('cluster presence query incomplete', { error: errText(err) })
    }
    return out
  }

  // ── WKProto device rule across nodes ───────────────────────────────────────────────────────

  announceWkLogin(login: WkLogin): void {
    this.publish(this.subjects.ctl, wire.encodeNotice({ kind: 'wk_login', origin: this.origin, ...login }))
  }

  onWkLogin(handler: (login: Heard<WkLogin>) => void): () => void {
    return addHandler(this.loginHandlers, handler)
  }

  // ── quick-im's same-session-and-platform replacement across nodes ─────────────────────────

  announceReplacement(r: Replacement): void {
    this.publish(this.subjects.ctl, wire.encodeNotice({ kind: 'replace', origin: this.origin, ...r }))
  }

  onReplacement(handler: (r: Heard<Replacement>) => void): () => void {
    return addHandler(this.replaceHandlers, handler)
  }

  // ── lifecycle ──────────────────────────────────────────────────────────────────────────────

  /** Says goodbye, delivers what waits for a gap, and drains the connection (bounded). */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    clearInterval(this.heartbeat)
    this.unsubscribeCore?.()
    this.publish(this.subjects.ctl, wire.encodeNotice({ kind: 'bye', origin: this.origin }))
    this.sequencer.flushAll()
    const drained = this.nc.drain().catch((err) => this.opts.log.warn('cluster bus drain failed', { error: errText(err) }))
    const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 2000).unref?.())
    if ((await Promise.race([drained, timeout])) === 'timeout') await this.nc.close().catch(() => {})
  }

  private listen(): void {
    const { log } = this.opts
    this.subs.push(this.nc.subscribe(this.subjects.ev, { callback: (err, m) => (err ? log.warn('cluster event subscription error', { error: errText(err) }) : this.onRemoteEvent(m.data)) }))
    this.subs.push(this.nc.subscribe(this.subjects.ctl, { callback: (err, m) => (err ? log.warn('cluster notice subscription error', { error: errText(err) }) : this.onNotice(m.data)) }))
    this.subs.push(
      this.nc.subscribe(this.subjects.presence, {
        callback: (err, m) => {
          if (err) return log.warn('cluster presence subscription error', { error: errText(err) })
          this.answerPresence(m.data).then(
            (answer) => answer && m.respond(answer),
            (e) => log.warn('cluster presence answer failed', { error: errText(e) }),
          )
        },
      }),
    )
    this.unsubscribeCore = this.opts.core.events.on((e) => this.onLocalEvent(e))
    this.sayHello()
    this.heartbeat = setInterval(() => this.sayHello(), this.opts.heartbeatMs ?? 1000)
    this.heartbeat.unref?.()
    this.watchStatus()
  }

  private onLocalEvent(event: CoreEvent): void {
    this.publish(this.subjects.ev, wire.encodeEvent(this.origin, event))
    this.sequencer.push(event)
  }

  private onRemoteEvent(data: Uint8Array): void {
    let envelope: wire.EventEnvelope
    try {
      envelope = wire.decodeEvent(data)
    } catch (err) {
      this.counters.badFrames++
      this.opts.log.warn('cluster event unreadable', { error: errText(err) })
      return
    }
    if (envelope.origin === this.origin) return
    this.counters.received++
    const e = envelope.event
    // The origin node already refreshed its own cache; ours must not serve the old members or rules.
    if (e.type === 'members' || e.type === 'channel_deleted' || e.type === 'channel_changed') this.opts.core.channels.invalidate(e.channel)
    this.sequencer.push(e)
  }

  private onNotice(data: Uint8Array): void {
    let n: wire.Notice
    try {
      n = wire.decodeNotice(data)
    } catch (err) {
      this.counters.badFrames++
      this.opts.log.warn('cluster notice unreadable', { error: errText(err) })
      return
    }
    if (n.origin === this.origin) return
    switch (n.kind) {
      case 'hello': {
        const known = this.livePeers().includes(n.origin)
        this.peers.set(n.origin, Date.now())
        if (!known) this.sayHello() // a newcomer learns about us at once, not at our next heartbeat
        return
      }
      case 'bye':
        this.peers.delete(n.origin)
        return
      case 'wk_login': {
        const { uid, deviceFlag, deviceId, deviceLevel, origin } = n
        // a node from before login times were announced: its login outranks every session, as it did then
        const at = typeof n.at === 'number' ? n.at : Infinity
        this.clock.observe(at)
        if (typeof uid === 'string') this.runHandlers(n.kind, this.loginHandlers, { uid, deviceFlag, deviceId, deviceLevel, at, origin })
        return
      }
      case 'replace':
        if (typeof n.key !== 'string' || typeof n.at !== 'number') return
        this.clock.observe(n.at)
        this.runHandlers(n.kind, this.replaceHandlers, { key: n.key, at: n.at, origin: n.origin })
        return
    }
  }

  private runHandlers<T>(kind: string, handlers: ((x: T) => void)[], x: T): void {
    for (const h of [...handlers]) {
      try {
        h(x)
      } catch (err) {
        this.opts.log.error(`cluster ${kind} handler failed`, { error: errText(err) })
      }
    }
  }

  private async answerPresence(data: Uint8Array): Promise<Uint8Array | undefined> {
    const q = wire.decodePresenceQuery(data)
    if (q.origin === this.origin) return undefined
    const online = this.local ? await this.local.onlineStatus(q.uids) : []
    return wire.encodePresenceAnswer({ origin: this.origin, online })
  }

  private sayHello(): void {
    if (this.connected) this.publish(this.subjects.ctl, wire.encodeNotice({ kind: 'hello', origin: this.origin }))
  }

  /** Never throws: while NATS is away, into the outbox (bounded); a closed connection drops. */
  private publish(subject: string, data: Uint8Array): void {
    if (!this.connected && !this.stopped) {
      if (this.outboxBytes + data.length > (this.opts.outboxMaxBytes ?? 16 * 1024 * 1024)) {
        if (this.counters.outboxDropped++ === 0) this.opts.log.error('cluster outbox full while NATS is away: dropping events (other nodes miss them live)')
        return
      }
      this.outbox.push({ subject, data })
      this.outboxBytes += data.length
      return
    }
    try {
      this.nc.publish(subject, data)
      this.counters.published++
    } catch (err) {
      this.counters.publishErrors++
      if (this.counters.publishErrors === 1 || this.counters.publishErrors % 1000 === 0)
        this.opts.log.error('cluster publish failed', { subject, failures: this.counters.publishErrors, error: errText(err) })
    }
  }

  private flushOutbox(): void {
    const waiting = this.outbox
    this.outbox = []
    this.outboxBytes = 0
    this.connected = true
    for (const m of waiting) this.publish(m.subject, m.data)
    if (waiting.length) this.opts.log.info('cluster outbox sent after reconnect', { events: waiting.length, dropped: this.counters.outboxDropped })
    this.counters.outboxDropped = 0
  }

  private watchStatus(): void {
    const { log } = this.opts
    ;(async () => {
      for await (const s of this.nc.status()) {
        if (s.type === 'disconnect') this.connected = false
        if (s.type === 'reconnect') this.flushOutbox()
        if (s.type === 'disconnect') log.warn('cluster bus disconnected from NATS; serving local connections, reconnecting', { server: s.server })
        else if (s.type === 'reconnect') {
          log.info('cluster bus reconnected to NATS', { server: s.server })
          this.sayHello()
        } else if (s.type === 'error') log.warn('cluster bus NATS error', { error: errText(s.error) })
        else if (s.type === 'slowConsumer') log.warn('cluster bus slow consumer: NATS dropped events for this node', { pending: s.pending })
      }
    })().catch((err) => log.warn('cluster bus status watch ended', { error: errText(err) }))
    this.nc.closed().then((err) => {
      if (err && !this.stopped) log.error('cluster bus connection closed', { error: errText(err) })
    })
  }
}
