import { describe, expect, test } from 'bun:test'
import { existsSync } from 'node:fs'
import { sql } from 'drizzle-orm'
import { loadConfig } from '../../src/config'
import { openDatabase } from '../../src/db/client'
import { postgresTarget } from '../../src/db/postgres-url'
import { freshStorage, usingRealPostgres } from '../helpers/server'

describe('DATABASE_URL with a Unix socket (libpq forms)', () => {
  test('a host parameter that is a directory becomes the socket directory, the rest of the URL is kept', () => {
    expect(postgresTarget('postgres://im:pw@localhost:5433/chat?host=/var/run/postgresql&sslmode=disable')).toEqual({
      url: 'postgres://im:pw@localhost:5433/chat?sslmode=disable',
      socketDir: '/var/run/postgresql',
    })
  })

  test('no host at all (user@/db, ///db) with a host parameter', () => {
    expect(postgresTarget('postgres://im@/chat?host=/tmp')).toEqual({ url: 'postgres://im@localhost/chat', socketDir: '/tmp' })
    expect(postgresTarget('postgresql:///chat?host=/run/pg')).toEqual({ url: 'postgresql://localhost/chat', socketDir: '/run/pg' })
  })

  test('the directory percent-encoded as the host', () => {
    expect(postgresTarget('postgres://im@%2Fvar%2Frun%2Fpostgresql:5433/chat')).toEqual({ url: 'postgres://im@localhost:5433/chat', socketDir: '/var/run/postgresql' })
  })

  test('TCP URLs and a host parameter that is not a path pass through unchanged', () => {
    for (const u of ['postgres://im@127.0.0.1:5432/chat', 'postgres://im@db.internal/chat?host=other', 'postgres://im@[::1]:5432/chat']) expect(postgresTarget(u)).toEqual({ url: u })
  })

  test('settings accept the socket forms and still reject what is not a Postgres URL', () => {
    expect(loadConfig({ DATABASE_URL: 'postgres://im@/chat?host=/var/run/postgresql' }).databaseUrl).toBe('postgres://im@/chat?host=/var/run/postgresql')
    expect(() => loadConfig({ DATABASE_URL: 'mysql://im@/chat?host=/tmp' })).toThrow(/DATABASE_URL/)
    expect(() => loadConfig({ DATABASE_URL: 'not a url' })).toThrow(/DATABASE_URL/)
  })

  // The real Postgres of TEST_DATABASE_URL, reached through its socket directory (PGSOCKETDIR or Debian's default).
  const socketDir = process.env.PGSOCKETDIR ?? '/var/run/postgresql'
  test.skipIf(!usingRealPostgres || !existsSync(socketDir))('connects through the socket, not TCP', async () => {
    const storage = await freshStorage()
    try {
      const u = new URL(storage.overrides.databaseUrl!)
      u.searchParams.set('host', socketDir)
      const database = await openDatabase({ databaseUrl: u.toString(), dataDir: storage.overrides.dataDir! })
      try {
        const rows = (await database.db.execute(sql`select client_addr, current_database() as db from pg_stat_activity where pid = pg_backend_pid()`)) as unknown as { client_addr: string | null; db: string }[]
        expect(rows[0]).toEqual({ client_addr: null, db: u.pathname.slice(1) })
      } finally {
        await database.close()
      }
    } finally {
      await storage.drop()
    }
  })
})
