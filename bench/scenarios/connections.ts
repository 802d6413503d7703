/**
 * connections: as many idle /notify?protoc=ws connections as the machine allows (up to 50,000);
 * server RSS per connection = (RSS with them − RSS before) / connections, from /proc/<pid>/status.
 * Baseline in the same run: a bare Bun.serve WebSocket server holding the same number. When one
 * process's open-file limit is below 50,000, both are measured again as several processes sharing
 * the port (SO_REUSEPORT; BunIM nodes on one database and a NATS cluster), RSS summed.
 */
import { join } from 'node:path'
import { getToken, NotAvailable } from '../lib/api'
import { LineReader } from '../lib/load'
import { BUN, type Child, freePort, LOAD_CPU, openFileLimit, ROOT, rssKiB, sleep, spawnChild } from '../lib/proc'
import { ratio, type Row } from '../lib/report'
import { errorText, serverLog, type ScenarioOptions, type ScenarioOutput } from '../lib/scenario'
import { type RunningTarget, startBare, startBunIM } from '../lib/servers'

const IDLE_WS = join(ROOT, 'bench/load/idle-ws.ts')
const MAX = 50_000
const HOSTS = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4']
const TARGET_KB = 20

interface Held {
  opened: number
  failed: number
  rssBeforeKiB: number
  rssAfterKiB: number
  perConnKB: number
  openSeconds: number
  stillOpen?: number
  sampleError?: string
}

/** RSS of all the processes serving one port, KiB */
const rssOf = (ts: RunningTarget[]) => ts.reduce((sum, t) => sum + rssKiB(t.pid), 0)

async function hold(ts: RunningTarget[], count: number, token: 'bunim' | string, opts: ScenarioOptions): Promise<Held> {
  const t = ts[0]!
  // Let start-up garbage settle before the "before" reading.
  await sleep(1000)
  const rssBeforeKiB = rssOf(ts)
  const perProc = Math.max(1000, openFileLimit().soft - 500)
  const procs = Math.ceil(count / perProc)
  const clients: { child: Child; lines: LineReader }[] = []
  const t0 = Date.now()
  const deadline = t0 + 180_000
  let opened = 0
  let failed = 0
  let sampleError: string | undefined
  try {
    for (let p = 0; p < procs; p++) {
      const n = Math.min(perProc, count - p * perProc)
      const child = spawnChild([BUN, IDLE_WS], {
        cpu: LOAD_CPU,
        stdin: 'pipe',
        env: { BENCH_CONFIG: JSON.stringify({ port: t.port, hosts: HOSTS, count: n, prefix: `idle${p}x`, token, path: '/notify?protoc=ws&token=', concurrency: 256 }) },
      })
      clients.push({ child, lines: new LineReader(child) })
    }
    for (const c of clients) {
      const l = await c.lines.until((x) => x.startsWith('OPENED ') || x.startsWith('RESULT '), deadline)
      const r = JSON.parse(l.slice(l.indexOf(' ') + 1))
      if (r.error) throw new Error(r.error)
      opened += r.opened
      failed += r.failed
      sampleError ??= r.sampleError
    }
    const openSeconds = (Date.now() - t0) / 1000
    await sleep(2000)
    const rssAfterKiB = rssOf(ts)
    let stillOpen = 0
    for (const c of clients) {
      const sink = c.child.proc.stdin as import('bun').FileSink
      sink.write('CLOSE\n')
      sink.flush()
    }
    for (const c of clients) {
      const l = await c.lines.until((x) => x.startsWith('RESULT '), Date.now() + 30_000)
      stillOpen += JSON.parse(l.slice(7)).stillOpen ?? 0
    }
    const perConnKB = opened ? Math.round((((rssAfterKiB - rssBeforeKiB) * 1024) / opened / 1000) * 100) / 100 : 0
    const r: Held = { opened, failed, rssBeforeKiB, rssAfterKiB, perConnKB, openSeconds: Math.round(openSeconds * 10) / 10, stillOpen, ...(sampleError ? { sampleError } : {}) }
    opts.log(`  ${t.name}${ts.length > 1 ? ` × ${ts.length} processes` : ''}: ${opened}/${count} open (${failed} failed, ${stillOpen} still open at the end) in ${r.openSeconds} s; RSS ${Math.round(rssBeforeKiB / 1024)} → ${Math.round(rssAfterKiB / 1024)} MiB = ${perConnKB} KB/connection${sampleError ? ' — ' + sampleError.slice(0, 200) : ''}`)
    return r
  } finally {
    for (const c of clients) await c.child.stop(3000)
  }
}

/** Waits until every one of these processes listens on the port (`ss`): a sibling answering /health proves nothing. */
async function listening(port: number, ts: RunningTarget[]): Promise<void> {
  const until = Date.now() + 30_000
  for (;;) {
    const out = Bun.spawnSync(['ss', '-ltnpH', `sport = :${port}`]).stdout.toString()
    if (ts.every((t) => out.includes(`pid=${t.pid},`))) return
    if (Date.now() > until) throw new Error(`not every process listens on port ${port}: ${out.trim().slice(0, 300)}`)
    await sleep(100)
  }
}

