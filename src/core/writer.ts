/**
 * The group-commit writer: every message that takes a message_id goes through here.
 *
 * Sends queue until the event loop's current turn is over (or while the previous batch executes):
 * a timer would be worse — Bun's timers fire after ≥ 1 ms, and a sleep and wake-up of the event
 * loop costs tens of µs of CPU in a VM — then the whole batch is ONE
 * SQL statement (BATCH_STATEMENTS: one round trip, one implicit transaction, prepared; on Postgres
 * run on a dedicated connection with a generic plan, so it is never planned again):
 *  1. `pg_advisory_xact_lock(WRITE_LOCK)` then `nextval(message_id_seq)` × n: batches from every node
 *     commit one at a time, so message_ids increase with commit order cluster-wide;
 *  2. idempotence: (channel, from_uid, client_msg_no) already stored → answer the first message
 *     (duplicates inside the batch are folded before, in memory). Optimistic: the first attempt
 *     skips the lookups and lets the unique index reject a repeat; only then the batch runs again
 *     with them (see commitOrSplit);
 *  3. `UPDATE channels SET last_msg_seq = last_msg_seq + n … RETURNING` per channel → gapless seqs;
 *  4. multi-row INSERTs of the messages, command-queue rows, stream anchors (and, when the batch
 *     commits synchronously — always on PGlite — the senders' read marks);
 *  5. COMMIT — only then is each send resolved and its `message` event emitted, in id order.
 *     A node alone on its database commits every batch synchronously with its read marks: one
 *     round trip, one transaction (the lock it holds through the fsync is wanted by no other
 *     writer). In a cluster the same holds while the WAL flush is fast (FlushGauge: the fastest
 *     recent barrier flush ≤ 5 ms); while it is slow the COMMIT is asynchronous
 *     (`synchronous_commit = off` for that transaction, so no node holds the cluster's write
 *     lock through a slow fsync); the senders' read marks are then written outside the lock by a
 *     second statement that commits synchronously and so is the batch's WAL flush (a batch
 *     without read marks asks the WalBarrier); it overlaps the next batch's statement; batches
 *     answer in commit order.
 * No SQL runs per message; a batch costs one statement whatever its size.
 * Live (no_persist) messages skip the batch: their ids come from a block reserved ahead (IdBlock).
 */
import { sql } from 'drizzle-orm'
import type { Db } from '../db/client'
import { IDEMPOTENCE_KEY } from '../db/schema'
import type { Logger } from '../log'
import { DomainError, notFound } from './errors'
import type { CoreEvents } from './events'
import { MESSAGE_COLUMNS, type MessageRow, toMessage } from './message-row'
import { IdBlock } from './id-block'
import type { RawQuery } from './raw-query'
import { FlushGauge } from './flush-gauge'
import { WAL_FLUSH, WalBarrier } from './wal-barrier'
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
  /** performance.now() at submit (send-to-commit latency) */
  at: number
}

/**
 * Told of every acknowledged send (metrics). Called synchronously on the write path: it must be
 * cheap and must not throw. `commitMs` is submit → COMMIT (0 for live messages).
 */
export interface WriteObserver {
  acknowledged(kind: WriteKind, viaConnection: boolean, commitMs: number): void
  /**
   * a batch statement returned (committed): its size, its wall time, ms (the write lock is held
   * that long), and whether it committed synchronously (else it waits for a WAL-flush statement)
   */
  batchCommitted(items: number, statementMs: number, synchronous: boolean): void
  /** a WAL-flush barrier statement (a batch without read marks, or the gauge's probe) took this long, ms */
  walFlushed(ms: number): void
}

export interface WriterOptions {
  observer?: WriteObserver
  /** webhooks on: each batch also queues its stored messages' `msg.notify` rows, in the same transaction */
  webhookOutbox?: boolean
  /**
   * other nodes write to this database too (a cluster): a slow WAL flush then moves out of the
   * write lock (asynchronous commits + barrier). Alone, every batch commits synchronously.
   */
  clustered?: boolean
  /** in a cluster, judges the WAL flush's speed, so the commit mode (default: a FlushGauge; tests pin a mode) */
  flushGauge?: FlushGauge
}

