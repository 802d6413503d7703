/**
 * What the domain tells the real-time layer, after the fact (after COMMIT for stored messages).
 * Core emits; src/realtime subscribes and fans out to sockets (and, in a cluster, to other nodes).
 * Core never touches a socket.
 */
import type { ChannelKey, Message } from './types'

export type CoreEvent =
  /** a message to deliver live. `to` set: only these uids (subscriber-scoped or command message); else every member. */
  | { type: 'message'; message: Message; to?: string[]; originConnection?: string }
  /** a chunk appended to an open stream (anchor = message of the stream) */
  | { type: 'stream_chunk'; channel: ChannelKey; streamNo: string; streamSeq: number; anchorMessageId: number; fromUid: string; clientMsgNo: string; payload: Uint8Array; end: boolean }
  /** channel membership changed: live connections subscribe/unsubscribe at once */
  | { type: 'members'; channel: ChannelKey; added: string[]; removed: string[] }
  /** the channel is gone: every live subscription to it ends */
  | { type: 'channel_deleted'; channel: ChannelKey }
  /**
   * the channel's send rules changed (black/white list, ban, disband, archive). Nothing to deliver;
   * a cluster bus forwards it (like `members` and `channel_deleted`) so other nodes call
   * `core.channels.invalidate(channel)` and drop their cached state at once.
   */
  | { type: 'channel_changed'; channel: ChannelKey }
  /** tokens revoked (device_quit) or a master login: disconnect these devices. deviceFlag -1 = all. */
  | { type: 'kick_devices'; uid: string; deviceFlag: number; reason: 'device_quit' | 'master_login' }

export type CoreEventListener = (event: CoreEvent) => void

/** A tiny synchronous fan-out; listeners must not throw (errors are caught and logged by the owner). */
export class CoreEvents {
  private listeners: CoreEventListener[] = []

  on(listener: CoreEventListener): () => void {
    this.listeners.push(listener)
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener)
    }
  }

  emit(event: CoreEvent): void {
    for (const l of this.listeners) {
      try {
        l(event)
      } catch {
        // a broken listener must never break the write path
      }
    }
  }
}
