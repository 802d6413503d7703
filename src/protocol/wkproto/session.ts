/**
 * One WKProto connection, whatever carries it (WebSocket binary, WebSocket JSON-RPC, TCP):
 * CONNECT (token, ban, key exchange, device kicks), SEND → core → SENDACK after COMMIT, RECV built
 * for this connection (its own AES key) from hub deliveries, RECVACK with bounded re-delivery,
 * PING/PONG, DISCONNECT, idle timeouts. Never throws into its transport.
 */
import { CHANNEL_PERSON, type Message } from '../../core/types'
import { isValidUid, viewedChannelId } from '../../core/channel-id'
import type { AttachStamp } from '../../realtime/attach-order'
import type { CloseReason, Delivery, HubConnection } from '../../realtime/types'
import type { CoreEvent } from '../../core/events'
import { decodePacket, encodePacket } from './codec'
import { decryptPayload, encryptPayload, msgKeyOf, recvVerifyString, sendVerifyString, serverHandshake, type SessionKeys } from './crypto'
import { FrameSplitter } from './frame-splitter'
import * as rpc from './jsonrpc'
import { type ConnectPacket, type Packet, PacketType, PROTO_VERSION_MAX, type RecvPacket, type SendPacket, Setting } from './packets'
import { Reason } from './reason-codes'
import { sendReasonOf } from './send-reasons'
import type { WkProtoService } from './service'

/** What a session needs from its socket. */
export interface WkTransport {
  readonly name: 'wkproto-ws' | 'wkproto-tcp'
  /** false when the bytes could not be queued (the transport then closes itself) */
  sendBinary(frame: Uint8Array): boolean
  sendText(text: string): boolean
  /** graceful close after queued bytes */
  close(): void
}

/** Timings (ms) and bounds; tests may shorten them at run time. */
export const wkLimits = {
  /** CONNECT must arrive within this (Srv: 4 s) */
  authTimeoutMs: 4_000,
  /** no packet for this long after CONNECT → close (SDK pings every 60 s; Srv: 3 min) */
  idleTimeoutMs: 180_000,
  /** kicked connections get DISCONNECT, then the socket closes after this (Srv: 2 s) */
  kickCloseMs: 2_000,
  /** un-acked RECV is sent again after this */
  recvRetryMs: 15_000,
  /** and at most this many more times */
  recvRetryMax: 3,
  /** un-acked RECVs remembered per connection (oldest forgotten beyond) */
  recvPendingMax: 1_000,
  /** SENDs awaiting their COMMIT per connection; more → SENDACK RateLimit */
  sendInflightMax: 10_000,
  /** frames buffered while CONNECT is being checked */
  preAuthQueueMax: 64,
}

type State = 'new' | 'authenticating' | 'open' | 'closing' | 'closed'

/** The shared Message, not this connection's encrypted frame: memory per message, not per receiver. */
interface PendingRecv {
  message: Message
  sentAt: number
  attempts: number
}

let sessionCounter = 0

export class WkSession {
  readonly id = `wk-${process.pid}-${++sessionCounter}`
  private state: State = 'new'
  private dialect: 'binary' | 'jsonrpc' | undefined
  version = 2
  uid = ''
  deviceFlag = 0
  deviceId = ''
  /** when CONNACK success was written (service.loginStamp): orders logins across nodes */
  loggedIn: AttachStamp = { at: 0, node: '' }
  deviceLevel = 0
  private keys: SessionKeys | undefined
  private readonly splitter = new FrameSplitter()
  private preAuth: (() => void)[] = []
  private readonly openedAt = Date.now()
  private lastActivity = Date.now()
  private readonly pendingRecv = new Map<number, PendingRecv>()
  /** in-flight SENDs by channel + clientMsgNo: a resend joins the first one's commit */
  private readonly inflight = new Map<string, Promise<{ messageId: number; messageSeq: number }>>()
  private inflightCount = 0
  private hubConn: HubConnection | undefined
  private closeTimer: ReturnType<typeof setTimeout> | undefined
  private subChain: Promise<void> = Promise.resolve()

