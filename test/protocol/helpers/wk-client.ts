/**
 * A raw WKProto test client over TCP or WebSocket: real sockets, real X25519/AES, byte frames from
 * our codec. Collects every packet it receives so tests can wait for them with eventually().
 */
import type { Socket } from 'bun'
import { decodePacket, encodePacket } from '../../../src/protocol/wkproto/codec'
import { clientKeyPair, clientSessionKeys, decryptPayload, encryptPayload, msgKeyOf, recvVerifyString, sendVerifyString, type SessionKeys } from '../../../src/protocol/wkproto/crypto'
import { FrameSplitter } from '../../../src/protocol/wkproto/frame-splitter'
import { type ConnackPacket, type Packet, PacketType, type RecvPacket, type SendackPacket } from '../../../src/protocol/wkproto/packets'
import { eventually } from '../../helpers/wait'

export interface ConnectOptions {
  uid: string
  token: string
  deviceFlag?: number
  deviceId?: string
  version?: number
  clientKey?: string
}

export class WkClient {
  readonly received: Packet[] = []
  /** set to watch packets as they arrive instead of keeping them (load measurements) */
  onPacket: ((p: Packet) => void) | undefined
  closed = false
  /** WebSocket messages received, and how many of them held more (or less) than one packet */
  wsMessages = 0
  wsMessagesNotOnePacket = 0
  keys: SessionKeys | undefined
  private splitter = new FrameSplitter()
  private clientSeq = 0
  private privateRaw: Buffer | undefined
  version = 2

  private constructor(private readonly write: (b: Uint8Array) => void, private readonly end: () => void) {}

  static async tcp(port: number): Promise<WkClient> {
    let client!: WkClient
    // socket.write() may take only part of a buffer: queue the rest until drain.
    const queue: Uint8Array[] = []
    const flush = (s: Socket<undefined>) => {
      while (queue.length) {
        const head = queue[0]!
        const n = s.write(head)
        if (n < head.length) {
          queue[0] = head.subarray(Math.max(n, 0))
          return
        }
        queue.shift()
      }
    }
    const sock = await Bun.connect({
      hostname: '127.0.0.1',
      port,
      socket: {
        data: (_s, chunk) => client.onBytes(chunk),
        drain: (s) => flush(s),
        close: () => {
          client.closed = true
        },
        error: () => {
          client.closed = true
        },
      },
    })
    // Like real clients: no Nagle delay on small packets.
    sock.setNoDelay(true)
    client = new WkClient(
      (b) => {
        queue.push(Uint8Array.from(b))
        if (queue.length === 1) flush(sock)
      },
      () => sock.end(),
    )
    return client
  }

