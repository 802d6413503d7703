/**
 * The group-commit writer: every message that takes a message_id goes through here.
 *
 * Sends queue for ≤ LINGER_MS (or while the previous batch commits), then ONE transaction per batch:
 *  1. `pg_advisory_xact_lock(WRITE_LOCK)` then `nextval(message_id_seq)` × n: batches from every node
 *     commit one at a time, so message_ids increase with commit order cluster-wide;
 *  2. idempotence: (channel, from_uid, client_msg_no) already stored → answer the first message
 *     (checked after the lock, so no concurrent batch can slip one in; duplicates inside the batch too);
 *  3. `UPDATE channels SET last_msg_seq = last_msg_seq + n … RETURNING` per channel → gapless seqs;
 *  4. one multi-row INSERT of the messages (+ command-queue rows, stream anchors, sender read marks);
 *  5. COMMIT — only then is each send resolved and its `message` event emitted, in id order.
 * No SQL runs per message; a batch costs a fixed number of statements whatever its size.
 */
import { sql } from 'drizzle-orm'
import type { Db, Tx } from '../db/client'
import type { Logger } from '../log'
import { DomainError, notFound } from './errors'
import type { CoreEvents } from './events'
import { MESSAGE_COLUMNS, type MessageRow, toMessage } from './message-row'
import { channelKeyOf, rows } from './sql'
import type { Message, MessageHeader, SendResult } from './types'

/** history: seq > 0 in the channel; scoped: stored, seq 0; command: stored, seq 0, queued per recipient; live: not stored */
export type WriteKind = 'history' | 'scoped' | 'command' | 'live'

export interface WriteItem {
  kind: WriteKind
  /** stored channel id */
  channelId: string
  channelType: number
  fromUid: string
  clientMsgNo: string
  /** the client chose clientMsgNo (a generated one cannot collide, so needs no idempotence check) */
  clientSupplied: boolean
  header: MessageHeader
  setting: number
  payload: Uint8Array
  type: number
  status: number
  expire: number
  /** set on a stream's anchor: the stream row is created in the same transaction */
  openStream: string | null
  /** command-queue recipients (kind 'command') */
  recipients: string[]
  /** live delivery restricted to these uids */
  to?: string[]
  originConnection?: string
}

interface Pending {
  item: WriteItem
  resolve: (r: SendResult) => void
  reject: (e: unknown) => void
}

export const WRITE_LOCK = 727_002
const LINGER_MS = 1
const MAX_BATCH = 2000

export class GroupCommitWriter {
  private queue: Pending[] = []
  private running = false
  private timer: ReturnType<typeof setTimeout> | undefined
  private idleWaiters: (() => void)[] = []
  private lastUs = 0

  constructor(
    private readonly db: Db,
    private readonly events: CoreEvents,
    private readonly log: Logger,
  ) {}