  constructor(
    private readonly service: WkProtoService,
    readonly transport: WkTransport,
    /** TCP speaks only binary WKProto; a WebSocket decides on its first message */
    fixedDialect?: 'binary',
  ) {
    this.dialect = fixedDialect
  }

  get isOpen(): boolean {
    return this.state === 'open'
  }

  // ── input ──────────────────────────────────────────────────────────────────────────────

  onBinary(chunk: Uint8Array): void {
    if (this.state === 'closed' || this.state === 'closing') return
    this.dialect ??= 'binary'
    if (this.dialect !== 'binary') return this.abort('binary frame on a JSON-RPC connection')
    this.lastActivity = Date.now()
    const { frames, error } = this.splitter.push(chunk)
    for (const frame of frames) if (!this.guarded(() => this.onFrame(frame))) return
    if (error) this.abort(error)
  }

  onText(text: string): void {
    if (this.state === 'closed' || this.state === 'closing') return
    if (this.dialect === undefined) {
      if (!text.trimStart().startsWith('{')) return this.abort('first text frame is not JSON-RPC')
      this.dialect = 'jsonrpc'
    }
    if (this.dialect !== 'jsonrpc') return this.abort('text frame on a binary connection')
    this.lastActivity = Date.now()
    this.guarded(() => this.onRpc(text))
  }

  /**
   * Runs one packet's handling; a bug that throws ends this connection (logged), never the
   * socket callback: the session's state could be half-updated, so it is not trusted further.
   */
  private guarded(handle: () => void): boolean {
    try {
      handle()
      return true
    } catch (err) {
      this.service.log.error('wkproto packet handling failed', { uid: this.uid, error: err instanceof Error ? err.message : String(err) })
      this.closeNow()
      return false
    }
  }

  /** the socket is gone */
  onTransportClosed(): void {
    if (this.state === 'closed') return
    this.state = 'closed'
    clearTimeout(this.closeTimer)
    if (this.hubConn) this.service.hub.detach(this.hubConn)
    this.service.forget(this)
    this.pendingRecv.clear()
  }

  private onFrame(frame: Uint8Array): void {
    if (this.state === 'authenticating') {
      if (this.preAuth.length >= wkLimits.preAuthQueueMax) return this.abort('too many packets before CONNACK')
      this.preAuth.push(() => this.onFrame(frame))
      return
    }
    const r = decodePacket(frame, this.version)
    if (!r.ok) return this.abort(r.error)
    const p = r.packet
    if (this.state === 'new') {
      if (p.type !== PacketType.CONNECT) return this.abort('first packet is not CONNECT')
      void this.connect(p)
      return
    }
    if (this.state !== 'open') return
    switch (p.type) {
      case PacketType.SEND:
        return this.onSend(p)
      case PacketType.RECVACK:
        this.pendingRecv.delete(Number(p.messageId))
        return
      case PacketType.PING:
        this.writePacket({ type: PacketType.PONG })
        return
      case PacketType.SUB: {
        // SUBACKs in SUB order, though membership checks are async.
        const { subNo, channelId, channelType, action } = p
        this.subChain = this.subChain.then(() => this.onSub(subNo, channelId, channelType, action))
        return
      }
      case PacketType.DISCONNECT:
        return this.closeNow()
      case PacketType.CONNECT:
        return this.abort('second CONNECT')
      default:
        return this.abort(`unexpected packet type ${p.type} from a client`)
    }
  }

  // ── CONNECT ────────────────────────────────────────────────────────────────────────────

