/**
 * The writer's counters from a BunIM server's /metrics (src/ops/metrics.ts), read before and after
 * a load: mean batch size, statement time and how busy the writer was.
 */
import type { RunningTarget } from './servers'

/** The writer's counters from /metrics (src/ops/metrics.ts): batches, sends in them, statement seconds. */
export async function writerCounters(t: RunningTarget): Promise<{ batches: number; items: number; seconds: number; sync: number } | null> {
  try {
    const text = await (await fetch(t.url + '/metrics')).text()
    const get = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN)
    const c = { batches: get('bunim_writer_batches_total'), items: get('bunim_writer_batch_items_total'), seconds: get('bunim_writer_statement_seconds_total'), sync: get('bunim_writer_sync_batches_total') }
    return Number.isFinite(c.batches) ? c : null
  } catch {
    return null
  }
}

/** Mean batch size, mean statement time and the share of the run the writer spent in statements. */
export function writerShare(a: Awaited<ReturnType<typeof writerCounters>>, b: Awaited<ReturnType<typeof writerCounters>>, elapsedMs: number) {
  if (!a || !b || b.batches <= a.batches) return null
  const batches = b.batches - a.batches
  const seconds = b.seconds - a.seconds
  return {
    meanBatch: Math.round(((b.items - a.items) / batches) * 10) / 10,
    statementMs: Math.round((seconds / batches) * 1000 * 100) / 100,
    writerBusy: Math.round((seconds / (elapsedMs / 1000)) * 1000) / 10,
    syncShare: Math.round(((b.sync - a.sync) / batches) * 1000) / 10,
  }
}

export const writerText = (w: ReturnType<typeof writerShare>) => (w ? `, writer: batches of ${w.meanBatch}, ${w.statementMs} ms per statement, busy ${w.writerBusy} %, ${w.syncShare} % committed synchronously` : '')
