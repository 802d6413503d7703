/**
 * connections: as many idle /notify?protoc=ws connections as the machine allows (up to 50,000);
 * server RSS per connection = (RSS with them − RSS before) / connections, from /proc/<pid>/status.
 * Baseline in the same run: a bare Bun.serve WebSocket server holding the same number.
 */
import { join } from 'node:path'
import { getToken, NotAvailable } from '../lib/api'
import { LineReader } from '../lib/load'
import { BUN, type Child, LOAD_CPU, openFileLimit, ROOT, rssKiB, sleep, spawnChild } from '../lib/proc'
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

async function hold(t: RunningTarget, count: number, token: 'bunim' | string, opts: ScenarioOptions): Promise<Held> {
  // Let start-up garbage settle before the "before" reading.
  await sleep(1000)
  const rssBeforeKiB = rssKiB(t.pid)
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
    const rssAfterKiB = rssKiB(t.pid)
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
    opts.log(`  ${t.name}: ${opened}/${count} open (${failed} failed, ${stillOpen} still open at the end) in ${r.openSeconds} s; RSS ${Math.round(rssBeforeKiB / 1024)} → ${Math.round(rssAfterKiB / 1024)} MiB = ${perConnKB} KB/connection${sampleError ? ' — ' + sampleError.slice(0, 200) : ''}`)
    return r
  } finally {
    for (const c of clients) await c.child.stop(3000)
  }
}

export async function connectionsScenario(opts: ScenarioOptions): Promise<ScenarioOutput> {
  const limit = openFileLimit()
  // The server holds one descriptor per connection plus its own (database, files): keep a margin.
  const count = opts.quick ? 2000 : Math.min(MAX, limit.soft - 500)
  const details: Record<string, unknown> = { target: MAX, count, openFileLimit: limit, destinations: HOSTS }
  if (!opts.quick && count < MAX) opts.log(`connections: open-file limit ${limit.soft} (hard ${limit.hard}, not raisable here) → ${count} connections`)
  const notAvailable: string[] = []
  let bim: Held | undefined
  let bare: Held | undefined

  opts.log('connections: bare Bun.serve baseline')
  const b = await startBare('0.0.0.0')
  try {
    bare = await hold(b, count, 'bare:idle', opts)
    details.bare = bare
  } catch (e) {
    details.bare_error = errorText(e)
    opts.log(`  error: ${errorText(e)}`)
  } finally {
    await b.stop()
  }

  opts.log('connections: BunIM on Postgres')
  let t: RunningTarget | undefined
  try {
    t = await startBunIM({ storage: 'postgres', host: '0.0.0.0' })
    await getToken(t.url, 'idle-probe', 1)
    bim = await hold(t, count, 'bunim', opts)
    details.bunim = bim
  } catch (e) {
    if (e instanceof NotAvailable) notAvailable.push(e.message)
    else {
      details.bunim_error = errorText(e) + serverLog(t)
      opts.log(`  error: ${errorText(e)}${serverLog(t)}`)
    }
  } finally {
    await t?.stop()
  }

  const held = bim ? bim.stillOpen ?? bim.opened : null
  const rows: Row[] = [
    { metric: 'idle ws connections held', value: held, unit: 'conns', baseline: { name: 'bare Bun.serve ws', value: bare ? bare.stillOpen ?? bare.opened : null }, ratio: ratio(held, bare?.stillOpen ?? null), target: '50,000', pass: held == null || opts.quick ? null : held >= MAX, note: opts.quick ? 'quick run: 2,000 only' : count < MAX ? `capped at ${count} by the open-file limit (${limit.soft}, hard ${limit.hard})` : undefined },
    { metric: 'server RSS per connection', value: bim?.perConnKB ?? null, unit: 'KB', baseline: { name: 'bare Bun.serve ws', value: bare?.perConnKB ?? null }, ratio: ratio(bim?.perConnKB, bare?.perConnKB), higherIsBetter: false, target: `≤ ${TARGET_KB} KB`, pass: bim ? bim.perConnKB <= TARGET_KB : null },
  ]
  return { rows, details, notAvailable }
}
