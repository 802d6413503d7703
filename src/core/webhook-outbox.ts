/**
 * The webhook outbox (`webhook_outbox`): events waiting for delivery, so a restart loses none.
 * `msg.notify` rows are written by the group-commit writer inside the message batch itself
 * (writer.ts, BATCH_STATEMENT_WITH_OUTBOX); the other events are queued here after COMMIT.
 *
 * Several nodes share the table: `claim()` takes due rows with `FOR UPDATE SKIP LOCKED` and, in the
 * same statement, pushes their next attempt a lease into the future, so no other node takes them
 * while this one delivers (no transaction stays open across the HTTP call). A node that dies
 * mid-delivery leaves the rows to be taken again when the lease ends: at least once.
 * Times are the database's clock (one clock for every node).
 */
import { sql } from 'drizzle-orm'
import type { Db } from '../db/client'
import { MESSAGE_COLUMNS, type MessageRow, toMessage } from './message-row'
import { rows } from './sql'
import type { Message } from './types'

export interface OutboxEntry {
  event: string
  body: unknown
}

export interface ClaimedEntry extends OutboxEntry {
  id: number
  /** attempts so far, this one included */
  attempts: number
}

const NOW_MS = sql.raw(`(extract(epoch from clock_timestamp()) * 1000)::bigint`)

export interface WebhookOutbox {
  enqueue(entries: OutboxEntry[]): Promise<void>
  /** up to `limit` due rows, leased to the caller for `leaseMs` */
  claim(limit: number, leaseMs: number): Promise<ClaimedEntry[]>
  /** delivered: gone (one statement for all of them) */
  complete(ids: number[]): Promise<void>
  /** not delivered: try again in `delayMs` */
  retryLater(id: number, delayMs: number): Promise<void>
  /** rows waiting (due or not) */
  backlog(): Promise<number>
  /** the stored messages of these ids (those that still exist), in id order */
  messages(ids: number[]): Promise<Message[]>
}

export function createWebhookOutbox(db: Db): WebhookOutbox {
  return {
    async enqueue(entries) {
      if (!entries.length) return
      const doc = JSON.stringify(entries.map((e) => ({ e: e.event, b: e.body })))
      await db.execute(sql`insert into webhook_outbox (event, body)
        select x.e, x.b from jsonb_to_recordset(${doc}::text::jsonb) as x(e text, b jsonb)`)
    },

    async claim(limit, leaseMs) {
      const found = await rows<{ id: number; event: string; body: unknown; attempts: number }>(
        db,
        sql`with due as (
              select id from webhook_outbox where next_attempt_at <= ${NOW_MS}
              order by next_attempt_at, id limit ${limit} for update skip locked
            )
            update webhook_outbox w set attempts = w.attempts + 1, next_attempt_at = ${NOW_MS} + ${leaseMs}::bigint
            from due where w.id = due.id
            returning w.id, w.event, w.body, w.attempts`,
      )
      return found
        .map((r) => ({ id: Number(r.id), event: r.event, body: typeof r.body === 'string' ? JSON.parse(r.body) : r.body, attempts: Number(r.attempts) }))
        .sort((a, b) => a.id - b.id)
    },

    async complete(ids) {
      if (!ids.length) return
      await db.execute(sql`delete from webhook_outbox where id in (select jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb)::bigint)`)
    },

    async retryLater(id, delayMs) {
      await db.execute(sql`update webhook_outbox set next_attempt_at = ${NOW_MS} + ${Math.max(0, Math.round(delayMs))}::bigint where id = ${id}`)
    },

    async backlog() {
      const [r] = await rows<{ n: number }>(db, sql`select count(*)::int as n from webhook_outbox`)
      return Number(r?.n ?? 0)
    },

    async messages(ids) {
      if (!ids.length) return []
      const found = await rows<MessageRow>(
        db,
        sql`select ${sql.raw(MESSAGE_COLUMNS)} from messages
            where message_id in (select jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb)::bigint) order by message_id`,
      )
      return found.map(toMessage)
    },
  }
}