  private async connect(p: ConnectPacket): Promise<void> {
    this.state = 'authenticating'
    // Versions outside 2–5: answer with the nearest layout we speak (Srv: min(v, 5)).
    this.version = Math.min(Math.max(p.version, 1), PROTO_VERSION_MAX)
    const reason = await this.authenticate(p.uid, p.token, p.deviceFlag, p.clientKey === '' ? 'empty' : 'given')
    if (this.state !== 'authenticating') return
    const timeDiff = BigInt(Date.now()) - p.clientTimestamp
    const serverVersion = this.version > 3 ? this.version : undefined
    const nodeId = this.service.nodeIdNumber
    if (reason !== Reason.Success) {
      this.writePacket({ type: PacketType.CONNACK, serverVersion, timeDiff, reasonCode: reason, serverKey: '', salt: '', nodeId })
      return this.closeNow()
    }
    const hs = serverHandshake(p.clientKey)
    if (!hs) {
      this.writePacket({ type: PacketType.CONNACK, serverVersion, timeDiff, reasonCode: Reason.ClientKeyIsEmpty, serverKey: '', salt: '', nodeId })
      return this.closeNow()
    }
    this.keys = hs.keys
    this.deviceId = p.deviceId
    this.writePacket({ type: PacketType.CONNACK, serverVersion, timeDiff, reasonCode: Reason.Success, serverKey: hs.serverKey, salt: hs.salt, nodeId })
    this.opened()
  }

  private async rpcConnect(req: rpc.RpcRequest): Promise<void> {
    const p = req.params
    let uid: string, token: string, deviceFlag: number, version: number, clientTimestamp: number
    try {
      uid = rpc.str(p, 'uid')
      token = rpc.str(p, 'token', false)
      deviceFlag = rpc.int(p, 'deviceFlag', 0, 0, 255)
      version = rpc.int(p, 'version', PROTO_VERSION_MAX, 0, 255)
      clientTimestamp = rpc.int(p, 'clientTimestamp', Date.now(), 0, Number.MAX_SAFE_INTEGER)
      this.deviceId = rpc.str(p, 'deviceId', false)
    } catch (err) {
      this.writeText(rpc.rpcError(req.id, rpc.RpcError.invalidParams, (err as Error).message))
      return this.closeNow()
    }
    this.state = 'authenticating'
    this.version = Math.min(Math.max(version, 1), PROTO_VERSION_MAX)
    const reason = await this.authenticate(uid, token, deviceFlag, 'not_needed')
    if (this.state !== 'authenticating') return
    const result = { serverKey: '', salt: '', timeDiff: Date.now() - clientTimestamp, reasonCode: reason, serverVersion: this.version, nodeId: Number(this.service.nodeIdNumber) }
    if (req.id !== undefined) this.writeText(rpc.rpcResult(req.id, result))
    if (reason !== Reason.Success) return this.closeNow()
    this.opened()
  }

  /** token, ban; on success records who this is (state stays 'authenticating'). */
  private async authenticate(uid: string, token: string, deviceFlag: number, clientKey: 'empty' | 'given' | 'not_needed'): Promise<number> {
    // only a valid uid can hold a token (and one Postgres cannot store must not reach the query)
    if (!isValidUid(uid)) return Reason.AuthFail
    if (clientKey === 'empty') return Reason.ClientKeyIsEmpty
    try {
      const stored = await this.service.core.users.getToken(uid, deviceFlag)
      if (!stored || !token || stored.token !== token) return Reason.AuthFail
      const self = await this.service.core.channels.get({ channelId: uid, channelType: CHANNEL_PERSON })
      if (self?.ban) return Reason.Ban
      this.uid = uid
      this.deviceFlag = deviceFlag
      this.deviceLevel = stored.deviceLevel
      return Reason.Success
    } catch (err) {
      this.service.log.warn('wkproto token check failed', { uid, error: err instanceof Error ? err.message : String(err) })
      return Reason.QueryTokenError
    }
  }