  static async ws(url: string): Promise<WkClient> {
    const ws = new WebSocket(url.replace(/^http/, 'ws') + '/ws')
    ws.binaryType = 'arraybuffer'
    const client = new WkClient(
      (b) => ws.send(b),
      () => ws.close(),
    )
    ws.onmessage = (e) => {
      const before = client.received.length
      client.wsMessages++
      client.onBytes(new Uint8Array(e.data as ArrayBuffer))
      if (client.received.length - before !== 1) client.wsMessagesNotOnePacket++
    }
    ws.onclose = () => {
      client.closed = true
    }
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve()
      ws.onerror = () => reject(new Error('ws connect failed'))
    })
    return client
  }

  private onBytes(chunk: Uint8Array): void {
    const r = this.splitter.push(chunk)
    for (const f of r.frames) {
      const d = decodePacket(f, this.version)
      if (!d.ok) throw new Error('client could not decode: ' + d.error)
      if (this.onPacket) this.onPacket(d.packet)
      else this.received.push(d.packet)
    }
  }

  raw(bytes: Uint8Array): void {
    this.write(bytes)
  }

  send(p: Packet): void {
    this.write(encodePacket(p, this.version))
  }

  close(): void {
    this.end()
  }

  /** CONNECT and wait for CONNACK; keys are derived on success. */
  async connect(o: ConnectOptions): Promise<ConnackPacket> {
    this.version = o.version ?? 2
    const pair = clientKeyPair()
    this.privateRaw = pair.privateRaw
    this.send({
      type: PacketType.CONNECT,
      version: this.version,
      deviceFlag: o.deviceFlag ?? 1,
      deviceId: o.deviceId ?? crypto.randomUUID().replace(/-/g, '') + 'W',
      uid: o.uid,
      token: o.token,
      clientTimestamp: BigInt(Date.now()),
      clientKey: o.clientKey ?? pair.publicBase64,
    })
    const ack = (await eventually(() => this.received.find((p) => p.type === PacketType.CONNACK))) as ConnackPacket
    if (ack.reasonCode === 1) this.keys = clientSessionKeys(this.privateRaw, ack.serverKey, ack.salt)
    return ack
  }

  /** Builds an encrypted SEND with a correct msgKey; returns its clientSeq. `content` replaces the JSON text payload. */
  sendMessage(
    channelId: string,
    channelType: number,
    text: string,
    opts: {
      clientMsgNo?: string
      clientSeq?: number
      badMsgKey?: boolean
      expire?: number
      setting?: number
      streamNo?: string
      topic?: string
      content?: Uint8Array
      flags?: { noPersist?: boolean; syncOnce?: boolean; redDot?: boolean }
    } = {},
  ): number {
    const clientSeq = opts.clientSeq ?? ++this.clientSeq
    const clientMsgNo = opts.clientMsgNo ?? crypto.randomUUID().replace(/-/g, '') + '3'
    const payload = encryptPayload(this.keys!, opts.content ?? Buffer.from(JSON.stringify({ type: 1, content: text })))
    const msgKey = opts.badMsgKey ? 'f'.repeat(32) : msgKeyOf(this.keys!, sendVerifyString({ clientSeq, clientMsgNo, channelId, channelType, payload }))
    this.send({
      type: PacketType.SEND,
      redDot: opts.flags?.redDot ?? true,
      noPersist: opts.flags?.noPersist,
      syncOnce: opts.flags?.syncOnce,
      setting: opts.setting ?? 0,
      clientSeq,
      clientMsgNo,
      streamNo: opts.streamNo,
      channelId,
      channelType,
      expire: opts.expire ?? 0,
      msgKey,
      topic: opts.topic,
      payload,
    })
    return clientSeq
  }

  async sendack(clientSeq: number, timeoutMs = 5000): Promise<SendackPacket> {
    return (await eventually(() => this.received.find((p) => p.type === PacketType.SENDACK && p.clientSeq === clientSeq), timeoutMs)) as SendackPacket
  }

  recvs(): RecvPacket[] {
    return this.received.filter((p): p is RecvPacket => p.type === PacketType.RECV)
  }

  /** The decrypted text of a RECV, after checking its msgKey like the SDK does. */
  open(r: RecvPacket): { type: number; content: string } {
    const expected = msgKeyOf(this.keys!, recvVerifyString(r))
    if (expected !== r.msgKey) throw new Error('RECV msgKey mismatch')
    const plain = decryptPayload(this.keys!, r.payload)
    if (!plain) throw new Error('RECV payload does not decrypt')
    return JSON.parse(plain.toString('utf8'))
  }

  async recvWith(content: string, timeoutMs = 5000): Promise<RecvPacket> {
    return (await eventually(() => this.recvs().find((r) => this.open(r).content === content), timeoutMs))!
  }

  ack(r: RecvPacket): void {
    this.send({ type: PacketType.RECVACK, messageId: r.messageId, messageSeq: r.messageSeq })
  }
}

/** A free TCP port on loopback (bound and released; tests pass it as tcpPort). */
export function freePort(): number {
  const l = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  const port = l.port
  l.stop(true)
  return port
}

/** POST JSON to the server API; returns status and body. */
export async function api(base: string, path: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  const text = await res.text()
  let parsed: unknown = text
  try {
    parsed = JSON.parse(text)
  } catch {
    // not JSON
  }
  return { status: res.status, body: parsed }
}