export const WRITE_LOCK = 727_002
const MAX_BATCH = 2000

export class GroupCommitWriter {
  private queue: Pending[] = []
  private running = false
  /** a drain is scheduled for the end of this event-loop turn */
  private scheduled: ReturnType<typeof setImmediate> | undefined
  private idleWaiters: (() => void)[] = []
  private lastUs = 0
  private readonly liveIds: IdBlock
  private readonly outbox: boolean
  private readonly observer: WriteObserver | undefined
  /** clustered Postgres: batches may commit asynchronously and answer after a WAL-flush barrier (decided on first use) */
  private barrier: Promise<WalBarrier | undefined> | undefined
  /** answers of committed batches waiting for their barrier, released in batch order */
  private released: Promise<void> = Promise.resolve()
  /** asynchronously committed batches not yet answered (their WAL flush pending) */
  private unflushed = 0
  /** how long a WAL flush takes now: fast → batches commit synchronously */
  private readonly flushes: FlushGauge
  /** other nodes take the write lock too */
  private readonly clustered: boolean

  constructor(
    private readonly db: Db,
    private readonly query: RawQuery,
    private readonly events: CoreEvents,
    private readonly log: Logger,
    options: WriterOptions = {},
  ) {
    this.liveIds = new IdBlock(query)
    this.outbox = options.webhookOutbox ?? false
    this.observer = options.observer
    this.flushes = options.flushGauge ?? new FlushGauge()
    this.clustered = options.clustered ?? false
  }

