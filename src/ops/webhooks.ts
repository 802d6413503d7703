/**
 * Webhooks (SPEC §7): `POST <IM_WEBHOOK_URL>?event=<name>` with WuKongIM's JSON bodies.
 *
 * - `msg.notify`: stored messages, ≤ 100 per call, as in /channel/messagesync. Queued by the writer
 *   in the same transaction as the messages (rows hold the ids; bodies are built when sent).
 * - `msg.offline`: one stored message + `to_uids`, its recipients with no live connection, asked of
 *   the PresenceService (cluster-wide when clustered: one query per flush, not per message).
 *   Computed by the node that committed the message; queued after COMMIT.
 * - `user.onlinestatus`: `["uid-device_flag-online-connection_id-device_online_count-total_online_count", …]`,
 *   ≤ 100 per call, from this node's connections. Queued after the fact.
 *
 * Everything goes through `webhook_outbox` (src/core/webhook-outbox.ts): delivered at least once,
 * retried with exponential back-off, surviving restarts; rows are leased so nodes never POST the
 * same row concurrently. Memory is bounded by one claim batch plus what is queued between flushes.
 */
import type { Core } from '../core/core'
import type { PresenceService } from '../core/presence'
import type { CoreEvent } from '../core/events'
import type { ClaimedEntry, OutboxEntry, WebhookOutbox } from '../core/webhook-outbox'
import type { Logger } from '../log'
import type { Hub } from '../realtime/hub'
import type { HubConnection } from '../realtime/types'
import { messageJson } from '../api/wukongim/json'

/** Tunables (adjustable at run time, e.g. by tests). */
export const webhookLimits = {
  /** first retry after this; doubles per attempt up to retryMaxMs */
  retryBaseMs: 1000,
  retryMaxMs: 5 * 60_000,
  /** a claimed row is invisible to other nodes this long (> timeoutMs) */
  leaseMs: 60_000,
  /** one POST may take this long */
  timeoutMs: 10_000,
  /** rows claimed (and POSTed concurrently) at once */
  claimBatch: 32,
  /** with nothing due, look again this often (other nodes' rows, retries coming due) */
  idlePollMs: 1000,
  /** events queued after COMMIT are written at most this late, in one INSERT */
  flushMs: 20,
  /** while the database refuses them, at most this many events wait in memory (the oldest go first) */
  maxUnwritten: 100_000,
}

export const MSG_NOTIFY = 'msg.notify'
export const MSG_OFFLINE = 'msg.offline'
export const USER_ONLINESTATUS = 'user.onlinestatus'
const PER_CALL = 100
const OFFLINE_UIDS_PER_CALL = 1000

export interface WebhooksOptions {
  url: string
  core: Pick<Core, 'events' | 'channels'>
  hub: Hub
  /** who is online for msg.offline (the cluster's when clustered) */
  presence: PresenceService
  outbox: WebhookOutbox
  log: Logger
}

export class Webhooks {
  /** POSTs from this node (metrics) */
  readonly counters = { delivered: 0, failed: 0 }
  private queued: OutboxEntry[] = []
  private statuses: string[] = []
  private flushTimer: ReturnType<typeof setTimeout> | undefined
  private flushing: Promise<void> = Promise.resolve()
  private stopped = false
  private wake: (() => void) | undefined
  /** a kick arrived while the loop was not waiting: look again before waiting */
  private kicked = false
  private loopDone: Promise<void> = Promise.resolve()
  private readonly inFlight = new AbortController()
  private unsubscribe: (() => void) | undefined
  /** WuKongIM's connection ids are integers: ours are strings, so each gets a number on this node */
  private readonly connNumbers = new Map<string, number>()
  private nextConnNumber = 1
  /** stored messages committed here since the last flush: their msg.offline is worked out at flush */
  private committed: Extract<CoreEvent, { type: 'message' }>[] = []

