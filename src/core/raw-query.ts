/**
 * A prepared-statement path for the hottest query (the writer's batch statement): Drizzle's
 * `execute()` sends raw SQL unprepared, so Postgres would parse and plan the large batch
 * statement on every batch. postgres.js caches a named prepared statement per connection when
 * asked (`prepare: true`); PGlite runs the text as is.
 */
import type { PGlite } from '@electric-sql/pglite'
import type { Sql } from 'postgres'
import type { Database } from '../db/client'

type Run = <T>(text: string, params: unknown[]) => Promise<T[]>

/**
 * Runs one statement; `kind` tells which database answers (the writer commits differently on
 * each); `generic` runs it on Postgres' generic-plan connection (see Database.genericPlanClient).
 */
export type RawQuery = Run & { readonly kind: Database['kind']; readonly generic: Run }

export function rawQuery(database: Database): RawQuery {
  const client = (database.db as unknown as { $client: unknown }).$client
  if (database.kind === 'postgres') {
    const prepared = (pg: Sql): Run => async <T>(text: string, params: unknown[]) => (await pg.unsafe(text, params as never[], { prepare: true })) as unknown as T[]
    const run = prepared(client as Sql)
    let generic: Run | undefined
    const genericRun: Run = (text, params) => (generic ??= database.genericPlanClient ? prepared(database.genericPlanClient()) : run)(text, params)
    return Object.assign(run, { kind: 'postgres' as const, generic: genericRun })
  }
  const lite = client as PGlite
  const run: Run = async <T>(text: string, params: unknown[]) => (await lite.query<T>(text, params)).rows
  return Object.assign(run, { kind: 'pglite' as const, generic: run })
}
