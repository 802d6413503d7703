/**
 * send: acknowledged, persisted sends/s through POST /message/send — 64 keep-alive senders,
 * 100 group channels of 4 members, 128-byte payloads — on Postgres and on the embedded database.
 * Baselines in the same run: the same requests with header.no_persist=1, raw 100-row INSERTs into
 * the same database, and a bare Bun.serve answering the same requests from memory.
 */
import { join } from 'node:path'
import { b64, createGroup, NotAvailable, pool, postJson, sendMessage } from '../lib/api'
import { runLoad } from '../lib/load'
import { dbStats, statsPer } from '../lib/pg'
import { newestProfile, profileLines, summarizeProfile } from '../lib/profile'
import { ROOT } from '../lib/proc'
import { ratio, RESULTS_DIR, type Row } from '../lib/report'
import { cpuPerOpUs, errorText, serverLog, type ScenarioOptions, type ScenarioOutput, windows } from '../lib/scenario'
import { type RunningTarget, startBare, startBunIM, startElysia } from '../lib/servers'
import type { HttpLoadConfig, HttpLoadResult } from '../load/http'

const HTTP_LOAD = join(ROOT, 'bench/load/http.ts')
const PG_INSERT = join(ROOT, 'bench/load/pg-insert.ts')
const WK_SEND = join(ROOT, 'bench/load/wkproto-send.ts')
/** WKProto SENDs in flight per connection (the SDKs pipeline; HTTP senders have 1) */
const WK_WINDOW = 4
const SENDERS = 64
const CHANNELS = 100
const MEMBERS = 4
const PAYLOAD = 128

export const channels = Array.from({ length: CHANNELS }, (_, i) => ({
  id: `bench-send-${i}`,
  members: Array.from({ length: MEMBERS }, (_, m) => `bs${i}u${m}`),
}))

export async function setupChannels(t: RunningTarget) {
  await pool(channels, 16, (c) => createGroup(t.url, c.id, c.members))
  // One real send: proves the route exists and the sender is accepted.
  const r = await sendMessage(t.url, { header: { no_persist: 0, red_dot: 1, sync_once: 0 }, from_uid: channels[0]!.members[0], channel_id: channels[0]!.id, channel_type: 2, payload: b64('probe') })
  if (!(r.message_seq > 0)) throw new Error(`probe send was not persisted: ${JSON.stringify(r)}`)
}

async function sendLoad(t: RunningTarget, noPersist: boolean, opts: ScenarioOptions) {
  const dbName = t.databaseUrl ? new URL(t.databaseUrl).pathname.slice(1) : undefined
  const before = dbName ? (await Bun.sleep(1100), await dbStats(dbName)) : null
  const cfg: HttpLoadConfig = {
    host: t.host,
    port: t.port,
    connections: SENDERS,
    ...windows(opts.quick),
    request: { kind: 'wk-send', path: '/message/send', channels, noPersist, payloadBytes: PAYLOAD },
  }
  const run = await runLoad<HttpLoadResult>(HTTP_LOAD, cfg, { timeoutMs: 60_000, watch: { server: t.pid } })
  // Database work per send (commits, rows) over the whole load run, warm-up included.
  const after = dbName ? (await Bun.sleep(1100), await dbStats(dbName)) : null
  const total = (run.result.requests / cfg.durationMs) * (cfg.durationMs + cfg.warmupMs)
  const perSend = statsPer(before, after, total)
  if (perSend) Object.assign(run, { dbPerSend: perSend })
  Object.assign(run, { serverCpuUsPerSend: cpuPerOpUs(run.cpu.server, run.result.elapsedMs, run.result.ok) })
  opts.log(`  ${t.name} no_persist=${noPersist ? 1 : 0}: ${run.result.rate}/s, p50 ${run.result.latencyMs.p50} ms, p99 ${run.result.latencyMs.p99} ms, errors ${run.result.errors}, cpu ${JSON.stringify(run.cpu)}${perSend ? `, per send: ${perSend.xact_commit} commits, ${perSend.tup_inserted} rows inserted, ${perSend.tup_updated} updated` : ''}${run.result.sampleError ? ' — ' + run.result.sampleError : ''}`)
  return run
}