  constructor(private readonly opts: WebhooksOptions) {}

  start(): void {
    this.unsubscribe = this.opts.core.events.on((e) => this.onCoreEvent(e))
    this.opts.hub.presenceListener = (conn, online) => this.onPresence(conn, online)
    this.loopDone = this.loop()
  }

  /** Queues what is pending, ends the loop; rows in flight are handed back for an immediate retry. */
  async stop(): Promise<void> {
    this.unsubscribe?.()
    this.opts.hub.presenceListener = undefined
    await this.flush()
    this.stopped = true
    this.inFlight.abort()
    this.kick()
    await this.loopDone
  }

  private kick(): void {
    this.kicked = true
    this.wake?.()
  }

  private onCoreEvent(e: CoreEvent): void {
    if (e.type !== 'message') return
    const m = e.message
    if (m.header.noPersist) return
    // Its msg.notify row was committed with it: deliver soon.
    this.kick()
    this.committed.push(e)
    this.scheduleFlush()
  }

  /** msg.offline rows for these messages: members (cached) minus the sender, minus who is online (one query). */
  private async offlineEntries(events: Extract<CoreEvent, { type: 'message' }>[]): Promise<OutboxEntry[]> {
    const recipientsOf = await Promise.all(
      events.map(async (e) => {
        const m = e.message
        const members = e.to ?? (await this.opts.core.channels.members({ channelId: m.channelId, channelType: m.channelType }))
        return members.filter((u) => u !== m.fromUid)
      }),
    )
    const everyone = [...new Set(recipientsOf.flat())]
    if (!everyone.length) return []
    const online = new Set((await this.opts.presence.onlineStatus(everyone)).map((d) => d.uid))
    const out: OutboxEntry[] = []
    events.forEach((e, i) => {
      const offline = recipientsOf[i]!.filter((u) => !online.has(u))
      for (let j = 0; j < offline.length; j += OFFLINE_UIDS_PER_CALL)
        out.push({ event: MSG_OFFLINE, body: { message_id: e.message.messageId, to_uids: offline.slice(j, j + OFFLINE_UIDS_PER_CALL) } })
    })
    return out
  }

  private onPresence(conn: HubConnection, online: boolean): void {
    let n = this.connNumbers.get(conn.id)
    if (n === undefined) this.connNumbers.set(conn.id, (n = this.nextConnNumber++))
    if (!online) this.connNumbers.delete(conn.id)
    const mine = this.opts.hub.online([conn.uid])
    const sameDevice = mine.filter((c) => c.deviceFlag === conn.deviceFlag).length
    this.statuses.push(`${conn.uid}-${conn.deviceFlag}-${online ? 1 : 0}-${n}-${sameDevice}-${mine.length}`)
    this.scheduleFlush()
  }

  private scheduleFlush(): void {
    if (this.flushTimer) return
    this.flushTimer = setTimeout(() => void this.flush(), webhookLimits.flushMs)
  }

