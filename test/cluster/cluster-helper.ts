/**
 * Several real BunIM nodes in this test process, sharing one fresh Postgres database and one NATS
 * server under a subject prefix of their own (parallel runs never hear each other).
 *
 * Cluster tests need Postgres (two nodes cannot share a PGlite data dir): TEST_DATABASE_URL, or the
 * local Postgres at postgres://postgres@127.0.0.1:5432/postgres when it is unset.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import { type Config, testConfig } from '../../src/config'
import { silentLogger } from '../../src/log'
import { type RunningServer, startServer } from '../../src/server'

export const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
export const NATS_URL = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222'

/** Why cluster tests cannot run here, or undefined when Postgres answers. */
export async function postgresUnavailable(): Promise<string | undefined> {
  const sql = postgres(ADMIN_URL, { max: 1, connect_timeout: 3, onnotice: () => {} })
  try {
    await sql`select 1`
    return undefined
  } catch (err) {
    return `Postgres at ${ADMIN_URL} is unreachable (${err instanceof Error ? err.message : String(err)})`
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {})
  }
}

export interface Cluster {
  nodes: RunningServer[]
  /** starts one more node on the same database and bus */
  addNode(name: string, overrides?: Partial<Config>): Promise<RunningServer>
  stop(): Promise<void>
}

export async function startCluster(names: string[]): Promise<Cluster> {
  const dbName = `bunim_c_${process.pid}_${Math.random().toString(36).slice(2, 10)}`
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} })
  await admin.unsafe(`create database ${dbName}`)
  await admin.end()
  const url = new URL(ADMIN_URL)
  url.pathname = '/' + dbName
  const clusterName = `bunimtest.${dbName}`
  const dirs: string[] = []
  const nodes: RunningServer[] = []
  const addNode = async (name: string, overrides: Partial<Config> = {}) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'bunim-cluster-'))
    dirs.push(dataDir)
    const node = await startServer(
      testConfig({ host: '127.0.0.1', databaseUrl: url.toString(), dataDir, natsUrl: NATS_URL, clusterName, nodeId: name, ...overrides }),
      silentLogger,
    )
    nodes.push(node)
    return node
  }
  // one at a time: the first one runs the migrations
  for (const n of names) await addNode(n)
  return {
    nodes,
    addNode,
    stop: async () => {
      for (const n of nodes) await n.stop()
      const a = postgres(ADMIN_URL, { max: 1, onnotice: () => {} })
      await a.unsafe(`drop database if exists ${dbName} with (force)`)
      await a.end()
      for (const d of dirs) rmSync(d, { recursive: true, force: true })
    },
  }
}
