/**
 * How long a WAL flush (a synchronous COMMIT's fsync plus a round trip) costs on this database,
 * timed on the writer's barrier statements: a batch's flush when it has no read marks, and a probe
 * when none ran for a second while the writer works. Used by a cluster node's writer (a node
 * alone always commits synchronously): it commits every batch synchronously while flushes are
 * fast — one statement and one transaction per batch, the write lock held through a short fsync —
 * and falls back to asynchronous commits with a separate flush while they are slow, so a slow
 * disk never holds the cluster's write lock (docs/decisions.md, "Write path").
 *
 * The estimate is the fastest of the last few flushes: under load each flush also waits for the
 * CPU and for the WAL lock behind the batches' own commits (measured here: 1.9–8.9 ms per probe at
 * 5,000 msg/s, on a disk whose fsync takes 0.14 ms), while the disk's own cost is a floor no
 * flush goes below.
 */

/** a fastest recent flush at or below this (ms) switches the writer to synchronous commits */
export const FAST_FLUSH_MS = 5
/** above this it goes back to asynchronous commits (between the two: no change) */
export const SLOW_FLUSH_MS = 8
/** a fresh sample is wanted when none came for this long while the writer works */
export const PROBE_EVERY_MS = 1000
/** how many recent flushes the estimate looks at */
const WINDOW = 8

export class FlushGauge {
  private readonly recent: number[] = []
  private lastSampleAt = -Infinity
  private lastProbeAt = -Infinity
  private probing = false
  private fastNow = false

  /** a measured flush, ms */
  record(ms: number, now = performance.now()): void {
    this.recent.push(ms)
    if (this.recent.length > WINDOW) this.recent.shift()
    this.lastSampleAt = now
    this.fastNow = Math.min(...this.recent) <= (this.fastNow ? SLOW_FLUSH_MS : FAST_FLUSH_MS)
  }

  /** flushes are fast enough for synchronous commits (false until measured) */
  get fast(): boolean {
    return this.fastNow
  }

  /** the fastest recent flush, ms (undefined before the first) */
  get estimateMs(): number | undefined {
    return this.recent.length ? Math.min(...this.recent) : undefined
  }

  /**
   * Runs `flush` as a probe when no flush was measured or probed for PROBE_EVERY_MS and none is
   * running; `flush` is a timed flush (its duration reaches record()).
   */
  probeIfStale(flush: () => Promise<unknown>, now = performance.now()): void {
    if (this.probing || now - Math.max(this.lastSampleAt, this.lastProbeAt) < PROBE_EVERY_MS) return
    this.probing = true
    this.lastProbeAt = now
    flush()
      .catch(() => {})
      .finally(() => {
        this.probing = false
      })
  }
}
