#!/usr/bin/env bun
/**
 * `bun bench/profile.ts <case> [seconds]` — one BunIM server under `bun --cpu-prof`, one kind of
 * load, then where the server's CPU went (by package/folder, by function, by BunIM code path).
 * Cases: send-np, send-p (Postgres), send-embedded, send-wk (WKProto SENDs over /ws, Postgres),
 * fanout-np, sync. The raw profile and Bun's markdown summary stay in bench/results/profiles/<case>/.
 */
import { join } from 'node:path'
import { b64, createGroup, getToken, pool, sendMessage } from './lib/api'
import { runFanout, runLoad } from './lib/load'
import { newestProfile, profileLines, summarizeProfile } from './lib/profile'
import { ROOT } from './lib/proc'
import { RESULTS_DIR } from './lib/report'
import { startBunIM } from './lib/servers'
import type { FanoutConfig } from './load/fanout'
import type { HttpLoadConfig } from './load/http'
import { channels, PAYLOAD, setupChannels, WK_SEND, wkLoadConfig, wkSetup } from './scenarios/send'

const CASES = ['send-np', 'send-p', 'send-embedded', 'send-wk', 'fanout-np', 'sync']
const which = process.argv[2] ?? ''
const seconds = Number(process.argv[3] ?? 8)
if (!CASES.includes(which)) {
  console.error(`usage: bun bench/profile.ts <${CASES.join('|')}> [seconds]`)
  process.exit(2)
}
const dir = join(RESULTS_DIR, 'profiles', which)
const t = await startBunIM({ storage: which === 'send-embedded' ? 'pglite' : 'postgres', profileDir: dir })
try {
  const base = { host: t.host, port: t.port, warmupMs: 1000, durationMs: seconds * 1000 }
  if (which === 'send-wk') {
    await setupChannels(t)
    await wkSetup(t)
    const r = await runLoad<{ rate: number }>(WK_SEND, wkLoadConfig(t, base), { timeoutMs: 120_000, watch: { server: t.pid } })
    console.log(`${which}: ${r.result.rate}/s, cpu ${JSON.stringify(r.cpu)}`)
  } else if (which.startsWith('send')) {
    await setupChannels(t)
    const r = await runLoad<{ rate: number }>(join(ROOT, 'bench/load/http.ts'), { ...base, connections: 64, request: { kind: 'wk-send', path: '/message/send', channels, noPersist: which === 'send-np', payloadBytes: PAYLOAD } } satisfies HttpLoadConfig, { timeoutMs: 120_000, watch: { server: t.pid } })
    console.log(`${which}: ${r.result.rate}/s, cpu ${JSON.stringify(r.cpu)}`)
  } else if (which === 'fanout-np') {
    const groups = Array.from({ length: 100 }, (_, g) => ({ id: `bench-fan-${g}`, members: Array.from({ length: 10 }, (_, m) => `bf${g}u${m}`) }))
    await pool(groups, 16, (c) => createGroup(t.url, c.id, c.members))
    const receivers: { token: string }[] = []
    for (const g of groups) for (const m of g.members) receivers.push({ token: await getToken(t.url, m, 1) })
    const cfg: FanoutConfig = { ...base, client: 'ws', wsPath: '/notify?protoc=ws&token=', receivers, channels: groups, noPersist: true, rate: null, senders: 64, contentBytes: 128 }
    const r = await runFanout<{ deliveriesPerSec: number }>(join(ROOT, 'bench/load/fanout.ts'), cfg, { timeoutMs: 120_000, watch: { server: t.pid } })
    console.log(`${which}: ${r.result.deliveriesPerSec} deliveries/s, cpu ${JSON.stringify(r.cpu)}`)
  } else {
    const uid = 'bench-sync-user'
    await pool(
      Array.from({ length: 1000 }, (_, i) => i),
      16,
      async (i) => {
        await createGroup(t.url, `bench-sync-${i}`, [uid, `p${i}`])
        await sendMessage(t.url, { header: { no_persist: 0, red_dot: 1, sync_once: 0 }, from_uid: `p${i}`, channel_id: `bench-sync-${i}`, channel_type: 2, payload: b64('hi') })
      },
    )
    const body = JSON.stringify({ uid, version: 0, last_msg_seqs: '', msg_count: 1 })
    const r = await runLoad<{ rate: number; latencyMs: unknown }>(join(ROOT, 'bench/load/http.ts'), { ...base, connections: 1, request: { kind: 'post', path: '/conversation/sync', body } } satisfies HttpLoadConfig, { timeoutMs: 120_000, watch: { server: t.pid } })
    console.log(`${which}: ${r.result.rate} calls/s, latency ${JSON.stringify(r.result.latencyMs)}, cpu ${JSON.stringify(r.cpu)}`)
  }
} finally {
  await t.stop()
}
const f = newestProfile(dir)
if (f) for (const l of profileLines(summarizeProfile(f, 20))) console.log(l)
process.exit(0)