  /** CONNACK success is written: kick older devices, follow the user's channels, run what queued up. */
  private opened(): void {
    this.state = 'open'
    this.lastActivity = Date.now()
    this.loggedIn = this.service.loginStamp()
    this.service.kickOlderDevices(this)
    this.service.register(this)
    const conn: HubConnection = {
      id: this.id,
      uid: this.uid,
      transport: this.dialect === 'jsonrpc' ? 'wkproto-jsonrpc' : this.transport.name,
      deviceFlag: this.deviceFlag,
      auth: 'user_token',
      deliver: (d) => this.deliver(d),
      close: (reason) => this.hubClosed(reason),
    }
    this.hubConn = conn
    this.service.hub.attach(conn).catch((err) => {
      this.service.log.error('wkproto attach failed', { uid: this.uid, error: err instanceof Error ? err.message : String(err) })
      this.closeNow()
    })
    const queued = this.preAuth
    this.preAuth = []
    for (const run of queued) run()
  }

  // ── SEND ───────────────────────────────────────────────────────────────────────────────

  private onSend(p: SendPacket): void {
    const ack = (messageId: number, messageSeq: number, reasonCode: number) =>
      this.writePacket({ type: PacketType.SENDACK, dup: p.dup, syncOnce: p.syncOnce, redDot: p.redDot, noPersist: p.noPersist, messageId: BigInt(messageId), clientSeq: p.clientSeq, messageSeq, reasonCode })
    if (msgKeyOf(this.keys!, sendVerifyString(p)) !== p.msgKey) return ack(0, 0, Reason.PayloadDecodeError)
    const plain = decryptPayload(this.keys!, p.payload)
    if (!plain) return ack(0, 0, Reason.PayloadDecodeError)
    this.submit(
      {
        channelId: p.channelId,
        channelType: p.channelType,
        payload: plain,
        clientMsgNo: p.clientMsgNo,
        setting: p.setting,
        header: { noPersist: p.noPersist ? 1 : 0, redDot: p.redDot ? 1 : 0, syncOnce: p.syncOnce ? 1 : 0 },
        expire: p.expire,
        streamNo: p.streamNo || undefined,
      },
      ack,
    )
  }

  private rpcSend(req: rpc.RpcRequest): void {
    const p = req.params
    const reply = (messageId: number, messageSeq: number, reasonCode: number) => {
      if (req.id !== undefined) this.writeText(rpc.rpcResult(req.id, { messageId: String(messageId), messageSeq, reasonCode }))
    }
    let input: SendFields
    try {
      const header = rpc.headerOf(p)
      input = {
        channelId: rpc.str(p, 'channelId'),
        channelType: rpc.int(p, 'channelType', undefined, 0, 255),
        payload: rpc.payloadOf(p),
        clientMsgNo: rpc.str(p, 'clientMsgNo', false),
        setting: rpc.settingOf(p),
        header: { noPersist: header.noPersist ? 1 : 0, redDot: header.redDot ? 1 : 0, syncOnce: header.syncOnce ? 1 : 0 },
        expire: rpc.int(p, 'expire', 0),
        streamNo: rpc.str(p, 'streamNo', false) || undefined,
      }
    } catch (err) {
      if (req.id !== undefined) this.writeText(rpc.rpcError(req.id, rpc.RpcError.invalidParams, (err as Error).message))
      return
    }
    this.submit(input, reply)
  }

  /** core.messages.send, joined with an in-flight resend of the same clientMsgNo; ack after COMMIT. */
  private submit(input: SendFields, ack: (messageId: number, messageSeq: number, reasonCode: number) => void): void {
    const key = input.clientMsgNo ? `${input.channelType}\u0001${input.channelId}\u0001${input.clientMsgNo}` : undefined
    let pending = key ? this.inflight.get(key) : undefined
    if (!pending) {
      if (this.inflightCount >= wkLimits.sendInflightMax) return ack(0, 0, Reason.RateLimit)
      this.inflightCount++
      pending = this.service.core.messages
        .send({ ...input, fromUid: this.uid, originConnection: this.id })
        .then((r) => ({ messageId: r.messageId, messageSeq: r.messageSeq }))
      const settled = () => {
        this.inflightCount--
        if (key) this.inflight.delete(key)
      }
      pending.then(settled, settled)
      if (key) this.inflight.set(key, pending)
    }
    pending.then(
      (r) => {
        if (this.state === 'open') ack(r.messageId, r.messageSeq, Reason.Success)
      },
      (err) => {
        const reason = sendReasonOf(err)
        if (reason === Reason.SystemError) this.service.log.error('wkproto send failed', { uid: this.uid, error: err instanceof Error ? err.message : String(err) })
        if (this.state === 'open') ack(0, 0, reason)
      },
    )
  }

