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