  submit(item: WriteItem): Promise<SendResult> {
    if (item.kind === 'live') return this.live(item)
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject, at: performance.now() })
      if (!this.running && !this.scheduled) this.scheduled = setImmediate(() => void this.drain())
    })
  }

  /** no_persist: nothing to commit; an id from the reserved block, then straight to live delivery */
  private async live(item: WriteItem): Promise<SendResult> {
    const messageId = await this.liveIds.take()
    // Yield to the event loop first, as a stored send does while it commits: a caller looping over
    // live sends must not publish them all in one tick (sockets would get no chance to drain).
    await new Promise((r) => setImmediate(r))
    const now = Date.now()
    this.lastUs = Math.max(now * 1000, this.lastUs + 1)
    const message: Message = {
      messageId,
      messageSeq: 0,
      clientMsgNo: item.clientMsgNo,
      fromUid: item.fromUid,
      channelId: item.channelId,
      channelType: item.channelType,
      header: item.header,
      setting: item.setting,
      timestamp: Math.floor(now / 1000),
      sendTimeUs: this.lastUs,
      payload: item.payload,
      type: item.type,
      status: item.status,
      streamNo: null,
      expire: item.expire,
    }
    this.observer?.acknowledged('live', item.originConnection !== undefined, 0)
    this.events.emit({ type: 'message', message, to: item.to, originConnection: item.originConnection })
    return { messageId, messageSeq: 0, clientMsgNo: item.clientMsgNo, message }
  }

  /** resolves once every accepted item is committed and answered (or failed) */
  async flush(): Promise<void> {
    for (;;) {
      if (this.running || this.scheduled || this.queue.length) await new Promise<void>((resolve) => this.idleWaiters.push(resolve))
      const released = this.released
      await released
      if (released === this.released && !this.running && !this.scheduled && !this.queue.length) return
    }
  }

  /**
   * A cluster on real Postgres, when the server lets us write a WAL record: async commits +
   * barrier while the flush is slow. Otherwise each batch commits synchronously: alone on the
   * database, holding the write lock through the fsync delays no other node, and one statement per
   * batch beats two (measured with a 10 ms fsync: docs/performance.md, "Round of 2026-12-04");
   * PGlite has one connection, nothing to overlap.
   */
  private useBarrier(): Promise<WalBarrier | undefined> {
    this.barrier ??= this.query.kind !== 'postgres' || !this.clustered
      ? Promise.resolve(undefined)
      : this.query(WAL_FLUSH, []).then(
          () => new WalBarrier(this.query, (ms) => this.flushMeasured(ms)),
          (e) => {
            this.log.warn('WAL flush barrier unavailable: batches commit synchronously', { error: e instanceof Error ? e.message : String(e) })
            return undefined
          },
        )
    return this.barrier
  }

  private flushMeasured(ms: number): void {
    this.flushes.record(ms)
    this.observer?.walFlushed(ms)
  }

  private async drain(): Promise<void> {
    this.scheduled = undefined
    this.running = true
    try {
      const barrier = await this.useBarrier()
      while (this.queue.length) {
        // Let the senders just acknowledged queue their next message first: batches stay full.
        await new Promise((r) => setImmediate(r))
        const batch = this.queue.splice(0, MAX_BATCH)
        const started = performance.now()
        // In a cluster, while WAL flushes are fast, every batch commits synchronously, read marks
        // included: one statement, one transaction, the write lock held through a short fsync.
        // While they are slow (or not yet measured) batches commit asynchronously and their
        // flushes overlap the next batch's statement, so no node holds the cluster's write lock
        // through a slow fsync.
        if (barrier) this.flushes.probeIfStale(() => barrier.request())
        const asyncCommit = barrier !== undefined && !this.flushes.fast
        const committed = await this.commitOrSplit(batch, asyncCommit)
        this.observer?.batchCommitted(batch.length, performance.now() - started, !asyncCommit)
        const answers = committed.map((c) => c.answer)
        if (!asyncCommit || !barrier) {
          if (this.unflushed === 0) for (const answer of answers) answer()
          // an earlier asynchronous batch still awaits its flush: answer after it, in commit order
          else this.released = this.released.then(() => answers.forEach((answer) => answer()))
          continue
        }
        // Committed (visible, lock released) but maybe not yet on disk. The senders' read marks
        // are written now, outside the write lock, while the next batch executes, by a statement
        // that commits synchronously and so is this batch's WAL flush; a batch without read marks
        // asks the barrier. Batches answer in commit order.
        const marks = committed.flatMap((c) => c.readMarks)
        const durable = marks.length ? this.writeReadMarks(marks) : barrier.request()
        this.unflushed++
        this.released = this.released.then(() =>
          durable
            .then(
              () => answers.forEach((answer) => answer()),
              (e: unknown) => answers.forEach((answer) => answer(e)),
            )
            .finally(() => {
              this.unflushed--
            }),
        )
      }
    } finally {
      this.running = false
      if (this.queue.length) this.scheduled = setImmediate(() => void this.drain())
      else for (const w of this.idleWaiters.splice(0)) w()
    }
  }

  /**
   * Idempotence is optimistic: a batch first runs without looking its client_msg_nos up (a probe
   * per message, ≈ 10 % of the statement); a repeat then fails the whole statement on the unique
   * index (nothing is written) and the batch runs again with the lookups. A repeat so costs one
   * extra statement, never a wrong answer.
   * A batch that still fails is retried item by item, so one bad message cannot fail its
   * neighbours. Safe: retries are idempotent. A unique violation then means another node stored
   * the same (channel, from_uid, client_msg_no) after this statement's snapshot: the retry sees it
   * and answers it.
   */
  private async commitOrSplit(batch: Pending[], asyncCommit: boolean): Promise<Committed[]> {
    try {
      if (batch.some((p) => p.item.clientSupplied)) {
        try {
          return [await this.commit(batch, asyncCommit, false)]
        } catch (err) {
          if (!isUniqueViolation(err)) throw err
        }
      }
      return [await this.commit(batch, asyncCommit, true)]
    } catch (err) {
      if (batch.length > 1) this.log.warn('batch commit failed, retrying one by one', { size: batch.length, error: err instanceof Error ? err.message : String(err) })
      else if (!isUniqueViolation(err)) {
        batch[0]!.reject(err)
        return []
      }
    }
    const answers: Committed[] = []
    for (const p of batch) {
      // The failed attempt may have committed: on retry, look every item up, generated numbers too.
      p.item.clientSupplied = true
      for (let attempt = 1; ; attempt++) {
        try {
          answers.push(await this.commit([p], asyncCommit, true))
          break
        } catch (e) {
          if (attempt < 3 && isUniqueViolation(e)) continue
          p.reject(e)
          break
        }
      }
    }
    return answers
  }

  /**
   * Postgres (async commits): the senders' read marks of a committed batch, in one statement on
   * the pool that also writes a WAL record and commits synchronously: when it returns, the batch
   * (committed before it started) is on disk too. Statements of consecutive batches may overlap
   * (Postgres then flushes their commits together); each locks its rows in one sorted order, so
   * they cannot deadlock one another.
   */
  private writeReadMarks(marks: ReadMark[]): Promise<void> {
    marks.sort((a, b) => (a.f < b.f ? -1 : a.f > b.f ? 1 : a.c < b.c ? -1 : a.c > b.c ? 1 : a.t - b.t))
    return this.query(READ_MARKS_AND_FLUSH, [JSON.stringify(marks)]).then(() => {})
  }

  /**
   * Runs the batch statement; returns the batch's answers, to give once the commit is durable,
   * and (async commits) the senders' read marks still to write.
   */
  private async commit(batch: Pending[], asyncCommit: boolean, probe: boolean): Promise<Committed> {
    const items = batch.map((p) => p.item)
    const now = Date.now()
    const timestamp = Math.floor(now / 1000)
    const firstUs = Math.max(now * 1000, this.lastUs + 1)
    this.lastUs = firstUs + items.length

    // Idempotence, part 1: duplicates inside the batch answer what their first occurrence gets.
    const dupOf = new Map<number, number>()
    const firstByKey = new Map<string, number>()
    const rowsIn: Record<string, unknown>[] = []
    items.forEach((it, i) => {
      if (it.kind !== 'live') {
        const k = `${channelKeyOf(it.channelId, it.channelType)}\u0000${it.fromUid}\u0000${it.clientMsgNo}`
        const first = firstByKey.get(k)
        if (first !== undefined) {
          dupOf.set(i, first)
          return
        }
        firstByKey.set(k, i)
      }
      // Only what differs from the statement's defaults: Postgres converts every field it is given.
      const row: Record<string, unknown> = {
        i, c: it.channelId, t: it.channelType, n: it.clientMsgNo, f: it.fromUid,
        p: it.kind === 'live' ? '' : Buffer.from(it.payload.buffer, it.payload.byteOffset, it.payload.byteLength).toString('base64'),
      }
      if (it.kind !== 'history') row.k = KIND_CODE[it.kind]
      if (it.clientSupplied) row.cs = true
      if (it.header.redDot !== 1) row.r = it.header.redDot
      if (it.header.syncOnce) row.so = it.header.syncOnce
      if (it.setting) row.st = it.setting
      if (it.type) row.ty = it.type
      if (it.status) row.s = it.status
      if (it.openStream !== null) row.sn = it.openStream
      if (it.expire) row.ex = it.expire
      if (it.kind === 'command') row.rc = it.recipients
      rowsIn.push(row)
    })

    const statement = BATCH_STATEMENTS[(this.outbox ? 1 : 0) + (asyncCommit ? 2 : 0) + (probe ? 4 : 0)]!
    const out = await this.query.generic<{ i: number; id: number; seq: number; missing: boolean; dup: boolean }>(statement, [JSON.stringify(rowsIn), rowsIn.length, timestamp, firstUs])

    // Answers for messages stored before (idempotent repeats): read back after the fact.
    const stored = new Map<number, Message>()
    const dupIds = out.filter((r) => r.dup).map((r) => Number(r.id))
    if (dupIds.length) {
      const found = await rows<MessageRow>(this.db, sql`select ${sql.raw(MESSAGE_COLUMNS)} from messages where message_id in (select jsonb_array_elements_text(${JSON.stringify(dupIds)}::jsonb)::bigint)`)
      for (const r of found) stored.set(Number(r.message_id), toMessage(r))
    }
    const results: (Message | DomainError | undefined)[] = new Array(items.length).fill(undefined)
    const fresh: boolean[] = new Array(items.length).fill(false)
    for (const r of out) {
      const i = Number(r.i)
      const it = items[i]!
      if (r.dup) results[i] = stored.get(Number(r.id))
      else if (r.missing) results[i] = notFound(`channel ${it.channelId} (type ${it.channelType}) does not exist`)
      else {
        fresh[i] = true
        results[i] = {
          messageId: Number(r.id),
          messageSeq: Number(r.seq),
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
      }
    }

    // Sending marks the channel read for the sender, up to the message (stored now or before).
    const readMarks: ReadMark[] = []
    if (asyncCommit) {
      const newest = new Map<string, ReadMark>()
      results.forEach((m) => {
        if (!m || m instanceof DomainError || m.messageSeq <= 0 || m.fromUid === '') return
        const k = `${m.fromUid}\u0000${m.channelType}\u0000${m.channelId}`
        const mark = newest.get(k)
        if (!mark) newest.set(k, { f: m.fromUid, c: m.channelId, t: m.channelType, s: m.messageSeq })
        else mark.s = Math.max(mark.s, m.messageSeq)
      })
      readMarks.push(...newest.values())
    }

    // After COMMIT (and, async, the WAL flush): acknowledge, then tell the real-time layer — in message_id order.
    const answer = (failed?: unknown) => {
      if (failed !== undefined) {
        for (const p of batch) p.reject(failed)
        return
      }
      const committedAt = performance.now()
      for (let i = 0; i < batch.length; i++) {
        const p = batch[i]!
        const first = dupOf.get(i)
        const answer = first !== undefined ? results[first] : results[i]
        if (answer === undefined) p.reject(new Error('message lost in batch'))
        else if (answer instanceof DomainError) p.reject(answer)
        else {
          p.resolve({ messageId: answer.messageId, messageSeq: answer.messageSeq, clientMsgNo: answer.clientMsgNo, message: answer })
          this.observer?.acknowledged(p.item.kind, p.item.originConnection !== undefined, committedAt - p.at)
          if (fresh[i]) this.events.emit({ type: 'message', message: answer, to: p.item.to, originConnection: p.item.originConnection })
        }
      }
    }
    return { answer, readMarks }
  }
}