  // ── SUB ────────────────────────────────────────────────────────────────────────────────

  /** Members already receive every message of their channels: SUB confirms membership, UNSUB is a no-op. */
  private async onSub(subNo: string, channelId: string, channelType: number, action: number): Promise<void> {
    let reasonCode: number = Reason.Success
    if (action === 0) {
      try {
        reasonCode = (await this.service.core.channels.isMember({ channelId, channelType }, this.uid)) ? Reason.Success : Reason.SubscriberNotExist
      } catch {
        reasonCode = Reason.ChannelNotExist
      }
    }
    if (this.state === 'open') this.writePacket({ type: PacketType.SUBACK, subNo, channelId, channelType, action, reasonCode })
  }

  // ── RECV ───────────────────────────────────────────────────────────────────────────────

  private deliver(d: Delivery): void {
    if (this.state !== 'open') return
    if (d.type === 'stream_chunk') return this.deliverChunk(d.chunk)
    const m = d.message
    let wire: Uint8Array | string
    try {
      wire = this.dialect === 'jsonrpc' ? this.recvJson(m) : encodePacket(this.recvPacket(m), this.version)
    } catch (err) {
      // e.g. a payload whose encrypted base64 exceeds WKProto's 1 MiB body: the client gets it through history
      this.service.log.warn('wkproto RECV not encodable', { uid: this.uid, messageId: m.messageId, error: err instanceof Error ? err.message : String(err) })
      return
    }
    if (!this.writeWire(wire)) return
    if (m.messageId > 0) this.track(m)
  }

  /** RECV for this connection: its view of the channel, its key, its device's red dot. */
  private recvPacket(m: Message): RecvPacket {
    const channelId = viewedChannelId(this.uid, m.channelId, m.channelType)
    const payload = encryptPayload(this.keys!, m.payload)
    const timestamp = m.timestamp
    const messageId = BigInt(m.messageId)
    const fields = { messageId, messageSeq: m.messageSeq, clientMsgNo: m.clientMsgNo, timestamp, fromUid: m.fromUid, channelId, channelType: m.channelType, payload }
    return {
      type: PacketType.RECV,
      // The sender's own devices get no red dot for its own message (Srv).
      redDot: m.header.redDot === 1 && m.fromUid !== this.uid,
      syncOnce: m.header.syncOnce === 1,
      noPersist: m.header.noPersist === 1,
      // Always encrypted for this connection, whatever the sender asked.
      setting: m.setting & ~Setting.NO_ENCRYPT,
      msgKey: msgKeyOf(this.keys!, recvVerifyString(fields)),
      expire: m.expire,
      stream: m.streamNo ? { layout: m.setting & Setting.STREAM_SDK ? 'sdk' : 'go', streamNo: m.streamNo, streamSeq: 0, streamFlag: 0, streamId: 0n } as RecvPacket['stream'] : undefined,
      ...fields,
    }
  }

