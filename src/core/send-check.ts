/**
 * Turns a SendInput into a WriteItem: validates it and applies SPEC §3's rules (membership,
 * black/white lists, ban, disband, archive, payload size) from the cached channel state — no
 * database round trip per message once a channel is warm.
 */
import type { ChannelInternals } from './channels'
import { isValidUid } from './channel-id'
import { generatedClientMsgNo } from './client-msg-no'
import { archived, forbidden, invalid, notFound, tooLarge } from './errors'
import { CHANNEL_PERSON, type MessageHeader, type SendInput } from './types'
import type { WriteItem, WriteKind } from './writer'

export interface SendCheckDeps {
  channels: ChannelInternals
  maxPayloadBytes: number
}

const bit = (v: number | undefined, dflt: 0 | 1): 0 | 1 => (v === undefined ? dflt : v ? 1 : 0)

export function normalizeHeader(h: Partial<MessageHeader> | undefined): MessageHeader {
  return { noPersist: bit(h?.noPersist, 0), redDot: bit(h?.redDot, 1), syncOnce: bit(h?.syncOnce, 0) }
}

/** the largest expire (seconds) a message can carry: it is stored as a 32-bit integer (68 years) */
export const MAX_EXPIRE = 2 ** 31 - 1

/** Text the database cannot store (Postgres text holds no NUL): refused as bad input, whichever transport brought it. */
function refuseNulIn(field: string, value: string | undefined): void {
  if (value?.includes('\0')) throw invalid(`${field}: must not contain a NUL character`)
}

/** Validation that needs no channel: shared by send, sendBatch and stream chunks. */
export function checkShape(input: Pick<SendInput, 'fromUid' | 'payload' | 'setting' | 'clientMsgNo' | 'expire' | 'streamNo'> & { channelId?: string }, maxPayloadBytes: number): void {
  refuseNulIn('channel_id', input.channelId)
  refuseNulIn('client_msg_no', input.clientMsgNo)
  refuseNulIn('stream_no', input.streamNo)
  if (input.fromUid !== '' && !isValidUid(input.fromUid)) throw invalid(`from_uid: invalid uid "${input.fromUid}"`)
  if (input.payload.byteLength > maxPayloadBytes) throw tooLarge(`payload: ${input.payload.byteLength} bytes is over the limit of ${maxPayloadBytes}`)
  if (input.setting !== undefined && (!Number.isInteger(input.setting) || input.setting < 0 || input.setting > 255)) throw invalid('setting: must be an integer 0-255')
  if (input.clientMsgNo !== undefined && input.clientMsgNo.length > 128) throw invalid('client_msg_no: at most 128 characters')
  if (input.expire !== undefined && (!Number.isInteger(input.expire) || input.expire < 0 || input.expire > MAX_EXPIRE)) throw invalid(`expire: must be an integer 0-${MAX_EXPIRE} (seconds)`)
}

export async function prepareSend(deps: SendCheckDeps, input: SendInput, openStream: string | null = null): Promise<WriteItem> {
  checkShape(input, deps.maxPayloadBytes)
  if (!input.channelId) throw invalid('channel_id: must not be empty')
  if (!Number.isInteger(input.channelType) || input.channelType < 1 || input.channelType > 255) throw invalid('channel_type: must be an integer 1-255')
  const header = normalizeHeader(input.header)
  const scoped = input.subscribers?.length ? [...new Set(input.subscribers)] : undefined
  if (scoped) for (const u of scoped) if (!isValidUid(u)) throw invalid(`subscribers: invalid uid "${u}"`)

  let channelId: string
  let members: Set<string>
  if (input.channelType === CHANNEL_PERSON) {
    if (!input.fromUid) throw invalid('from_uid: required for a person channel (channel_type 1)')
    if (!isValidUid(input.channelId)) throw invalid(`channel_id: "${input.channelId}" is not a valid receiver uid`)
    // The receiver's lists (kept under the receiver's uid, type 1) decide who may write to them.
    const lists = await deps.channels.state({ channelId: input.channelId, channelType: CHANNEL_PERSON })
    if (lists.black.has(input.fromUid)) throw forbidden(`from_uid: ${input.fromUid} is blacklisted by ${input.channelId}`)
    if (lists.white.size && !lists.white.has(input.fromUid)) throw forbidden(`from_uid: ${input.fromUid} is not on ${input.channelId}'s whitelist`)
    channelId = await deps.channels.ensurePerson(input.fromUid, input.channelId)
    members = new Set([input.fromUid, input.channelId])
  } else {
    const s = await deps.channels.state({ channelId: input.channelId, channelType: input.channelType })
    if (!s.exists) throw notFound(`channel ${input.channelId} (type ${input.channelType}) does not exist`)
    if (input.fromUid !== '') {
      if (s.ban) throw forbidden('channel is banned: only the system may send')
      if (s.disband) throw forbidden('channel is disbanded')
      if (s.isArchive) throw archived('channel is archived')
      if (!s.members.has(input.fromUid)) throw forbidden(`from_uid: ${input.fromUid} is not a member of the channel`)
      if (s.black.has(input.fromUid)) throw forbidden(`from_uid: ${input.fromUid} is blacklisted`)
      if (s.white.size && !s.white.has(input.fromUid)) throw forbidden(`from_uid: ${input.fromUid} is not on the whitelist`)
    }
    channelId = input.channelId
    members = s.members
  }

  let kind: WriteKind = 'history'
  let recipients: string[] = []
  if (header.noPersist) kind = 'live'
  else if (header.syncOnce) {
    kind = 'command'
    recipients = scoped ?? [...members].filter((u) => u !== input.fromUid)
  } else if (scoped) kind = 'scoped'
  if (openStream && kind !== 'history') throw invalid('header: a stream anchor must be a stored history message (no_persist=0, sync_once=0, no subscribers)')

  return {
    kind,
    channelId,
    channelType: input.channelType,
    fromUid: input.fromUid,
    clientMsgNo: input.clientMsgNo || generatedClientMsgNo(),
    clientSupplied: !!input.clientMsgNo,
    header,
    setting: input.setting ?? 0,
    payload: input.payload,
    type: input.type ?? 0,
    status: input.status ?? 0,
    expire: input.expire ?? 0,
    openStream,
    recipients,
    to: scoped,
    originConnection: input.originConnection,
  }
}
