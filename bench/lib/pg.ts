/** Fresh Postgres databases for a bench run: created on the local server, dropped afterwards. */
import postgres from 'postgres'

export const PG_ADMIN_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

export interface FreshDatabase {
  url: string
  name: string
  drop(): Promise<void>
}

export async function createDatabase(tag: string): Promise<FreshDatabase> {
  const name = `bunim_bench_${tag}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`
  const admin = postgres(PG_ADMIN_URL, { max: 1, onnotice: () => {}, connect_timeout: 5 })
  try {
    await admin.unsafe(`create database ${name}`)
  } finally {
    await admin.end()
  }
  const u = new URL(PG_ADMIN_URL)
  u.pathname = '/' + name
  return {
    url: u.toString(),
    name,
    drop: async () => {
      const a = postgres(PG_ADMIN_URL, { max: 1, onnotice: () => {} })
      try {
        await a.unsafe(`drop database if exists ${name} with (force)`)
      } finally {
        await a.end()
      }
    },
  }
}

export interface DbStats {
  xact_commit: number
  tup_inserted: number
  tup_updated: number
  tup_returned: number
  tup_fetched: number
}

/** Counters of one database from pg_stat_database (backends flush them at most once a second). */
export async function dbStats(name: string): Promise<DbStats | null> {
  const admin = postgres(PG_ADMIN_URL, { max: 1, onnotice: () => {} })
  try {
    const [r] = await admin`select xact_commit, tup_inserted, tup_updated, tup_returned, tup_fetched from pg_stat_database where datname = ${name}`
    return r ? (Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Number(v)])) as unknown as DbStats) : null
  } catch {
    return null
  } finally {
    await admin.end()
  }
}

/** Per-unit rates between two snapshots (e.g. per acknowledged send). */
export function statsPer(a: DbStats | null, b: DbStats | null, units: number): Record<string, number> | null {
  if (!a || !b || !units) return null
  const out: Record<string, number> = {}
  for (const k of Object.keys(a) as (keyof DbStats)[]) out[k] = Math.round(((b[k] - a[k]) / units) * 1000) / 1000
  return out
}
