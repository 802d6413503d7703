/**
 * A message as quick-im shows it (SPEC §4): {MsgId, ConversationID, FromSession, SendTime (µs),
 * Status, Type, Content (payload as UTF-8)}. Person channels show the viewer's peer as ConversationID.
 */
import { viewedChannelId } from '../channel-id'
import type { Message } from '../types'
import { encodeMsgId } from './msg-id'

export interface QuickImMessage {
  MsgId: string
  ConversationID: string
  FromSession: string
  SendTime: number
  Status: number
  Type: number
  Content: string
}

const utf8 = new TextDecoder()

export function quickImMessage(m: Message, viewer: string): QuickImMessage {
  return {
    MsgId: encodeMsgId(m.messageId),
    ConversationID: viewedChannelId(viewer, m.channelId, m.channelType),
    FromSession: m.fromUid,
    SendTime: m.sendTimeUs,
    Status: m.status,
    Type: m.type,
    Content: utf8.decode(m.payload),
  }
}