  /**
   * A stream chunk as a RECV with a stream block (only versions 2–4 have one): the anchor's
   * message id, streamSeq, streamFlag 1 (2 on the closing chunk). Not re-delivered: the anchor
   * message and its stored chunks are the history.
   */
  private deliverChunk(c: StreamChunk): void {
    const channelId = viewedChannelId(this.uid, c.channel.channelId, c.channel.channelType)
    const timestamp = Math.floor(Date.now() / 1000)
    const streamFlag = c.end ? 2 : 1
    if (this.dialect === 'jsonrpc') {
      this.writeText(
        rpc.rpcNotification('recv', {
          messageId: String(c.anchorMessageId), messageSeq: 0, timestamp, channelId, channelType: c.channel.channelType, fromUid: c.fromUid, clientMsgNo: c.clientMsgNo,
          payload: rpc.payloadJson(c.payload), setting: rpc.settingJson(Setting.STREAM_GO), msgKey: '', streamNo: c.streamNo, streamSeq: c.streamSeq, streamFlag,
        }),
      )
      return
    }
    if (this.version >= 5) return
    // SDK 1.0.4 (v2) reads the stream bit at 0x04 with its own block layout; GoProto ≥1.0.9 at 0x02.
    const sdkLayout = this.version === 2
    const payload = encryptPayload(this.keys!, c.payload)
    const fields = { messageId: BigInt(c.anchorMessageId), messageSeq: 0, clientMsgNo: c.clientMsgNo, timestamp, fromUid: c.fromUid, channelId, channelType: c.channel.channelType, payload }
    this.writePacket({
      type: PacketType.RECV,
      noPersist: true,
      setting: sdkLayout ? Setting.STREAM_SDK : Setting.STREAM_GO,
      msgKey: msgKeyOf(this.keys!, recvVerifyString(fields)),
      expire: 0,
      stream: sdkLayout
        ? { layout: 'sdk', streamNo: c.streamNo, streamSeq: c.streamSeq, streamFlag }
        : { layout: 'go', streamFlag, streamNo: c.streamNo, streamId: BigInt(c.streamSeq) },
      ...fields,
    })
  }

  private recvJson(m: Message): string {
    return rpc.rpcNotification('recv', {
      messageId: String(m.messageId),
      messageSeq: m.messageSeq,
      timestamp: m.timestamp,
      channelId: viewedChannelId(this.uid, m.channelId, m.channelType),
      channelType: m.channelType,
      fromUid: m.fromUid,
      clientMsgNo: m.clientMsgNo,
      payload: rpc.payloadJson(m.payload),
      setting: rpc.settingJson(m.setting),
      header: { noPersist: m.header.noPersist === 1, redDot: m.header.redDot === 1 && m.fromUid !== this.uid, syncOnce: m.header.syncOnce === 1 },
      msgKey: '',
      expire: m.expire,
      ...(m.streamNo ? { streamNo: m.streamNo } : {}),
    })
  }

  private track(m: Message): void {
    if (this.pendingRecv.size >= wkLimits.recvPendingMax) {
      const oldest = this.pendingRecv.keys().next().value
      if (oldest !== undefined) this.pendingRecv.delete(oldest)
    }
    this.pendingRecv.delete(m.messageId)
    this.pendingRecv.set(m.messageId, { message: m, sentAt: Date.now(), attempts: 0 })
  }

  private rpcRecvack(p: Record<string, unknown>): void {
    const id = p.messageId
    if (typeof id === 'string' && /^\d+$/.test(id)) this.pendingRecv.delete(Number(id))
    else if (typeof id === 'number') this.pendingRecv.delete(id)
  }

  // ── timers (driven by the service's ticker) ──────────────────────────────────────────────

  tick(now: number): void {
    if (this.state === 'new' || this.state === 'authenticating') {
      if (now - this.openedAt > wkLimits.authTimeoutMs) this.closeNow()
      return
    }
    if (this.state !== 'open') return
    if (now - this.lastActivity > wkLimits.idleTimeoutMs) return this.closeNow()
    if (!this.pendingRecv.size) return
    // The map is in send order (a re-sent entry moves to the end): stop at the first recent one.
    for (const [id, p] of this.pendingRecv) {
      if (now - p.sentAt < wkLimits.recvRetryMs) break
      this.pendingRecv.delete(id)
      if (p.attempts >= wkLimits.recvRetryMax) continue
      p.attempts++
      p.sentAt = now
      this.pendingRecv.set(id, p)
      // Re-deliveries carry the DUP flag.
      const wire = this.dialect === 'jsonrpc' ? this.recvJson(p.message) : encodePacket({ ...this.recvPacket(p.message), dup: true }, this.version)
      if (!this.writeWire(wire)) return
    }
  }