/** WKProto over /ws: 64 connections, one per channel's first member, WK_WINDOW SENDs in flight each. */
async function wkSend(t: RunningTarget, opts: ScenarioOptions) {
  const probe = await fetch(t.url + '/ws')
  if (probe.status === 404) throw new NotAvailable('/ws (WKProto) not available yet')
  const senders = channels.slice(0, SENDERS).map((c) => ({ uid: c.members[0]!, token: 'bench-token', channelId: c.id }))
  await pool(senders, 16, async (s) => {
    const r = await postJson(t.url, '/user/token', { uid: s.uid, token: s.token, device_flag: 1, device_level: 0 })
    if (r.status !== 200) throw new Error(`/user/token: HTTP ${r.status} ${r.text.slice(0, 200)}`)
  })
  const run = await runLoad<HttpLoadResult>(WK_SEND, { url: t.url, senders, window: WK_WINDOW, contentBytes: PAYLOAD, ...windows(opts.quick) }, { timeoutMs: 60_000, watch: { server: t.pid } })
  Object.assign(run, { serverCpuUsPerSend: cpuPerOpUs(run.cpu.server, run.result.elapsedMs, run.result.ok) })
  opts.log(`  ${t.name} WKProto /ws, ${SENDERS} connections × ${WK_WINDOW} in flight: ${run.result.rate}/s, p50 ${run.result.latencyMs.p50} ms, p99 ${run.result.latencyMs.p99} ms, cpu ${JSON.stringify(run.cpu)}${run.result.sampleError ? ' — ' + run.result.sampleError : ''}`)
  return run
}