  /** One INSERT for everything queued since the last flush (flushes never overlap). */
  private flush(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer)
    this.flushTimer = undefined
    this.flushing = this.flushing.then(async () => {
      const entries = this.queued.splice(0)
      const committed = this.committed.splice(0)
      if (committed.length) {
        try {
          entries.push(...(await this.offlineEntries(committed)))
        } catch (err) {
          this.opts.log.warn('webhook msg.offline not worked out', { messages: committed.length, error: String(err) })
        }
      }
      const statuses = this.statuses.splice(0)
      for (let i = 0; i < statuses.length; i += PER_CALL) entries.push({ event: USER_ONLINESTATUS, body: statuses.slice(i, i + PER_CALL) })
      if (!entries.length) return
      try {
        await this.opts.outbox.enqueue(entries)
        this.kick()
      } catch (err) {
        // Keep them for the next flush rather than lose them, up to a bound (memory stays bounded).
        this.queued.unshift(...entries)
        const excess = this.queued.length - webhookLimits.maxUnwritten
        if (excess > 0) {
          this.queued.splice(0, excess)
          this.opts.log.error('webhook events dropped: the outbox cannot be written', { dropped: excess })
        }
        this.opts.log.warn('webhook events not queued yet', { count: entries.length, error: String(err) })
        if (!this.stopped) this.flushTimer ??= setTimeout(() => void this.flush(), 1000)
      }
    })
    return this.flushing
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      this.kicked = false
      let claimed: ClaimedEntry[] = []
      try {
        claimed = await this.opts.outbox.claim(webhookLimits.claimBatch, webhookLimits.leaseMs)
      } catch (err) {
        if (!this.stopped) this.opts.log.warn('webhook outbox claim failed', { error: String(err) })
      }
      if (claimed.length) {
        const ok = await Promise.all(claimed.map((row) => this.deliver(row)))
        try {
          await this.opts.outbox.complete(claimed.filter((_, i) => ok[i]).map((r) => r.id))
        } catch (err) {
          // Their leases end on their own: they are sent again then (at least once).
          this.opts.log.warn('webhook outbox update failed', { error: String(err) })
        }
        continue
      }
      if (this.kicked) continue
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, webhookLimits.idlePollMs)
        function done() {
          clearTimeout(timer)
          resolve()
        }
        this.wake = done
      })
      this.wake = undefined
    }
  }

  /** POSTs one row; true when acknowledged (the caller deletes it), else rescheduled here */
  private async deliver(row: ClaimedEntry): Promise<boolean> {
    let ok = false
    try {
      const body = await this.bodyOf(row)
      if (body === undefined) ok = true // nothing left to tell (messages gone)
      else {
        const res = await fetch(eventUrl(this.opts.url, row.event), {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal: AbortSignal.any([this.inFlight.signal, AbortSignal.timeout(webhookLimits.timeoutMs)]),
        })
        await res.arrayBuffer().catch(() => undefined)
        ok = res.ok
        if (!ok) this.opts.log.warn('webhook refused', { event: row.event, status: res.status, attempts: row.attempts })
      }
    } catch (err) {
      if (!this.stopped) this.opts.log.warn('webhook failed', { event: row.event, attempts: row.attempts, error: String(err) })
    }
    if (ok) {
      this.counters.delivered++
      return true
    }
    this.counters.failed++
    try {
      // Stopping: hand the row back at once (the next start, or another node, sends it).
      await this.opts.outbox.retryLater(row.id, this.stopped ? 0 : backoff(row.attempts))
    } catch (err) {
      // The lease ends on its own: the row is sent again then (at least once).
      this.opts.log.warn('webhook outbox update failed', { id: row.id, error: String(err) })
    }
    return false
  }

  private async bodyOf(row: ClaimedEntry): Promise<unknown> {
    if (row.event === MSG_NOTIFY) {
      const ids = (row.body as { message_ids: number[] }).message_ids
      const messages = await this.opts.outbox.messages(ids)
      return messages.length ? messages.map((m) => messageJson(m)) : undefined
    }
    if (row.event === MSG_OFFLINE) {
      const b = row.body as { message_id: number; to_uids: string[] }
      const [m] = await this.opts.outbox.messages([b.message_id])
      return m ? { ...messageJson(m), to_uids: b.to_uids } : undefined
    }
    return row.body
  }
}

/** retryBaseMs × 2^(attempts−1), capped, ±20 % jitter so many failed rows do not retry in step */
export function backoff(attempts: number): number {
  const base = Math.min(webhookLimits.retryMaxMs, webhookLimits.retryBaseMs * 2 ** Math.max(0, Math.min(attempts - 1, 30)))
  return Math.round(base * (0.8 + Math.random() * 0.4))
}

function eventUrl(url: string, event: string): string {
  const u = new URL(url)
  u.searchParams.set('event', event)
  return u.toString()
}
