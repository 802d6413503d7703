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
  return Object.assign(run, { kind: 'pglite' as const, generic: pgliteGeneric(lite) })
}

/**
 * PGlite's query() plans every statement anew (unnamed statement), and planning the writer's
 * batch statement in WASM cost about twice its execution (measured: 11.2 ms of CPU per 64-message
 * batch → 3.8 ms). So: a server-side PREPARE once per text, then `EXECUTE` with the parameters as
 * literals (EXECUTE takes no bind parameters) and a generic plan for that transaction only.
 */
/** Prepared names per PGlite instance: several cores (nodes in tests) may share one. */
const preparedBy = new WeakMap<PGlite, Map<string, Promise<string>>>()

function pgliteGeneric(lite: PGlite): Run {
  let names = preparedBy.get(lite)
  if (!names) preparedBy.set(lite, (names = new Map()))
  const prepared = names
  return async <T>(text: string, params: unknown[]) => {
    let name = prepared.get(text)
    if (!name) {
      const fresh = `bunim_generic_${prepared.size}`
      name = lite.exec(`prepare ${fresh} as ${text}`).then(() => fresh)
      prepared.set(text, name)
      name.catch(() => prepared.delete(text))
    }
    const results = await lite.exec(`set local plan_cache_mode = force_generic_plan; execute ${await name}(${params.map(literal).join(', ')})`)
    return results[results.length - 1]!.rows as T[]
  }
}

function literal(value: unknown): string {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  if (typeof value === 'string') return `'${value.replaceAll("'", "''")}'`
  throw new TypeError(`no SQL literal for ${typeof value}`)
}