  submit(item: WriteItem): Promise<SendResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject })
      if (!this.running && !this.timer) this.timer = setTimeout(() => void this.drain(), LINGER_MS)
    })
  }

  /** resolves once every accepted item is committed (or failed) */
  flush(): Promise<void> {
    if (!this.running && !this.timer && !this.queue.length) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  private async drain(): Promise<void> {
    this.timer = undefined
    this.running = true
    try {
      while (this.queue.length) {
        const batch = this.queue.splice(0, MAX_BATCH)
        await this.commitOrSplit(batch)
      }
    } finally {
      this.running = false
      if (this.queue.length) this.timer = setTimeout(() => void this.drain(), 0)
      else for (const w of this.idleWaiters.splice(0)) w()
    }
  }

  /** A failing batch is retried item by item, so one bad message cannot fail its neighbours. Safe: retries are idempotent. */
  private async commitOrSplit(batch: Pending[]): Promise<void> {
    try {
      await this.commit(batch)
    } catch (err) {
      if (batch.length === 1) {
        batch[0]!.reject(err)
        return
      }
      this.log.warn('batch commit failed, retrying one by one', { size: batch.length, error: err instanceof Error ? err.message : String(err) })
      for (const p of batch) {
        try {
          await this.commit([p])
        } catch (e) {
          p.reject(e)
        }
      }
    }
  }

  private async commit(batch: Pending[]): Promise<void> {
    const items = batch.map((p) => p.item)
    const now = Date.now()
    const timestamp = Math.floor(now / 1000)
    const firstUs = Math.max(now * 1000, this.lastUs + 1)
    this.lastUs = firstUs + items.length

    // Idempotence, part 1: duplicates inside the batch answer what their first occurrence gets.
    const dupOf = new Map<number, number>()
    const firstByKey = new Map<string, number>()
    const lookups: { i: number; c: string; t: number; f: string; n: string }[] = []
    items.forEach((it, i) => {
      if (it.kind === 'live') return
      const k = `${channelKeyOf(it.channelId, it.channelType)}\u0000${it.fromUid}\u0000${it.clientMsgNo}`
      const first = firstByKey.get(k)
      if (first !== undefined) dupOf.set(i, first)
      else {
        firstByKey.set(k, i)
        if (it.clientSupplied) lookups.push({ i, c: it.channelId, t: it.channelType, f: it.fromUid, n: it.clientMsgNo })
      }
    })

    const outcome = await this.db.transaction(async (tx) => {
      const ids = (await rows<{ id: number }>(
        tx,
        sql`select nextval('message_id_seq') as id from (select pg_advisory_xact_lock(${WRITE_LOCK})) l, generate_series(1, ${items.length})`,
      )).map((r) => Number(r.id)).sort((a, b) => a - b)

      const results: (Message | DomainError | undefined)[] = new Array(items.length)
      const fresh: boolean[] = new Array(items.length).fill(false)
      // Idempotence, part 2: against what is stored (after the lock: no concurrent batch can add one).
      if (lookups.length) {
        const found = await rows<MessageRow>(
          tx,
          sql`select ${sql.raw(MESSAGE_COLUMNS.split(', ').map((c) => 'm.' + c).join(', '))} from messages m
              join jsonb_to_recordset(${JSON.stringify(lookups)}::jsonb) as k(c text, t smallint, f text, n text)
              on m.channel_id = k.c and m.channel_type = k.t and m.from_uid = k.f and m.client_msg_no = k.n`,
        )
        const byKey = new Map(found.map((r) => [`${channelKeyOf(r.channel_id, Number(r.channel_type))}\u0000${r.from_uid}\u0000${r.client_msg_no}`, r]))
        for (const l of lookups) {
          const r = byKey.get(`${channelKeyOf(l.c, l.t)}\u0000${l.f}\u0000${l.n}`)
          if (r) results[l.i] = toMessage(r)
        }
      }

      // Seqs: one UPDATE … RETURNING for every channel with history messages in this batch.
      const perChannel = new Map<string, { c: string; t: number; n: number; last_id: number; next: number }>()
      items.forEach((it, i) => {
        if (it.kind !== 'history' || dupOf.has(i) || results[i]) return
        const k = channelKeyOf(it.channelId, it.channelType)
        const g = perChannel.get(k) ?? { c: it.channelId, t: it.channelType, n: 0, last_id: 0, next: 0 }
        g.n++
        g.last_id = ids[i]!
        perChannel.set(k, g)
      })
      if (perChannel.size) {
        const bumped = await rows<{ channel_id: string; channel_type: number; last_msg_seq: number }>(
          tx,
          sql`update channels c set last_msg_seq = c.last_msg_seq + v.n, last_message_id = greatest(c.last_message_id, v.last_id)
              from jsonb_to_recordset(${JSON.stringify([...perChannel.values()].map(({ c, t, n, last_id }) => ({ c, t, n, last_id })))}::jsonb)
                as v(c text, t smallint, n bigint, last_id bigint)
              where c.channel_id = v.c and c.channel_type = v.t and not c.is_delete
              returning c.channel_id, c.channel_type, c.last_msg_seq`,
        )
        for (const b of bumped) {
          const g = perChannel.get(channelKeyOf(b.channel_id, Number(b.channel_type)))!
          g.next = Number(b.last_msg_seq) - g.n + 1
        }
      }

      const inserts: Record<string, unknown>[] = []
      const queueCounts = new Map<string, number>()
      const readMarks = new Map<string, { u: string; c: string; t: number; s: number }>()
      const streamsOpened: { s: string; id: number; c: string; t: number; f: string }[] = []
      items.forEach((it, i) => {
        if (dupOf.has(i) || results[i]) return
        let seq = 0
        if (it.kind === 'history') {
          const g = perChannel.get(channelKeyOf(it.channelId, it.channelType))!
          if (!g.next) {
            results[i] = notFound(`channel ${it.channelId} (type ${it.channelType}) does not exist`)
            return
          }
          seq = g.next++
          if (it.fromUid) {
            const k = `${it.fromUid}\u0000${channelKeyOf(it.channelId, it.channelType)}`
            readMarks.set(k, { u: it.fromUid, c: it.channelId, t: it.channelType, s: seq })
          }
        }
        const message: Message = {
          messageId: ids[i]!,
          messageSeq: seq,
          clientMsgNo: it.clientMsgNo,
          fromUid: it.fromUid,
          channelId: it.channelId,
          channelType: it.channelType,
          header: it.header,
          setting: it.setting,
          timestamp,
          sendTimeUs: firstUs + i,
          payload: it.payload,
          type: it.type,
          status: it.status,
          streamNo: it.openStream,
          expire: it.expire,
        }
        results[i] = message
        fresh[i] = true
        if (it.kind === 'live') return
        inserts.push({
          id: message.messageId, seq, c: it.channelId, t: it.channelType, n: it.clientMsgNo, f: it.fromUid,
          r: it.header.redDot, so: it.header.syncOnce, st: it.setting, ts: timestamp, us: message.sendTimeUs,
          p: Buffer.from(it.payload.buffer, it.payload.byteOffset, it.payload.byteLength).toString('base64'),
          ty: it.type, s: it.status, sn: it.openStream, ex: it.expire,
        })
        if (it.kind === 'command') for (const u of it.recipients) queueCounts.set(u, (queueCounts.get(u) ?? 0) + 1)
        if (it.openStream) streamsOpened.push({ s: it.openStream, id: message.messageId, c: it.channelId, t: it.channelType, f: it.fromUid })
      })

      if (inserts.length) {
        await tx.execute(sql`insert into messages (${sql.raw(MESSAGE_COLUMNS)})
          select id, seq, c, t, n, f, r, so, st, ts, us, decode(p, 'base64'), ty, s, sn, ex
          from jsonb_to_recordset(${JSON.stringify(inserts)}::jsonb)
            as x(id bigint, seq bigint, c text, t smallint, n text, f text, r smallint, so smallint, st smallint,
                 ts integer, us bigint, p text, ty integer, s integer, sn text, ex integer)`)
      }
      if (queueCounts.size) await this.enqueueCommands(tx, items, results, fresh, queueCounts)
      if (streamsOpened.length) {
        await tx.execute(sql`insert into streams (stream_no, message_id, channel_id, channel_type, from_uid)
          select s, id, c, t, f from jsonb_to_recordset(${JSON.stringify(streamsOpened)}::jsonb) as x(s text, id bigint, c text, t smallint, f text)`)
      }
      if (readMarks.size) {
        // Sending marks the channel read for the sender (one upsert per batch, not per message).
        await tx.execute(sql`insert into conversations (uid, channel_id, channel_type, read_seq)
          select u, c, t, s from jsonb_to_recordset(${JSON.stringify([...readMarks.values()])}::jsonb) as x(u text, c text, t smallint, s bigint)
          on conflict (uid, channel_id, channel_type)
          do update set read_seq = greatest(conversations.read_seq, excluded.read_seq), unread_base = 0`)
      }
      return { results, fresh }
    })

    // After COMMIT: acknowledge, then tell the real-time layer — in message_id order.
    // (a plain loop: `results` has holes where in-batch duplicates are, which forEach would skip)
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i]!
      const first = dupOf.get(i)
      const answer = first !== undefined ? outcome.results[first] : outcome.results[i]
      if (answer === undefined) p.reject(new Error('message lost in batch'))
      else if (answer instanceof DomainError) p.reject(answer)
      else {
        p.resolve({ messageId: answer.messageId, messageSeq: answer.messageSeq, clientMsgNo: answer.clientMsgNo, message: answer })
        if (outcome.fresh[i]) this.events.emit({ type: 'message', message: answer, to: p.item.to, originConnection: p.item.originConnection })
      }
    }
  }

  /** Write diffusion for sync_once messages: per-uid gapless queue seqs from users.cmd_last_seq. */
  private async enqueueCommands(
    tx: Tx,
    items: WriteItem[],
    results: (Message | DomainError | undefined)[],
    fresh: boolean[],
    counts: Map<string, number>,
  ): Promise<void> {
    const bumped = await rows<{ uid: string; cmd_last_seq: number }>(
      tx,
      sql`insert into users (uid, cmd_last_seq)
          select u, n from jsonb_to_recordset(${JSON.stringify([...counts].sort(([a], [b]) => (a < b ? -1 : 1)).map(([u, n]) => ({ u, n })))}::jsonb) as v(u text, n bigint)
          on conflict (uid) do update set cmd_last_seq = users.cmd_last_seq + excluded.cmd_last_seq
          returning uid, cmd_last_seq`,
    )
    const next = new Map(bumped.map((b) => [b.uid, Number(b.cmd_last_seq) - counts.get(b.uid)! + 1]))
    const queued: { u: string; s: number; id: number }[] = []
    items.forEach((it, i) => {
      if (it.kind !== 'command' || !fresh[i]) return
      const m = results[i] as Message
      for (const u of it.recipients) {
        const s = next.get(u)!
        next.set(u, s + 1)
        queued.push({ u, s, id: m.messageId })
      }
    })
    await tx.execute(sql`insert into command_queue (uid, seq, message_id)
      select u, s, id from jsonb_to_recordset(${JSON.stringify(queued)}::jsonb) as x(u text, s bigint, id bigint)`)
  }
}
