/**
 * Applies the migrations embedded in the program (src/db/migrations.gen.ts), in order, inside
 * one transaction, recording them in __bunim_migrations. A transaction-level advisory lock keeps
 * several nodes that start together on one Postgres from racing.
 */
import { sql } from 'drizzle-orm'
import type { Database } from './client'
import { MIGRATIONS } from './migrations.gen'

const LOCK_KEY = 727_001

export async function migrate(database: Database): Promise<string[]> {
  return database.db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${LOCK_KEY})`)
    await tx.execute(sql`create table if not exists __bunim_migrations (
      idx integer primary key, tag text not null, applied_at timestamptz not null default now())`)
    const done = new Set(rowsOf<{ idx: number }>(await tx.execute(sql`select idx from __bunim_migrations`)).map((r) => Number(r.idx)))
    const applied: string[] = []
    for (const m of MIGRATIONS) {
      if (done.has(m.idx)) continue
      for (const statement of m.sql.split('--> statement-breakpoint')) {
        if (statement.trim()) await tx.execute(sql.raw(statement))
      }
      await tx.execute(sql`insert into __bunim_migrations (idx, tag) values (${m.idx}, ${m.tag})`)
      applied.push(m.tag)
    }
    return applied
  })
}

/** db.execute returns an array (postgres.js) or `{ rows }` (PGlite). */
export function rowsOf<T = Record<string, unknown>>(result: unknown): T[] {
  if (Array.isArray(result)) return result as T[]
  return ((result as { rows?: T[] }).rows ?? []) as T[]
}
