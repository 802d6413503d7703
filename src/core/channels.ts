/**
 * Channels, subscribers, black/white lists, with an in-memory cache of what every send checks
 * (membership, lists, ban/disband/archive/delete) so the hot path never queries per message.
 * Every change made here invalidates the entry after COMMIT; other nodes are told through
 * `invalidate()` (the cluster layer calls it on remote `members` / `channel_deleted` events) and,
 * as a safety net, entries are reloaded after CACHE_TTL_MS.
 */
import { and, eq, sql } from 'drizzle-orm'
import type { Db } from '../db/client'
import { channelLists, channels, subscribers } from '../db/schema'
import { isValidUid, personChannelId, personParties, storedChannelId } from './channel-id'
import type { ChannelInfo, ChannelService, UserService } from './core'
import { invalid, notFound } from './errors'
import type { CoreEvents } from './events'
import { channelKeyOf, rows } from './sql'
import { CHANNEL_PERSON, type ChannelKey } from './types'

const CACHE_TTL_MS = 60_000
const CACHE_MAX = 100_000

export interface ChannelState {
  channelId: string
  channelType: number
  /** a channel row exists and is not deleted */
  exists: boolean
  ban: number
  disband: number
  isArchive: boolean
  members: Set<string>
  black: Set<string>
  white: Set<string>
  loadedAt: number
}

export interface ChannelInternals extends ChannelService {
  /** cached state of a stored channel id (no viewer translation) */
  state(key: ChannelKey): Promise<ChannelState>
  /** make sure the person channel between a and b exists with both parties subscribed */
  ensurePerson(a: string, b: string): Promise<string>
}

