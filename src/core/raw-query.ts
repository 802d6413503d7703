/**
 * A prepared-statement path for the hottest query (the writer's batch statement): Drizzle's
 * `execute()` sends raw SQL unprepared, so Postgres would parse and plan the large batch
 * statement on every batch. postgres.js caches a named prepared statement per connection when
 * asked (`prepare: true`); PGlite runs the text as is.
 */
import type { PGlite } from '@electric-sql/pglite'
import type { Sql } from 'postgres'
import type { Database } from '../db/client'

export type RawQuery = <T>(text: string, params: unknown[]) => Promise<T[]>

export function rawQuery(database: Database): RawQuery {
  const client = (database.db as unknown as { $client: unknown }).$client
  if (database.kind === 'postgres') {
    const pg = client as Sql
    return async <T>(text: string, params: unknown[]) => (await pg.unsafe(text, params as never[], { prepare: true })) as unknown as T[]
  }
  const lite = client as PGlite
  return async <T>(text: string, params: unknown[]) => (await lite.query<T>(text, params)).rows
}
