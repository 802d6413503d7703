/**
 * The WKProto side of a node: its live sessions (for device kicks), one ticker for every session's
 * timeouts and RECV re-delivery, and what sessions need (core, hub, log). One per AppContext, shared
 * by the WebSocket route and the TCP listener.
 */
import type { WkLogin } from '../../cluster/bus'
import type { AppContext } from '../../context'
import type { Core } from '../../core/core'
import type { Logger } from '../../log'
import { AttachClock, type AttachStamp, attachedBefore } from '../../realtime/attach-order'
import type { Hub } from '../../realtime/hub'
import { type WkSession, type WkTransport, WkSession as Session } from './session'

const TICK_MS = 250

export class WkProtoService {
  readonly core: Core
  readonly hub: Hub
  readonly log: Logger
  /** this node's id as the u64 CONNACK carries (v ≥ 4) */
  readonly nodeIdNumber: bigint
  private readonly byUid = new Map<string, Set<WkSession>>()
  private readonly all = new Set<WkSession>()
  private readonly ticker: ReturnType<typeof setInterval>

  private readonly cluster: AppContext['cluster']
  private readonly clock: AttachClock
  private readonly unsubscribeCluster: (() => void) | undefined

  constructor(ctx: Pick<AppContext, 'core' | 'hub' | 'log' | 'nodeId'> & Partial<Pick<AppContext, 'cluster'>>) {
    this.core = ctx.core
    this.hub = ctx.hub
    this.log = ctx.log
    this.nodeIdNumber = BigInt(Bun.hash.crc32(ctx.nodeId) >>> 0)
    this.ticker = setInterval(() => this.tick(), TICK_MS)
    this.ticker.unref?.()
    // A login on another node applies the same device rule to this node's (older) sessions.
    this.cluster = ctx.cluster
    this.clock = ctx.cluster?.clock ?? new AttachClock('')
    this.unsubscribeCluster = ctx.cluster?.onWkLogin((l) => this.kickOlder(l, (old) => attachedBefore(old.loggedIn, { at: l.at, node: l.origin })))
  }

  /** A new connection: the transport feeds it bytes/text and tells it when the socket closes. */
  open(transport: WkTransport, fixedDialect?: 'binary'): WkSession {
    const s = new Session(this, transport, fixedDialect)
    this.all.add(s)
    return s
  }

  /** Authenticated: findable for later device kicks. */
  register(s: WkSession): void {
    let set = this.byUid.get(s.uid)
    if (!set) this.byUid.set(s.uid, (set = new Set()))
    set.add(s)
  }

  forget(s: WkSession): void {
    this.all.delete(s)
    const set = this.byUid.get(s.uid)
    if (set?.delete(s) && !set.size) this.byUid.delete(s.uid)
  }

  /** when a login happens here: on the cluster's clock, so that logins order across nodes */
  loginStamp(): AttachStamp {
    return this.clock.stamp()
  }

  /**
   * Srv's device rule, same uid and device flag: a master device ends every older connection
   * (DISCONNECT 12 when it is another device, silently when the same device reconnects); a slave
   * device ends only older connections of its own device id. A login here outranks every other
   * registered session; one announced by another node only those that logged in before it
   * (attach-order.ts): of two logins racing on two nodes the later survives on both.
   */
  kickOlderDevices(newer: WkSession): void {
    const login: WkLogin = { uid: newer.uid, deviceFlag: newer.deviceFlag, deviceId: newer.deviceId, deviceLevel: newer.deviceLevel, at: newer.loggedIn.at }
    this.kickOlder(login, (old) => old !== newer)
    this.cluster?.announceWkLogin(login)
  }

  private kickOlder(login: WkLogin, outranks: (old: WkSession) => boolean): void {
    for (const old of [...(this.byUid.get(login.uid) ?? [])]) {
      if (old.deviceFlag !== login.deviceFlag || !outranks(old)) continue
      const sameDevice = old.deviceId !== '' && old.deviceId === login.deviceId
      if (login.deviceLevel === 1) old.kick(!sameDevice)
      else if (sameDevice) old.kick(false)
    }
  }

  /** live sessions (tests, metrics) */
  get size(): number {
    return this.all.size
  }

  private tick(): void {
    const now = Date.now()
    for (const s of this.all) {
      try {
        s.tick(now)
      } catch (err) {
        // one session's failure must not stop the others' timers
        this.log.warn('wkproto session tick failed', { uid: s.uid, error: err instanceof Error ? err.message : String(err) })
      }
    }
  }

  stop(): void {
    clearInterval(this.ticker)
    this.unsubscribeCluster?.()
    for (const s of [...this.all]) s.closeNow()
  }
}

const services = new WeakMap<object, WkProtoService>()

/** The node's service, created on first use and stopped with the node. */
export function wkprotoService(ctx: AppContext): WkProtoService {
  let s = services.get(ctx)
  if (!s) {
    const created = new WkProtoService(ctx)
    services.set(ctx, created)
    ctx.lifecycle.onStop('wkproto sessions', () => created.stop())
    s = created
  }
  return s
}