export async function connectionsScenario(opts: ScenarioOptions): Promise<ScenarioOutput> {
  const limit = openFileLimit()
  // The server holds one descriptor per connection plus its own (database, files): keep a margin.
  const count = opts.quick ? 2000 : Math.min(MAX, limit.soft - 500)
  const details: Record<string, unknown> = { target: MAX, count, openFileLimit: limit, destinations: HOSTS }
  if (!opts.quick && count < MAX) opts.log(`connections: open-file limit ${limit.soft} (hard ${limit.hard}, not raisable here) → ${count} connections`)
  const notAvailable: string[] = []

  const measure = async (key: string, label: string, n: number, token: string, start: (started: RunningTarget[]) => Promise<void>): Promise<Held | undefined> => {
    opts.log(`connections: ${label}`)
    const started: RunningTarget[] = []
    try {
      await start(started)
      await listening(started[0]!.port, started)
      const held = await hold(started, n, token, opts)
      details[key] = held
      return held
    } catch (e) {
      if (e instanceof NotAvailable) notAvailable.push(e.message)
      else {
        details[`${key}_error`] = errorText(e) + serverLog(started[0])
        opts.log(`  error: ${errorText(e)}${serverLog(started[0])}`)
      }
      return undefined
    } finally {
      // the first one started stops last: a BunIM node that created the database drops it
      for (const t of started.reverse()) await t.stop()
    }
  }
  const bunimProbe = (t: RunningTarget) => getToken(t.url, 'idle-probe', 1)

  const bare = await measure('bare', 'bare Bun.serve baseline', count, 'bare:idle', async (started) => {
    started.push(await startBare('0.0.0.0'))
  })
  const bim = await measure('bunim', 'BunIM on Postgres', count, 'bunim', async (started) => {
    started.push(await startBunIM({ storage: 'postgres', host: '0.0.0.0' }))
    await bunimProbe(started[0]!)
  })

  // Past one process's open-file limit: several processes on one port (SO_REUSEPORT; BunIM nodes
  // share the database and a NATS cluster), as a deployment on such a host would run.
  let bimMulti: Held | undefined
  let bareMulti: Held | undefined
  const procs = Math.ceil(MAX / count)
  if (!opts.quick && procs > 1) {
    const port = await freePort()
    const label = `${MAX} over ${procs} processes sharing port ${port} (SO_REUSEPORT)`
    bareMulti = await measure('bareMulti', `${label}: bare Bun.serve`, MAX, 'bare:idle', async (started) => {
      for (let i = 0; i < procs; i++) started.push(await startBare('0.0.0.0', { port, reusePort: true }))
    })
    const env = { IM_REUSE_PORT: '1', NATS_URL: process.env.BENCH_NATS_URL ?? 'nats://127.0.0.1:4222', IM_CLUSTER_NAME: `bench${process.pid}` }
    bimMulti = await measure('bunimMulti', `${label}: BunIM`, MAX, 'bunim', async (started) => {
      started.push(await startBunIM({ storage: 'postgres', host: '0.0.0.0', port, env }))
      for (let i = 1; i < procs; i++) started.push(await startBunIM({ storage: 'postgres', host: '0.0.0.0', port, databaseUrl: started[0]!.databaseUrl, env }))
      await bunimProbe(started[0]!)
    })
  }

  const held = bim ? bim.stillOpen ?? bim.opened : null
  const heldMulti = bimMulti ? bimMulti.stillOpen ?? bimMulti.opened : null
  const multiNote = `${procs} processes on one port (SO_REUSEPORT; BunIM: nodes on one database and a NATS cluster), RSS summed; one process is capped at ${count} by the open-file limit (${limit.soft}, hard ${limit.hard})`
  const rows: Row[] = [
    { metric: 'idle ws connections held, one process', value: held, unit: 'conns', baseline: { name: 'bare Bun.serve ws', value: bare ? bare.stillOpen ?? bare.opened : null }, ratio: ratio(held, bare?.stillOpen ?? null), ...(procs > 1 && !opts.quick ? { note: `one process: capped at ${count} by the open-file limit (${limit.soft}, hard ${limit.hard}); the 50,000 target is the row below` } : { target: '50,000', pass: held == null || opts.quick ? null : held >= MAX, note: opts.quick ? 'quick run: 2,000 only' : undefined }) },
    { metric: 'server RSS per connection, one process', value: bim?.perConnKB ?? null, unit: 'KB', baseline: { name: 'bare Bun.serve ws', value: bare?.perConnKB ?? null }, ratio: ratio(bim?.perConnKB, bare?.perConnKB), higherIsBetter: false, target: `≤ ${TARGET_KB} KB`, pass: bim ? bim.perConnKB <= TARGET_KB : null },
  ]
  if (procs > 1 && !opts.quick) {
    rows.push(
      { metric: `idle ws connections held, ${procs} processes on one port`, value: heldMulti, unit: 'conns', baseline: { name: `bare Bun.serve ws × ${procs}`, value: bareMulti ? bareMulti.stillOpen ?? bareMulti.opened : null }, ratio: ratio(heldMulti, bareMulti?.stillOpen ?? null), target: '50,000', pass: heldMulti == null ? null : heldMulti >= MAX, note: multiNote },
      { metric: `server RSS per connection, ${procs} processes`, value: bimMulti?.perConnKB ?? null, unit: 'KB', baseline: { name: `bare Bun.serve ws × ${procs}`, value: bareMulti?.perConnKB ?? null }, ratio: ratio(bimMulti?.perConnKB, bareMulti?.perConnKB), higherIsBetter: false, target: `≤ ${TARGET_KB} KB`, pass: bimMulti ? bimMulti.perConnKB <= TARGET_KB : null },
    )
  }
  return { rows, details, notAvailable }
}