export async function sendScenario(opts: ScenarioOptions): Promise<ScenarioOutput> {
  const details: Record<string, unknown> = { senders: SENDERS, channels: CHANNELS, membersPerChannel: MEMBERS, payloadBytes: PAYLOAD, ...windows(opts.quick) }
  const notAvailable: string[] = []
  const rate: Record<string, number | null> = {}

  // 1. bare Bun.serve, same requests (no_persist=1 shape), from memory.
  opts.log('send: bare Bun.serve baseline')
  const bare = await startBare()
  try {
    const run = await sendLoad(bare, true, opts)
    details.bare = run
    rate.bare = run.result.rate
    rate.bareCpu = (run as { serverCpuUsPerSend?: number | null }).serverCpuUsPerSend ?? null
  } finally {
    await bare.stop()
  }

  // Bare Elysia: the framework's share of the per-request cost.
  opts.log('send: bare Elysia baseline')
  try {
    const ely = await startElysia()
    try {
      const run = await sendLoad(ely, true, opts)
      details.elysia = run
      rate.elysia = run.result.rate
      rate.elysiaCpu = (run as { serverCpuUsPerSend?: number | null }).serverCpuUsPerSend ?? null
    } finally {
      await ely.stop()
    }
  } catch (e) {
    details.elysia_error = errorText(e)
  }

  // 2. BunIM on Postgres: no_persist, persisted, and raw INSERTs into the same database.
  for (const storage of ['postgres', 'pglite'] as const) {
    opts.log(`send: BunIM on ${storage}`)
    let t: RunningTarget | undefined
    const profileDir = opts.profile ? join(RESULTS_DIR, 'profiles', `send-${storage}`) : undefined
    try {
      t = await startBunIM({ storage, profileDir })
      try {
        await setupChannels(t)
        const np = await sendLoad(t, true, opts)
        const p = await sendLoad(t, false, opts)
        details[`${storage}_no_persist`] = np
        details[`${storage}_persisted`] = p
        rate[`${storage}_np`] = np.result.rate
        rate[`${storage}_p`] = p.result.rate
        rate[`${storage}_npCpu`] = (np as { serverCpuUsPerSend?: number | null }).serverCpuUsPerSend ?? null
        rate[`${storage}_pCpu`] = (p as { serverCpuUsPerSend?: number | null }).serverCpuUsPerSend ?? null
        if (p.result.persisted !== undefined && p.result.persisted < p.result.ok) details[`${storage}_warning`] = `${p.result.ok - p.result.persisted} persisted sends answered message_seq 0`
      } catch (e) {
        if (!(e instanceof NotAvailable)) throw e
        notAvailable.push(`${e.message} (BunIM on ${storage})`)
      }
      if (storage === 'postgres') {
        try {
          const wk = await wkSend(t, opts)
          details.wkproto = wk
          rate.wk = wk.result.rate
        } catch (e) {
          if (!(e instanceof NotAvailable)) throw e
          notAvailable.push(`${e.message} (WKProto send)`)
        }
      }
      if (storage === 'postgres' && t.databaseUrl) {
        // Same database, same table, after BunIM's own runs.
        opts.log('send: raw 100-row INSERT baseline (postgres.js)')
        const raw = await runLoad<{ rate: number }>(PG_INSERT, { databaseUrl: t.databaseUrl, connections: 4, batch: 100, payloadBytes: PAYLOAD, ...windows(opts.quick) }, { timeoutMs: 60_000, watch: { server: t.pid } })
        opts.log(`  raw INSERT: ${raw.result.rate} rows/s, cpu ${JSON.stringify(raw.cpu)}`)
        details.raw_insert = raw
        rate.raw = raw.result.rate
      }
    } catch (e) {
      details[`${storage}_error`] = errorText(e) + serverLog(t)
      opts.log(`  error: ${errorText(e)}${serverLog(t)}`)
    } finally {
      await t?.stop()
    }
    if (profileDir) {
      const f = newestProfile(profileDir)
      if (f) {
        const s = summarizeProfile(f)
        details[`${storage}_profile`] = s
        for (const l of profileLines(s)) opts.log(l)
      }
    }
  }

  const r = (k: string) => rate[k] ?? null
  const rows: Row[] = [
    { metric: 'no_persist sends/s (Postgres)', value: r('postgres_np'), unit: 'msg/s', baseline: { name: 'bare Bun.serve', value: r('bare') }, ratio: ratio(r('postgres_np'), r('bare')), target: '≥ 0.8× bare', pass: gate(ratio(r('postgres_np'), r('bare')), 0.8) },
    { metric: 'persisted sends/s (Postgres)', value: r('postgres_p'), unit: 'msg/s', baseline: { name: 'no_persist', value: r('postgres_np') }, ratio: ratio(r('postgres_p'), r('postgres_np')), target: '≥ 0.7× no_persist', pass: gate(ratio(r('postgres_p'), r('postgres_np')), 0.7) },
    { metric: `WKProto persisted sends/s (/ws, ${WK_WINDOW} in flight per connection)`, value: r('wk'), unit: 'msg/s', baseline: { name: 'raw 100-row INSERT', value: r('raw') }, ratio: ratio(r('wk'), r('raw')), target: '≥ 0.3× raw INSERT', pass: gate(ratio(r('wk'), r('raw')), 0.3) },
    { metric: 'persisted sends/s vs raw INSERT (Postgres)', value: r('postgres_p'), unit: 'msg/s', baseline: { name: 'raw 100-row INSERT', value: r('raw') }, ratio: ratio(r('postgres_p'), r('raw')) },
    { metric: 'server CPU per no_persist send (Postgres)', value: r('postgres_npCpu'), unit: 'µs', baseline: { name: 'bare Bun.serve', value: r('bareCpu') }, ratio: ratio(r('postgres_npCpu'), r('bareCpu')), higherIsBetter: false, note: 'CPU time per op: robust when other processes share the machine' },
    { metric: 'server CPU per no_persist send vs bare Elysia', value: r('postgres_npCpu'), unit: 'µs', baseline: { name: 'bare Elysia + TypeBox', value: r('elysiaCpu') }, ratio: ratio(r('postgres_npCpu'), r('elysiaCpu')), higherIsBetter: false, note: r('elysia') == null ? undefined : `bare Elysia: ${r('elysia')} msg/s` },
    { metric: 'server CPU per persisted send (Postgres)', value: r('postgres_pCpu'), unit: 'µs', baseline: { name: 'no_persist', value: r('postgres_npCpu') }, ratio: ratio(r('postgres_pCpu'), r('postgres_npCpu')), higherIsBetter: false },
    { metric: 'persisted sends/s (embedded)', value: r('pglite_p'), unit: 'msg/s', baseline: { name: 'no_persist', value: r('pglite_np') }, ratio: ratio(r('pglite_p'), r('pglite_np')), target: '≥ 5,000 msg/s', pass: r('pglite_p') == null ? null : r('pglite_p')! >= 5000 },
  ]
  return { rows, details, notAvailable }
}

export function gate(x: number | null, min: number): boolean | null {
  return x == null ? null : x >= min
}
