/**
 * The real-time layer's vocabulary: what a transport hands to the hub (a HubConnection) and what
 * the hub hands back (Deliveries). Transport-neutral: quick-im ws/sse/poll, WKProto ws/tcp and
 * WuKongIM JSON-RPC all attach the same way. See docs/architecture.md, "Real-time layer".
 */
import type { CoreEvent } from '../core/events'
import type { Message } from '../core/types'

/** Why the hub ends a connection. */
export type CloseReason =
  /** a newer connection with the same replaceKey took over (quick-im: same session + platform) */
  | 'replaced'
  /** device_quit / master login (WuKongIM tokens) or an explicit hub.kick */
  | 'kicked'
  /** it stopped reading: its send buffer passed the limit; the client recovers through history */
  | 'slow_consumer'
  /** the node is shutting down */
  | 'shutdown'

/** The slice of Bun's ServerWebSocket the topic path needs. */
export interface TopicSocket {
  subscribe(topic: string): void
  unsubscribe(topic: string): void
  /** Bun semantics: bytes sent, -1 = queued under backpressure, 0 = dropped */
  send(data: string | Buffer): number
  getBufferedAmount(): number
}

/** Encodes one message for one kind of consumer; the hub calls it at most once per message and viewer. */
export interface FrameFormat {
  name: string
  /** true when the frame differs per viewer in this channel type (person channels show the peer's uid) */
  perViewer(channelType: number): boolean
  encode(message: Message, viewer: string): string | Buffer
}

export type Delivery =
  | {
      type: 'message'
      message: Message
      /** the connection that sent it (WKProto RECV skips it); the hub already skips it for callback connections */
      originConnection?: string
      /** the message encoded in a registered format for a viewer, memoized per delivery (encode once, send many) */
      frame(format: string, viewer: string): string | Buffer
    }
  | { type: 'stream_chunk'; chunk: Extract<CoreEvent, { type: 'stream_chunk' }> }

export interface HubConnection {
  /** unique on this node; also what SendInput.originConnection names */
  readonly id: string
  readonly uid: string
  /** for online status and metrics: 'quickim-ws' | 'quickim-sse' | 'quickim-poll' | 'wkproto-ws' | 'wkproto-tcp' | … */
  readonly transport: string
  /** WuKongIM device flag (0 app, 1 web, 2 pc); quick-im connections report 1 (web) */
  readonly deviceFlag: number
  /** which credentials opened it: kick_devices (device_quit, master login) only ends 'user_token' connections */
  readonly auth: 'user_token' | 'im_token'
  /** a newer attach with the same key closes this one with reason 'replaced' */
  readonly replaceKey?: string
  /**
   * Topic path: the hub subscribes this socket to one Bun topic per channel and format and
   * publishes each message once per topic. Use for transports whose frames are the same for
   * every receiver.
   */
  readonly topic?: { socket: TopicSocket; format: string }
  /**
   * Callback path: called synchronously for each delivery to this connection (per-connection
   * encryption, SSE queues, long-poll buffers). Must not throw and must not block.
   */
  deliver?(delivery: Delivery): void
  /** End the connection. The hub has already detached it: nothing more will be delivered. */
  close(reason: CloseReason): void
}

export interface OnlineConnection {
  uid: string
  deviceFlag: number
  transport: string
  connectionId: string
}