  // ── JSON-RPC dispatch ──────────────────────────────────────────────────────────────────

  private onRpc(text: string): void {
    const parsed = rpc.parseRpc(text)
    if (!parsed.ok) {
      // Before auth the socket is closed; after auth an error response, and it stays open (Srv).
      if (this.state !== 'open') return this.abort(parsed.message)
      this.writeText(rpc.rpcError(parsed.id, parsed.code, parsed.message))
      return
    }
    const req = parsed.request
    if (this.state === 'authenticating') {
      if (this.preAuth.length >= wkLimits.preAuthQueueMax) return this.abort('too many requests before the connect result')
      this.preAuth.push(() => this.onRpc(text))
      return
    }
    if (this.state === 'new') {
      if (req.method !== 'connect') return this.abort('first request is not connect')
      void this.rpcConnect(req)
      return
    }
    if (this.state !== 'open') return
    switch (req.method) {
      case 'send':
        return this.rpcSend(req)
      case 'recvack':
        return this.rpcRecvack(req.params)
      case 'ping':
        this.writeText(req.id !== undefined ? JSON.stringify({ jsonrpc: '2.0', id: req.id }) : rpc.rpcNotification('pong', {}))
        return
      case 'disconnect':
        return this.closeNow()
      case 'connect':
        if (req.id !== undefined) this.writeText(rpc.rpcError(req.id, rpc.RpcError.invalidRequest, 'already connected'))
        return
      default:
        if (req.id !== undefined) this.writeText(rpc.rpcError(req.id, rpc.RpcError.methodNotFound, `method not supported: ${req.method}`))
    }
  }

  // ── output and ending ──────────────────────────────────────────────────────────────────

  private writePacket(p: Packet): void {
    this.writeWire(encodePacket(p, this.version))
  }

  private writeText(text: string): void {
    this.writeWire(text)
  }

  private writeWire(wire: Uint8Array | string): boolean {
    if (this.state === 'closed') return false
    try {
      return typeof wire === 'string' ? this.transport.sendText(wire) : this.transport.sendBinary(wire)
    } catch {
      return false
    }
  }

  /** A newer device took over, or the hub ends us (device_quit, master login, slow consumer, shutdown). */
  private hubClosed(reason: CloseReason): void {
    if (reason === 'kicked' || reason === 'replaced') this.kick(true)
    else this.closeNow()
  }

  /** DISCONNECT (ConnectKick) when `notify`, then close after ~2 s so the client reads it. */
  kick(notify: boolean): void {
    if (this.state === 'closed' || this.state === 'closing') return
    if (this.hubConn) this.service.hub.detach(this.hubConn)
    if (notify) {
      if (this.dialect === 'jsonrpc') this.writeText(rpc.rpcNotification('disconnect', { reasonCode: Reason.ConnectKick, reason: 'login in other device' }))
      else if (this.keys) this.writePacket({ type: PacketType.DISCONNECT, reasonCode: Reason.ConnectKick, reason: 'login in other device' })
    }
    this.state = 'closing'
    this.service.forget(this)
    this.closeTimer = setTimeout(() => this.closeNow(), wkLimits.kickCloseMs)
  }

  closeNow(): void {
    if (this.state === 'closed') return
    this.state = 'closing'
    clearTimeout(this.closeTimer)
    if (this.hubConn) this.service.hub.detach(this.hubConn)
    this.service.forget(this)
    try {
      this.transport.close()
    } catch {
      // already closed
    }
  }

  private abort(why: string): void {
    this.service.log.debug('wkproto connection closed', { uid: this.uid, reason: why })
    this.closeNow()
  }
}

type StreamChunk = Extract<CoreEvent, { type: 'stream_chunk' }>

interface SendFields {
  channelId: string
  channelType: number
  payload: Uint8Array
  clientMsgNo: string
  setting: number
  header: { noPersist: 0 | 1; redDot: 0 | 1; syncOnce: 0 | 1 }
  expire: number | undefined
  streamNo: string | undefined
}
