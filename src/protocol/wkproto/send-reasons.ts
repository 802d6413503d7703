/**
 * Maps a failed messages.send() to the SENDACK reason code a WuKongIM client expects.
 * Core throws DomainError kinds; the refusal's wording tells which list or flag refused it.
 * test/protocol/send-reasons.test.ts pins each mapping against the real core.
 */
import { DomainError } from '../../core/errors'
import { Reason } from './reason-codes'

export function sendReasonOf(err: unknown): number {
  if (!(err instanceof DomainError)) return Reason.SystemError
  const msg = err.message
  switch (err.kind) {
    case 'forbidden':
      if (msg.includes('blacklist')) return Reason.InBlacklist
      if (msg.includes('whitelist')) return Reason.NotInWhitelist
      if (msg.includes('not a member')) return Reason.SubscriberNotExist
      if (msg.includes('disband')) return Reason.Disband
      if (msg.includes('banned')) return Reason.SendBan
      return Reason.NotAllowSend
    case 'not_found':
      return msg.includes('stream') ? Reason.NotAllowSend : Reason.ChannelNotExist
    case 'archived':
      return Reason.NotAllowSend
    case 'invalid':
      if (msg.startsWith('channel_type')) return Reason.NotSupportChannelType
      if (msg.startsWith('channel_id')) return Reason.ChannelIDError
      return Reason.NotAllowSend
    case 'too_large':
      return Reason.NotAllowSend
    case 'unauthorized':
      return Reason.AuthFail
  }
  return Reason.SystemError
}