/** A sender's read mark: uid f has read channel (c, t) up to seq s. */
interface ReadMark {
  f: string
  c: string
  t: number
  s: number
}

interface Committed {
  answer: Answer
  readMarks: ReadMark[]
}

/** Settles a committed batch's sends: resolves them, or rejects them all with `failed`. */
type Answer = (failed?: unknown) => void

/** Postgres 23505 on either driver (Drizzle wraps the driver's error as `cause`). */
function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; cause?: { code?: string } } | undefined
  return e?.code === '23505' || e?.cause?.code === '23505'
}

const KIND_CODE: Record<WriteKind, string> = { history: 'h', scoped: 's', command: 'c', live: 'l' }

/**
 * The whole batch as ONE statement (so one round trip and an implicit transaction):
 *   lk      the cluster-wide write lock (held to the implicit COMMIT);
 *   ids     one nextval per item, taken after the lock (nextval is evaluated on rows joined with lk);
 *   dup     items whose (channel, from_uid, client_msg_no) is already stored (compared as
 *           IDEMPOTENCE_KEY, so only messages_idempotence_idx can serve it, statistics or not;
 *           one probe per item through LATERAL … LIMIT 1, so a generic plan — which guesses
 *           1000 items — cannot choose to hash the whole messages table instead);
 *   bump    one UPDATE … RETURNING per channel with history items → their gapless seqs and
 *           red-dot ranks (the channel's running count of red-dot messages: unread counting);
 *   ins     the messages (live ones are not stored); streams for stream anchors;
 *   ub/qi   command-queue seqs per recipient (users.cmd_last_seq) and the queue rows;
 *   rm      the sender's read mark (sending marks the channel read) — synchronous commits only;
 * and returns, per item, its id and seq (or dup / missing channel).
 * The statement snapshot predates the lock, so a duplicate committed by ANOTHER node in that
 * instant is caught by the unique index instead: the batch fails and is retried item by item.
 * The UPDATE itself always sees the newest channel row (READ COMMITTED re-checks locked rows).
 */
