/**
 * Starts a real BunIM node on port 0 for a test file, on a fresh database: a temporary PGlite
 * directory, or — when TEST_DATABASE_URL is set — a new Postgres database created for this server
 * and dropped afterwards. Tear down with `await server.stop()` in afterAll, or use usingTestServer.
 */
import { afterAll, beforeAll } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import { type Config, testConfig } from '../../src/config'
import { silentLogger } from '../../src/log'
import { type RunningServer, startServer } from '../../src/server'

export interface TestServer extends RunningServer {
  /** same settings, same data: start another node (restart, cluster) */
  config: Config
}

export const usingRealPostgres = !!process.env.TEST_DATABASE_URL

/** A fresh, empty place to keep data: returns the settings that point at it and a cleanup. */
export async function freshStorage(): Promise<{ overrides: Partial<Config>; drop: () => Promise<void> }> {
  const adminUrl = process.env.TEST_DATABASE_URL
  if (!adminUrl) {
    const dataDir = mkdtempSync(join(tmpdir(), 'bunim-test-'))
    return { overrides: { dataDir }, drop: async () => rmSync(dataDir, { recursive: true, force: true }) }
  }
  const name = `bunim_t_${process.pid}_${Math.random().toString(36).slice(2, 10)}`
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} })
  await admin.unsafe(`create database ${name}`)
  await admin.end()
  const url = new URL(adminUrl)
  url.pathname = '/' + name
  const dataDir = mkdtempSync(join(tmpdir(), 'bunim-test-'))
  return {
    overrides: { databaseUrl: url.toString(), dataDir },
    drop: async () => {
      const a = postgres(adminUrl, { max: 1, onnotice: () => {} })
      await a.unsafe(`drop database if exists ${name} with (force)`)
      await a.end()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

export async function startTestServer(overrides: Partial<Config> = {}): Promise<TestServer> {
  const storage = await freshStorage()
  const config = testConfig({ host: '127.0.0.1', ...storage.overrides, ...overrides })
  let server: RunningServer
  try {
    server = await startServer(config, silentLogger)
  } catch (err) {
    // a start that fails (a test may expect it to) leaves no database behind
    await storage.drop()
    throw err
  }
  return {
    ...server,
    config,
    stop: async () => {
      await server.stop()
      await storage.drop()
    },
  }
}

/**
 * One server for the whole test file: started before its tests (then `use` receives it), stopped
 * after. The file's fixtures (clients, recorders) are built in `use`.
 */
export function usingTestServer(use: (server: TestServer) => void | Promise<void> = () => {}, overrides: Partial<Config> = {}): void {
  let server: TestServer | undefined
  beforeAll(async () => {
    server = await startTestServer(overrides)
    await use(server)
  }, 60_000)
  afterAll(() => server?.stop(), 30_000)
}
