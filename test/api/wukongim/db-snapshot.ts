/** Row counts of every table the WuKongIM API writes: "no state change" means an equal snapshot. */
import { sql } from 'drizzle-orm'
import { rowsOf } from '../../../src/db/migrate'
import type { TestServer } from '../../helpers/server'

const TABLES = ['users', 'user_tokens', 'channels', 'subscribers', 'channel_lists', 'messages', 'command_queue', 'streams', 'stream_chunks', 'conversations']

export async function dbSnapshot(server: TestServer): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  for (const t of TABLES) {
    const [r] = rowsOf<{ n: number }>(await server.ctx.database.db.execute(sql.raw(`select count(*)::int as n from ${t}`)))
    out[t] = Number(r!.n)
  }
  const [s] = rowsOf<{ seq: number }>(await server.ctx.database.db.execute(sql`select coalesce(sum(last_msg_seq), 0)::bigint as seq from channels`))
  out.sum_last_msg_seq = Number(s!.seq)
  return out
}