// `$1::text::json`: the parameter is typed text, so no driver re-encodes the JSON string; `json`,
// not `jsonb`: read once, so no binary form is worth building (256 items: 1.0–2.0 ms, 3.2–3.9 ms as jsonb).
// asyncCommit: `synchronous_commit = off` for this transaction only (answers wait for WalBarrier).
// probe: look client-supplied client_msg_nos up (else `dup` is empty and a repeat fails the statement).
const batchStatement = (outboxCte: string, asyncCommit: boolean, probe: boolean) => `
with lk as materialized (select pg_advisory_xact_lock(${WRITE_LOCK}) as l${asyncCommit ? `, set_config('synchronous_commit', 'off', true) as sc` : ''}),
ids as materialized (select nextval('message_id_seq') as id from lk, generate_series(1, $2::int)),
idr as (select id, row_number() over (order by id) as rn from ids),
xr as (
  select x.i, coalesce(x.k, 'h') as k, x.c, x.t, x.n, x.f, coalesce(x.cs, false) as cs, coalesce(x.r, 1::smallint) as r,
    coalesce(x.so, 0::smallint) as so, coalesce(x.st, 0::smallint) as st, $3::int as ts, $4::bigint + x.i as us, x.p,
    coalesce(x.ty, 0) as ty, coalesce(x.s, 0) as s, x.sn, coalesce(x.ex, 0) as ex, x.rc,
    row_number() over (order by x.i) as rn
  from json_to_recordset($1::text::json) as x(i int, k text, c text, t smallint, n text, f text, cs boolean,
    r smallint, so smallint, st smallint, p text, ty integer, s integer, sn text, ex integer, rc json)
),
x as materialized (select xr.*, idr.id from xr join idr on idr.rn = xr.rn),
dup as materialized (${probe ? `
  select k.i, m.message_id
  from (select x.i, x.c as channel_id, x.t as channel_type, x.f as from_uid, x.n as client_msg_no from x where x.cs and x.k <> 'l') k
  cross join lateral (select m.message_id from messages m where ${IDEMPOTENCE_KEY('m')} = ${IDEMPOTENCE_KEY('k')} limit 1) m` : `
  select null::int as i, null::bigint as message_id where false`}
),
fresh as materialized (select x.* from x where not exists (select 1 from dup where dup.i = x.i)),
cnt as (select c, t, count(*) as n, count(*) filter (where r = 1) as rd, max(id) as last_id from fresh where k = 'h' group by c, t),
bump as (
  update channels ch set last_msg_seq = ch.last_msg_seq + cnt.n, last_message_id = greatest(ch.last_message_id, cnt.last_id),
    red_dot_count = ch.red_dot_count + cnt.rd
  from cnt where ch.channel_id = cnt.c and ch.channel_type = cnt.t and not ch.is_delete
  returning ch.channel_id, ch.channel_type, ch.last_msg_seq, cnt.n, ch.red_dot_count, cnt.rd
),
num as materialized (
  select f.*,
    case when f.k = 'h' then coalesce(b.last_msg_seq - b.n + row_number() over (partition by f.c, f.t, f.k order by f.id), 0) else 0 end as seq,
    case when f.k = 'h' then coalesce(b.red_dot_count - b.rd + count(*) filter (where f.r = 1) over (partition by f.c, f.t, f.k order by f.id), 0) else 0 end as rdr,
    (f.k = 'h' and b.channel_id is null) as missing
  from fresh f left join bump b on f.k = 'h' and b.channel_id = f.c and b.channel_type = f.t
),
ins as (
  insert into messages (${MESSAGE_COLUMNS}, red_dot_rank)
  select id, seq, c, t, n, f, r, so, st, ts, us, decode(p, 'base64'), ty, s, sn, ex, rdr from num where k <> 'l' and not missing
),
st as (
  insert into streams (stream_no, message_id, channel_id, channel_type, from_uid)
  select sn, id, c, t, f from num where sn is not null and not missing
),
qr as (
  select u.value as u, num.id, row_number() over (partition by u.value order by num.id) as rn
  from num cross join lateral json_array_elements_text(num.rc) as u(value) where num.k = 'c'
),
qc as (select u, count(*) as n from qr group by u),
ub as (
  insert into users (uid, cmd_last_seq) select u, n from qc
  on conflict (uid) do update set cmd_last_seq = users.cmd_last_seq + excluded.cmd_last_seq
  returning uid, cmd_last_seq
),
qi as (
  insert into command_queue (uid, seq, message_id)
  select qr.u, ub.cmd_last_seq - qc.n + qr.rn, qr.id from qr join qc on qc.u = qr.u join ub on ub.uid = qr.u
)${asyncCommit ? '' : READ_MARK_CTE}${outboxCte}
select i, id, seq, missing, false as dup from num
union all
select i, message_id as id, 0 as seq, false as missing, true as dup from dup`

