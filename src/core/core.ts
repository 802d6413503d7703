/**
 * The domain's public surface: what the APIs (src/api/*), the protocol (src/protocol/*) and the
 * real-time layer (src/realtime) may call. Implemented in src/core/* and assembled by createCore()
 * in src/core/index.ts. Channel ids in inputs are as the caller names them: for person channels
 * (type 1) with a viewer, the peer's uid; methods translate to the stored `a@b` id.
 *
 * Errors: methods throw DomainError (src/core/errors.ts) for bad input / not allowed / not found.
 */
import type { CoreEvents } from './events'
import type { ChannelKey, Message, SendInput, SendResult } from './types'

export interface DeviceToken {
  uid: string
  deviceFlag: number
  token: string
  deviceLevel: number
}

export interface UserService {
  /** POST /user/token: sets the token; a master (level 1) login kicks that flag's other devices (emitted as kick_devices by the connection layer). */
  setToken(t: DeviceToken): Promise<void>
  /** the stored token record, or undefined */
  getToken(uid: string, deviceFlag: number): Promise<DeviceToken | undefined>
  /** POST /user/device_quit: revoke tokens of that flag (-1 = all) and emit kick_devices */
  deviceQuit(uid: string, deviceFlag: number): Promise<void>
  /** make sure these uids exist (a uid exists once given a token or added to a channel) */
  ensureUsers(uids: string[]): Promise<void>
  exists(uid: string): Promise<boolean>
}

export interface ChannelInfo extends ChannelKey {
  lastMsgSeq: number
  lastMessageId: number
  ban: number
  disband: number
  conversationType: number
  isArchive: boolean
  isDelete: boolean
  createdAt: number
}

export interface ChannelService {
  /** POST /channel: create or update; `reset` replaces the subscriber list */
  upsert(input: ChannelKey & { subscribers?: string[]; reset?: boolean; ban?: number; disband?: number; conversationType?: number }): Promise<void>
  get(key: ChannelKey): Promise<ChannelInfo | undefined>
  addSubscribers(key: ChannelKey, uids: string[], reset?: boolean): Promise<void>
  removeSubscribers(key: ChannelKey, uids: string[]): Promise<void>
  delete(key: ChannelKey): Promise<void>
  isMember(key: ChannelKey, uid: string): Promise<boolean>
  /** uids of a channel's members (person channel: both parties) */
  members(key: ChannelKey): Promise<string[]>
  /** every channel this uid belongs to (stored ids) — what a live connection subscribes to */
  channelsOf(uid: string): Promise<ChannelKey[]>
  setList(key: ChannelKey, list: 'black' | 'white', uids: string[], op: 'add' | 'remove' | 'set'): Promise<void>
  getList(key: ChannelKey, list: 'black' | 'white'): Promise<string[]>
  setArchive(keys: ChannelKey[], isArchive: boolean): Promise<void>
  /** drop this node's cached state of a stored channel (the cluster layer calls it on another node's membership change) */
  invalidate(key: ChannelKey): void
}

export interface MessageSyncQuery {
  loginUid: string
  channelId: string
  channelType: number
  startMessageSeq: number
  endMessageSeq: number
  limit: number
  pullMode: 0 | 1
}

export interface MessageService {
  /** checks membership/lists/ban, then commits through the group-commit writer; resolves after COMMIT */
  send(input: SendInput): Promise<SendResult>
  /** POST /message/sendbatch: one person message to each uid */
  sendBatch(input: Omit<SendInput, 'channelId' | 'channelType' | 'subscribers'> & { subscribers: string[] }): Promise<{ failUids: string[]; reason: string[] }>
  /** POST /channel/messagesync (messages ascending) */
  sync(q: MessageSyncQuery): Promise<{ startMessageSeq: number; endMessageSeq: number; more: 0 | 1; messages: Message[] }>
  /** by stored channel and message_id (quick-im history and MsgId lookups) */
  byId(key: ChannelKey, messageId: number): Promise<Message | undefined>
  /** history (seq > 0) with message_id bounds; order ascending; limit ≥ 1; newest=true picks the newest `limit` in range */
  range(key: ChannelKey, opts: { afterId?: number; fromId?: number; beforeId?: number; toId?: number; limit: number; newest?: boolean }): Promise<Message[]>
  /** stored history messages after a message_id across several channels, ascending (poll / SSE replay) */
  since(keys: ChannelKey[], afterMessageId: number, limit: number): Promise<Message[]>
  /** flush the writer: resolves when every accepted send is committed (shutdown) */
  flush(): Promise<void>
}

export interface ConversationView {
  /** as the viewer names it: a person channel is the peer's uid (recents keep stored ids) */
  channelId: string
  channelType: number
  unread: number
  timestamp: number
  lastMsgSeq: number
  lastClientMsgNo: string
  version: number
  recents: Message[]
}

export interface ConversationService {
  sync(input: { uid: string; version: number; lastMsgSeqs: string; msgCount: number }): Promise<ConversationView[]>
  setUnread(uid: string, key: ChannelKey, unread: number): Promise<void>
  clearUnread(uid: string, key: ChannelKey): Promise<void>
  delete(uid: string, key: ChannelKey): Promise<void>
}

export interface CommandQueueService {
  /** POST /message/sync: oldest first, message_seq = position in the uid's queue */
  sync(uid: string, limit: number): Promise<Message[]>
  ack(uid: string, lastMessageSeq: number): Promise<void>
}

export interface StreamService {
  open(input: Omit<SendInput, 'streamNo' | 'subscribers'>): Promise<{ streamNo: string; messageId: number; messageSeq: number }>
  close(streamNo: string, key: ChannelKey): Promise<void>
}

export interface Core {
  events: CoreEvents
  users: UserService
  channels: ChannelService
  messages: MessageService
  conversations: ConversationService
  commands: CommandQueueService
  streams: StreamService
}
