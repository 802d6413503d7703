/**
 * The servers under test, each a child process pinned to the server core: BunIM itself
 * (`bun src/main.ts serve`) on Postgres or the embedded database, the bare Bun.serve baseline
 * and the socket.io baseline.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createDatabase, type FreshDatabase } from './pg'
import { BUN, type Child, freePort, ROOT, SERVER_CPU, watchBenchDatabase, spawnChild, waitHttp } from './proc'

export interface RunningTarget {
  name: string
  host: string
  port: number
  url: string
  pid: number
  child: Child
  /** DATABASE_URL of the BunIM child, if on Postgres */
  databaseUrl?: string
  stop(): Promise<void>
}

export interface BunImOptions {
  storage: 'postgres' | 'pglite'
  /** bind address; 0.0.0.0 lets clients use any 127.0.0.x */
  host?: string
  /** a given port (default: a free one) */
  port?: number
  /** Postgres: this existing database instead of a fresh one (another node of the same cluster) */
  databaseUrl?: string
  /** write a CPU profile of the server into this directory on exit */
  profileDir?: string
  env?: Record<string, string>
}

export async function startBunIM(opts: BunImOptions): Promise<RunningTarget> {
  const port = opts.port ?? (await freePort())
  const host = opts.host ?? '127.0.0.1'
  const dataDir = mkdtempSync(join(tmpdir(), 'bunim-bench-'))
  let db: FreshDatabase | undefined
  if (opts.storage === 'postgres' && !opts.databaseUrl) db = await createDatabase('srv')
  if (db) watchBenchDatabase(db.name, true)
  const flags: string[] = []
  if (opts.profileDir) {
    mkdirSync(opts.profileDir, { recursive: true })
    flags.push('--cpu-prof', `--cpu-prof-dir=${opts.profileDir}`, '--cpu-prof-md')
  }
  const child = spawnChild([BUN, ...flags, join(ROOT, 'src/main.ts'), 'serve'], {
    cpu: SERVER_CPU,
    env: {
      PORT: String(port),
      HOST: host,
      IM_TCP_PORT: '0',
      IM_DATA_DIR: dataDir,
      DATABASE_URL: opts.databaseUrl ?? db?.url,
      IM_LOG_LEVEL: 'warn',
      ...opts.env,
    },
  })
  const cleanup = async () => {
    if (db) watchBenchDatabase(db.name, false)
    await child.stop()
    await db?.drop().catch(() => {})
    rmSync(dataDir, { recursive: true, force: true })
  }
  const url = `http://127.0.0.1:${port}`
  try {
    await waitHttp(url + '/health', 60_000, child)
  } catch (e) {
    await cleanup()
    throw e
  }
  return {
    name: `BunIM (${opts.storage === 'postgres' ? 'Postgres' : 'embedded'})`,
    host: '127.0.0.1',
    port,
    url,
    pid: child.pid,
    child,
    databaseUrl: opts.databaseUrl ?? db?.url,
    stop: cleanup,
  }
}

export async function startBare(host = '127.0.0.1', opts: { port?: number; reusePort?: boolean } = {}): Promise<RunningTarget> {
  const port = opts.port ?? (await freePort())
  const child = spawnChild([BUN, join(ROOT, 'bench/servers/bare.ts')], { cpu: SERVER_CPU, env: { PORT: String(port), HOST: host, REUSE_PORT: opts.reusePort ? '1' : '0' } })
  const url = `http://127.0.0.1:${port}`
  await waitHttp(url + '/health', 15_000, child).catch(async (e) => {
    await child.stop()
    throw e
  })
  return { name: 'bare Bun.serve', host: '127.0.0.1', port, url, pid: child.pid, child, stop: async () => void (await child.stop()) }
}

/** Bare Elysia (same framework as BunIM, nothing behind the route). */
export async function startElysia(): Promise<RunningTarget> {
  const port = await freePort()
  const child = spawnChild([BUN, join(ROOT, 'bench/servers/elysia.ts')], { cpu: SERVER_CPU, env: { PORT: String(port) } })
  const url = `http://127.0.0.1:${port}`
  await waitHttp(url + '/health', 15_000, child).catch(async (e) => {
    await child.stop()
    throw e
  })
  return { name: 'bare Elysia', host: '127.0.0.1', port, url, pid: child.pid, child, stop: async () => void (await child.stop()) }
}

/** socket.io on Node (its native runtime) when node is installed, else on Bun. */
export async function startSocketIo(): Promise<RunningTarget> {
  const port = await freePort()
  const node = Bun.which('node')
  const child = spawnChild([node ?? BUN, join(ROOT, 'bench/servers/socketio-server.mjs')], { cpu: SERVER_CPU, env: { PORT: String(port) } })
  const url = `http://127.0.0.1:${port}`
  await waitHttp(url + '/health', 15_000, child).catch(async (e) => {
    await child.stop()
    throw e
  })
  return { name: `socket.io (${node ? 'Node' : 'Bun'})`, host: '127.0.0.1', port, url, pid: child.pid, child, stop: async () => void (await child.stop()) }
}
