/**
 * Durability barrier for batches committed with `synchronous_commit = off` (real Postgres only,
 * while the WAL flush is slow: flush-gauge.ts); also the writer's timed probe of the flush speed.
 *
 * The writer's batch holds the cluster-wide write lock until its COMMIT; a synchronous COMMIT
 * would hold it through the WAL flush (an fsync: 2–20 ms on the day this was measured), so every
 * batch in the cluster would wait for the previous one's disk write. Instead the batch commits asynchronously
 * (visible, lock released, in message_id order) and its answers wait for this barrier: a tiny
 * transaction that writes one WAL record and commits synchronously. Its commit flushes the WAL up
 * to its own record, which lies after the commit record of every batch that returned before it
 * started. One flush serves every batch committed meanwhile (group commit), and it overlaps the
 * next batch's execution.
 */
import type { RawQuery } from './raw-query'

/** A transactional WAL record (assigns an xid), so the COMMIT writes and flushes the WAL. */
export const WAL_FLUSH = `select pg_logical_emit_message(true, 'bunim.writer', '') as lsn`

const ignore = () => {}

export class WalBarrier {
  private inFlight: Promise<void> | undefined
  private next: Promise<void> | undefined

  /** `flushed` is told how long each flush statement took, ms */
  constructor(
    private readonly query: RawQuery,
    private readonly flushed: (ms: number) => void = () => {},
  ) {}

  /** Resolves once everything committed before this call is on disk (a flush that started after it). */
  request(): Promise<void> {
    if (!this.inFlight) {
      const started = performance.now()
      this.inFlight = this.query(WAL_FLUSH, [])
        .then(() => this.flushed(performance.now() - started))
        .finally(() => {
          this.inFlight = undefined
        })
      return this.inFlight
    }
    // The running flush may have started before the caller's commit: it needs the next one.
    this.next ??= this.inFlight.then(ignore, ignore).then(() => {
      this.next = undefined
      return this.request()
    })
    return this.next
  }
}
