/**
 * What nodes say to each other, in MessagePack. Events carry their origin node so a node can
 * ignore its own echoes. Uint8Array payloads survive MessagePack as binary; the decoded copy
 * owns its bytes (the transport may reuse its read buffer).
 */
import { decodeMsgpack, encodeMsgpack } from '../codec/msgpack'
import type { CoreEvent } from '../core/events'
import type { OnlineDevice } from '../core/presence'

/** a core event as published on the bus */
export interface EventEnvelope {
  origin: string
  event: CoreEvent
}

/** node-to-node notices that are not core events */
export type Notice =
  /** a node is alive (sent every few seconds, and on start); `bye` = it is stopping */
  | { kind: 'hello'; origin: string }
  | { kind: 'bye'; origin: string }
  /**
   * a WKProto session authenticated at `at` (ms since the epoch, the origin's clock): other nodes
   * apply the device rule to their sessions that logged in earlier
   */
  | { kind: 'wk_login'; origin: string; uid: string; deviceFlag: number; deviceId: string; deviceLevel: number; at: number }
  /**
   * a connection with a replace key attached (quick-im: same session + platform) at `at` (ms since
   * the epoch, the origin's clock): other nodes end their older connection with that key
   */
  | { kind: 'replace'; origin: string; key: string; at: number }

export interface PresenceQuery {
  origin: string
  uids: string[]
}

export interface PresenceAnswer {
  origin: string
  online: OnlineDevice[]
}

export function encodeEvent(origin: string, event: CoreEvent): Uint8Array {
  // originConnection names a connection of the origin node only: never meaningful elsewhere
  const e = event.type === 'message' && event.originConnection !== undefined ? { ...event, originConnection: undefined } : event
  return encodeMsgpack({ origin, event: e } satisfies EventEnvelope)
}

function decode(bytes: Uint8Array): unknown {
  return decodeMsgpack(bytes.slice())
}

export function decodeEvent(bytes: Uint8Array): EventEnvelope {
  const v = decode(bytes) as EventEnvelope
  if (!v || typeof v.origin !== 'string' || !v.event || typeof v.event.type !== 'string') throw new Error('malformed cluster event')
  return v
}

export const encodeNotice = (n: Notice): Uint8Array => encodeMsgpack(n)
export function decodeNotice(bytes: Uint8Array): Notice {
  const v = decode(bytes) as Notice
  if (!v || typeof v.kind !== 'string' || typeof v.origin !== 'string') throw new Error('malformed cluster notice')
  return v
}

export const encodePresenceQuery = (q: PresenceQuery): Uint8Array => encodeMsgpack(q)
export function decodePresenceQuery(bytes: Uint8Array): PresenceQuery {
  const v = decode(bytes) as PresenceQuery
  if (!v || typeof v.origin !== 'string' || !Array.isArray(v.uids)) throw new Error('malformed presence query')
  return v
}

export const encodePresenceAnswer = (a: PresenceAnswer): Uint8Array => encodeMsgpack(a)
export function decodePresenceAnswer(bytes: Uint8Array): PresenceAnswer {
  const v = decode(bytes) as PresenceAnswer
  if (!v || typeof v.origin !== 'string' || !Array.isArray(v.online)) throw new Error('malformed presence answer')
  return v
}
