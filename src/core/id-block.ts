/**
 * message_ids for live (no_persist) messages, handed out from blocks reserved from
 * message_id_seq ahead of time: a live send needs no database round trip. The ids are unique
 * cluster-wide (they come from the sequence) but, unlike stored messages, not in commit order
 * with them — a live message is never stored, so nothing replays it by id.
 */
import type { RawQuery } from './raw-query'

const BLOCK = 1000

export class IdBlock {
  private ids: number[] = []
  private next = 0
  private refill: Promise<void> | undefined

  constructor(private readonly query: RawQuery) {}

  async take(): Promise<number> {
    for (;;) {
      // prefetch; a failure here surfaces on the next awaited fill
      if (this.ids.length - this.next < BLOCK / 2) this.fill().catch(() => {})
      if (this.next < this.ids.length) return this.ids[this.next++]!
      await this.fill()
    }
  }

  private fill(): Promise<void> {
    this.refill ??= this.query<{ id: number }>(`select nextval('message_id_seq') as id from generate_series(1, $1::int)`, [BLOCK])
      .then((rows) => {
        const fresh = rows.map((r) => Number(r.id)).sort((a, b) => a - b)
        this.ids = this.ids.slice(this.next).concat(fresh)
        this.next = 0
      })
      .finally(() => {
        this.refill = undefined
      })
    return this.refill
  }
}