export function createChannelService(db: Db, events: CoreEvents, users: UserService): ChannelInternals {
  const cache = new Map<string, { at: number; state: Promise<ChannelState> }>()
  const knownPerson = new Set<string>()

  async function load(key: ChannelKey): Promise<ChannelState> {
    const loadedAt = Date.now()
    const [row] = await db.select().from(channels).where(and(eq(channels.channelId, key.channelId), eq(channels.channelType, key.channelType)))
    const subs = await db.select({ uid: subscribers.uid }).from(subscribers).where(and(eq(subscribers.channelId, key.channelId), eq(subscribers.channelType, key.channelType)))
    const lists = await db.select().from(channelLists).where(and(eq(channelLists.channelId, key.channelId), eq(channelLists.channelType, key.channelType)))
    return {
      channelId: key.channelId,
      channelType: key.channelType,
      exists: !!row && !row.isDelete,
      ban: row?.ban ?? 0,
      disband: row?.disband ?? 0,
      isArchive: row?.isArchive ?? false,
      members: new Set(subs.map((s) => s.uid)),
      black: new Set(lists.filter((l) => l.list === 'black').map((l) => l.uid)),
      white: new Set(lists.filter((l) => l.list === 'white').map((l) => l.uid)),
      loadedAt,
    }
  }

  function state(key: ChannelKey): Promise<ChannelState> {
    const k = channelKeyOf(key.channelId, key.channelType)
    const hit = cache.get(k)
    if (hit && Date.now() - hit.at < CACHE_TTL_MS) return hit.state
    if (cache.size >= CACHE_MAX) cache.clear()
    const entry = { at: Date.now(), state: load(key) }
    cache.set(k, entry)
    entry.state.catch(() => {
      if (cache.get(k) === entry) cache.delete(k)
    })
    return entry.state
  }

  function invalidate(key: ChannelKey): void {
    cache.delete(channelKeyOf(key.channelId, key.channelType))
    if (key.channelType === CHANNEL_PERSON) knownPerson.delete(key.channelId)
  }

  async function requireChannel(key: ChannelKey): Promise<void> {
    if (key.channelType === CHANNEL_PERSON) return
    if (!(await state(key)).exists) throw notFound(`channel ${key.channelId} (type ${key.channelType}) does not exist`)
  }

  async function createRow(key: ChannelKey, attrs: { ban?: number; disband?: number; conversationType?: number } = {}): Promise<void> {
    const set: Record<string, unknown> = { isDelete: false }
    if (attrs.ban !== undefined) set.ban = attrs.ban
    if (attrs.disband !== undefined) set.disband = attrs.disband
    if (attrs.conversationType !== undefined) set.conversationType = attrs.conversationType
    await db
      .insert(channels)
      .values({ channelId: key.channelId, channelType: key.channelType, ...set })
      .onConflictDoUpdate({ target: [channels.channelId, channels.channelType], set })
  }

  /** Adds uids; `reset` removes everyone else. Returns who was added / removed. */
  async function writeSubscribers(key: ChannelKey, uids: string[], reset: boolean): Promise<{ added: string[]; removed: string[] }> {
    const list = JSON.stringify([...new Set(uids)])
    return db.transaction(async (tx) => {
      const removed = reset
        ? await rows<{ uid: string }>(
            tx,
            sql`delete from subscribers where channel_id = ${key.channelId} and channel_type = ${key.channelType}
                and uid not in (select jsonb_array_elements_text(${list}::jsonb)) returning uid`,
          )
        : []
      // A later subscriber starts at the channel's current seq: nothing unread, no old conversation.
      const added = await rows<{ uid: string }>(
        tx,
        sql`insert into subscribers (channel_id, channel_type, uid, join_seq)
            select ${key.channelId}, ${key.channelType}, u,
                   coalesce((select last_msg_seq from channels where channel_id = ${key.channelId} and channel_type = ${key.channelType}), 0)
            from jsonb_array_elements_text(${list}::jsonb) as u
            on conflict do nothing returning uid`,
      )
      if (removed.length) await dropConversations(tx, key, removed.map((r) => r.uid))
      return { added: added.map((r) => r.uid), removed: removed.map((r) => r.uid) }
    })
  }

  async function dropConversations(tx: Parameters<Parameters<Db['transaction']>[0]>[0], key: ChannelKey, uids: string[]) {
    await tx.execute(
      sql`delete from conversations where channel_id = ${key.channelId} and channel_type = ${key.channelType}
          and uid in (select jsonb_array_elements_text(${JSON.stringify(uids)}::jsonb))`,
    )
  }

  /** a send rule changed: drop the cached state here and tell the other nodes */
  function rulesChanged(key: ChannelKey) {
    invalidate(key)
    events.emit({ type: 'channel_changed', channel: { channelId: key.channelId, channelType: key.channelType } })
  }

  function announce(key: ChannelKey, added: string[], removed: string[]) {
    invalidate(key)
    if (added.length || removed.length) events.emit({ type: 'members', channel: { channelId: key.channelId, channelType: key.channelType }, added, removed })
  }

  function refusePerson(key: ChannelKey) {
    if (key.channelType === CHANNEL_PERSON) throw invalid('subscribers: a person channel’s subscribers are its two parties (set by its first message)')
  }

  function checkUids(uids: string[], field: string) {
    for (const u of uids) if (!isValidUid(u)) throw invalid(`${field}: invalid uid "${u}"`)
  }

  const service: ChannelInternals = {
    state,
    invalidate,

    async ensurePerson(a, b) {
      const id = personChannelId(a, b)
      if (knownPerson.has(id)) return id
      const key = { channelId: id, channelType: CHANNEL_PERSON }
      if (!(await state(key)).exists) {
        await users.ensureUsers([a, b])
        await createRow(key)
        const { added } = await writeSubscribers(key, [a, b], false)
        announce(key, added, [])
      }
      knownPerson.add(id)
      return id
    },

    async upsert(input) {
      const key = { channelId: input.channelId, channelType: input.channelType }
      if (input.subscribers?.length) refusePerson(key)
      await createRow(key, input)
      rulesChanged(key)
      if (input.subscribers && (input.subscribers.length || input.reset)) await service.addSubscribers(key, input.subscribers, input.reset)
    },

    async get(key) {
      const [row] = await db.select().from(channels).where(and(eq(channels.channelId, key.channelId), eq(channels.channelType, key.channelType)))
      if (!row) return undefined
      const info: ChannelInfo = {
        channelId: row.channelId,
        channelType: row.channelType,
        lastMsgSeq: row.lastMsgSeq,
        lastMessageId: row.lastMessageId,
        ban: row.ban,
        disband: row.disband,
        conversationType: row.conversationType,
        isArchive: row.isArchive,
        isDelete: row.isDelete,
        createdAt: row.createdAt,
      }
      return info
    },

    async addSubscribers(key, uids, reset = false) {
      refusePerson(key)
      checkUids(uids, 'subscribers')
      if (!(await state(key)).exists) await createRow(key)
      await users.ensureUsers(uids)
      const { added, removed } = await writeSubscribers(key, uids, reset)
      announce(key, added, removed)
    },

    async removeSubscribers(key, uids) {
      refusePerson(key)
      await requireChannel(key)
      const removed = await db.transaction(async (tx) => {
        const gone = await rows<{ uid: string }>(
          tx,
          sql`delete from subscribers where channel_id = ${key.channelId} and channel_type = ${key.channelType}
              and uid in (select jsonb_array_elements_text(${JSON.stringify(uids)}::jsonb)) returning uid`,
        )
        if (gone.length) await dropConversations(tx, key, gone.map((r) => r.uid))
        return gone.map((r) => r.uid)
      })
      announce(key, [], removed)
    },

    async delete(key) {
      await requireChannel(key)
      // The row stays (is_delete) so its seq goes on if the channel is created again.
      await db.transaction(async (tx) => {
        await tx.update(channels).set({ isDelete: true }).where(and(eq(channels.channelId, key.channelId), eq(channels.channelType, key.channelType)))
        await tx.delete(subscribers).where(and(eq(subscribers.channelId, key.channelId), eq(subscribers.channelType, key.channelType)))
        await tx.delete(channelLists).where(and(eq(channelLists.channelId, key.channelId), eq(channelLists.channelType, key.channelType)))
        await tx.execute(sql`delete from conversations where channel_id = ${key.channelId} and channel_type = ${key.channelType}`)
      })
      invalidate(key)
      events.emit({ type: 'channel_deleted', channel: { channelId: key.channelId, channelType: key.channelType } })
    },

    async isMember(key, uid) {
      const channelId = storedChannelId(uid, key.channelId, key.channelType)
      const s = await state({ channelId, channelType: key.channelType })
      return s.exists && s.members.has(uid)
    },

    async members(key) {
      if (key.channelType === CHANNEL_PERSON && key.channelId.includes('@')) {
        const s = await state(key)
        return s.exists ? [...s.members] : personParties(key.channelId)
      }
      return [...(await state(key)).members]
    },

    async channelsOf(uid) {
      const found = await rows<{ channel_id: string; channel_type: number }>(
        db,
        sql`select s.channel_id, s.channel_type from subscribers s
            join channels c on c.channel_id = s.channel_id and c.channel_type = s.channel_type
            where s.uid = ${uid} and not c.is_delete`,
      )
      return found.map((r) => ({ channelId: r.channel_id, channelType: Number(r.channel_type) }))
    },

    async setList(key, list, uids, op) {
      checkUids(uids, 'uids')
      await requireChannel(key)
      const where = and(eq(channelLists.channelId, key.channelId), eq(channelLists.channelType, key.channelType), eq(channelLists.list, list))
      await db.transaction(async (tx) => {
        if (op === 'set') await tx.delete(channelLists).where(where)
        if (op === 'remove') {
          await tx.execute(
            sql`delete from channel_lists where channel_id = ${key.channelId} and channel_type = ${key.channelType} and list = ${list}
                and uid in (select jsonb_array_elements_text(${JSON.stringify(uids)}::jsonb))`,
          )
        } else if (uids.length) {
          await tx
            .insert(channelLists)
            .values([...new Set(uids)].map((uid) => ({ channelId: key.channelId, channelType: key.channelType, list, uid })))
            .onConflictDoNothing()
        }
      })
      rulesChanged(key)
    },

    async getList(key, list) {
      await requireChannel(key)
      const found = await db
        .select({ uid: channelLists.uid })
        .from(channelLists)
        .where(and(eq(channelLists.channelId, key.channelId), eq(channelLists.channelType, key.channelType), eq(channelLists.list, list)))
      return found.map((r) => r.uid).sort()
    },

    async setArchive(keys, isArchive) {
      for (const key of keys) {
        await db.update(channels).set({ isArchive }).where(and(eq(channels.channelId, key.channelId), eq(channels.channelType, key.channelType)))
        rulesChanged(key)
      }
    },
  }
  return service
}