/**
 * The senders' read marks (sending marks the channel read). In the batch statement when it
 * commits synchronously (PGlite; Postgres when the writer was idle); with async commits a separate
 * statement outside the write lock (READ_MARKS_AND_FLUSH), before the answers. A mark only moves forward; only then is the
 * unread base reset, so a later explicit set-unread is never undone by an older send.
 */
const READ_MARK_CTE = `,
rm as (
  insert into conversations (uid, channel_id, channel_type, read_seq)
  select f, c, t, max(seq) from num where k = 'h' and f <> '' and not missing group by f, c, t
  on conflict (uid, channel_id, channel_type)
  do update set read_seq = excluded.read_seq, unread_base = 0 where conversations.read_seq < excluded.read_seq
)`

/** Committed synchronously: also the WAL flush of the batch before it (see WAL_FLUSH). */
const READ_MARKS_AND_FLUSH = `
with flush as materialized (${WAL_FLUSH})
insert into conversations (uid, channel_id, channel_type, read_seq)
select x.f, x.c, x.t, x.s from flush, json_to_recordset($1::text::json) as x(f text, c text, t smallint, s bigint)
on conflict (uid, channel_id, channel_type)
do update set read_seq = excluded.read_seq, unread_base = 0 where conversations.read_seq < excluded.read_seq`

/**
 * Webhooks on: `msg.notify` rows for the batch's fresh stored messages, ≤ 100 ids per row, queued
 * in the same transaction as the messages (src/core/webhook-outbox.ts delivers them).
 */
const OUTBOX_CTE = `,
wh as (
  insert into webhook_outbox (event, body)
  select 'msg.notify', jsonb_build_object('message_ids', jsonb_agg(id order by id))
  from (select id, (row_number() over (order by id) - 1) / 100 as g from num where k <> 'l' and not missing) s
  group by g
)`

/** Indexed by (outbox ? 1 : 0) + (asyncCommit ? 2 : 0) + (probe ? 4 : 0); each text is constant, so it stays prepared. */
const BATCH_STATEMENTS = [0, 1, 2, 3, 4, 5, 6, 7].map((k) => batchStatement(k & 1 ? OUTBOX_CTE : '', (k & 2) !== 0, (k & 4) !== 0))

