/**
 * message_ids for live (no_persist) messages, handed out from blocks reserved from
 * message_id_seq ahead of time: a live send needs no database round trip. The ids are unique
 * cluster-wide (they come from the sequence) but, unlike stored messages, not in commit order
 * with them — a live message is never stored, so nothing replays it by id.
 */
import type { RawQuery } from './raw-query'

/**
 * Ids per reservation. The next one is asked for when half are left, so half a block must outlast
 * a reservation's round trip even under load: at 37k live sends/s 500 ids lasted 13.5 ms while
 * reservations took up to 20 ms (52 ms once), and every live send then waited for it.
 */
const BLOCK = 10_000

/**
 * One reservation of a block of ids, answered as its contiguous runs (usually one: other sessions'
 * nextval calls can interleave), so the driver parses a row or two instead of a thousand.
 */
const RESERVE = `select min(id) as lo, max(id) as hi
from (select id, id - row_number() over (order by id) as run
      from (select nextval('message_id_seq') as id from generate_series(1, $1::int)) s) r
group by run order by lo`

export class IdBlock {
  /** reserved, not yet handed out: [first, last] runs in increasing order */
  private runs: [number, number][] = []
  private left = 0
  private refill: Promise<void> | undefined

  constructor(
    private readonly query: RawQuery,
    private readonly blockSize = BLOCK,
  ) {}

  async take(): Promise<number> {
    for (;;) {
      // prefetch; a failure here surfaces on the next awaited fill
      if (this.left < this.blockSize / 2) this.fill().catch(() => {})
      const run = this.runs[0]
      if (run) {
        const id = run[0]++
        if (run[0] > run[1]) this.runs.shift()
        this.left--
        return id
      }
      await this.fill()
    }
  }

  private fill(): Promise<void> {
    this.refill ??= this.query<{ lo: number; hi: number }>(RESERVE, [this.blockSize])
      .then((rows) => {
        for (const r of rows) {
          const lo = Number(r.lo)
          const hi = Number(r.hi)
          this.runs.push([lo, hi])
          this.left += hi - lo + 1
        }
      })
      .finally(() => {
        this.refill = undefined
      })
    return this.refill
  }
}
