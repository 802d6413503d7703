/**
 * Person channels are stored under one id for both parties (SPEC §2): `a@b` where
 * crc32(a) > crc32(b), else `b@a`; on a crc tie the lexicographically larger uid comes first.
 * Every response with a viewer shows a person channel as the *other* uid.
 */
import { CHANNEL_PERSON } from './types'

const crc32 = (s: string) => Bun.hash.crc32(s) >>> 0

export function personChannelId(a: string, b: string): string {
  const ca = crc32(a)
  const cb = crc32(b)
  const aFirst = ca !== cb ? ca > cb : a > b
  return aFirst ? `${a}@${b}` : `${b}@${a}`
}

/** The two uids of a stored person channel id. */
export function personParties(storedId: string): [string, string] {
  const at = storedId.indexOf('@')
  return [storedId.slice(0, at), storedId.slice(at + 1)]
}

/** The stored id for a channel named by a viewer (person channel: the peer's uid). */
export function storedChannelId(viewer: string, channelId: string, channelType: number): string {
  return channelType === CHANNEL_PERSON && !channelId.includes('@') ? personChannelId(viewer, channelId) : channelId
}

/** The id a viewer sees: for a person channel, the other party. */
export function viewedChannelId(viewer: string, storedId: string, channelType: number): string {
  if (channelType !== CHANNEL_PERSON) return storedId
  const [a, b] = personParties(storedId)
  return a === viewer ? b : a
}

/** uid rule (SPEC §2): 1–64 chars, none of `@ # &`, no whitespace (nor NUL, which Postgres text cannot hold). */
export function isValidUid(uid: string): boolean {
  return uid.length >= 1 && uid.length <= 64 && !/[@#&\s\0]/.test(uid)
}
