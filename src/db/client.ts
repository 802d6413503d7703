/**
 * The database: postgres.js when DATABASE_URL is set, embedded PGlite under IM_DATA_DIR otherwise.
 * Both are used through one Drizzle `PgDatabase` type; the rest of the program never knows which.
 */
import { mkdirSync } from 'node:fs'
import { resolve } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import postgres from 'postgres'
// Imported as files so `bun build --compile` embeds PGlite's runtime in the executable.
import pgliteWasmPath from '../../node_modules/@electric-sql/pglite/dist/pglite.wasm' with { type: 'file' }
import initdbWasmPath from '../../node_modules/@electric-sql/pglite/dist/initdb.wasm' with { type: 'file' }
import pgliteDataPath from '../../node_modules/@electric-sql/pglite/dist/pglite.data' with { type: 'file' }
import { postgresTarget } from './postgres-url'
import * as schema from './schema'

export type Schema = typeof schema
export type Db = PgDatabase<PgQueryResultHKT, Schema>
/** A transaction handle has the same query API as the database. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0]

export interface Database {
  kind: 'pglite' | 'postgres'
  db: Db
  /** Runs raw SQL text (several statements allowed); used by migrations. */
  exec(sqlText: string): Promise<void>
  /** True when a trivial query answers. */
  ping(): Promise<boolean>
  /**
   * Postgres only: a dedicated one-connection client (opened on first use) whose prepared
   * statements always run a generic plan — for the writer's batch statement, whose custom plan
   * cost ~1 ms of planning per batch. Only statements whose plan shape does not depend on the
   * parameter values belong here.
   */
  genericPlanClient?: () => postgres.Sql
  close(): Promise<void>
}

export interface OpenOptions {
  databaseUrl?: string
  dataDir: string
  /** postgres.js pool size */
  maxConnections?: number
}

export async function openDatabase(opts: OpenOptions): Promise<Database> {
  return opts.databaseUrl ? openPostgres(opts.databaseUrl, opts.maxConnections ?? 10) : openPglite(opts.dataDir)
}

async function openPostgres(url: string, max: number): Promise<Database> {
  const driverOptions = {
    onnotice: () => {},
    // int8 comes back as a number on both drivers: every id/seq we store is below 2^53.
    types: { bigint: { to: 20, from: [20], serialize: (x: number) => String(x), parse: (x: string) => Number(x) } },
  }
  const target = postgresTarget(url)
  const options = { ...driverOptions, ...(target.socketDir ? { host: target.socketDir } : {}) }
  const client = postgres(target.url, { ...options, max })
  let generic: postgres.Sql | undefined
  const db = drizzlePostgres(client, { schema }) as unknown as Db
  return {
    kind: 'postgres',
    db,
    exec: async (sqlText) => {
      await client.unsafe(sqlText)
    },
    ping: async () => {
      try {
        await client`select 1`
        return true
      } catch {
        return false
      }
    },
    genericPlanClient: () => (generic ??= postgres(target.url, { ...options, max: 1, connection: { plan_cache_mode: 'force_generic_plan' } })),
    close: async () => {
      await Promise.all([client.end({ timeout: 5 }), generic?.end({ timeout: 5 })])
    },
  }
}

async function openPglite(dataDir: string): Promise<Database> {
  // PGlite needs a real directory (never a $bunfs path inside the compiled binary).
  const dir = resolve(dataDir, 'pg')
  mkdirSync(dir, { recursive: true })
  const [pgliteWasmModule, initdbWasmModule, fsBundle] = await Promise.all([
    WebAssembly.compile(await Bun.file(pgliteWasmPath).arrayBuffer()),
    WebAssembly.compile(await Bun.file(initdbWasmPath).arrayBuffer()),
    Bun.file(pgliteDataPath).arrayBuffer().then((b) => new Blob([b])),
  ])
  const client = await PGlite.create({
    dataDir: dir,
    pgliteWasmModule,
    initdbWasmModule,
    fsBundle,
    parsers: { 20: (x: string) => Number(x) },
  })
  const db = drizzlePglite(client, { schema }) as unknown as Db
  let closed = false
  return {
    kind: 'pglite',
    db,
    exec: async (sqlText) => {
      await client.exec(sqlText)
    },
    ping: async () => {
      if (closed) return false
      try {
        await client.query('select 1')
        return true
      } catch {
        return false
      }
    },
    close: async () => {
      if (closed) return
      closed = true
      await client.close()
    },
  }
}
