/**
 * fanout: 1,000 receivers on /notify?protoc=ws in 100 groups of 10; senders post to
 * /message/send; deliveries/s and send→receive latency. Baselines in the same run, same clients,
 * same requests: a bare Bun.serve pub/sub server and a socket.io server with rooms.
 */
import { join } from 'node:path'
import { createGroup, getToken, NotAvailable, pool, postJson } from '../lib/api'
import { runFanout } from '../lib/load'
import { newestProfile, profileLines, summarizeProfile } from '../lib/profile'
import { ROOT } from '../lib/proc'
import { pairedNote, pairedRound, ratio, RESULTS_DIR, type Row } from '../lib/report'
import { cpuPerOpUs, errorText, onlyCases, serverLog, type ScenarioOptions, type ScenarioOutput, windows } from '../lib/scenario'
import { type RunningTarget, startBare, startBunIM, startSocketIo } from '../lib/servers'
import { writerCounters, writerShare, writerText } from '../lib/writer-stats'
import type { FanoutConfig } from '../load/fanout'
import { gate } from './send'

const FANOUT_LOAD = join(ROOT, 'bench/load/fanout.ts')
const GROUPS = 100
const PER_GROUP = 10
const PERSISTED_RATE = 5000
const SATURATION_SENDERS = 64
const NOTIFY_PATH = '/notify?protoc=ws&token='

type Run = { result: FanoutResult; cpu: Record<string, number> }

interface FanoutResult {
  subscribed: number
  receivers: number
  sendRate: number
  deliveries: number
  expected: number
  deliveriesPerSec: number
  latencyMs: { p50: number; p99: number; max: number }
  /** send → its HTTP answer */
  ackLatencyMs?: { p50: number; p99: number }
  sendErrors: number
  closes: number
  sampleError?: string
}

type Channel = { id: string; members: string[] }

const bareChannels: Channel[] = Array.from({ length: GROUPS }, (_, g) => ({ id: `bench-fan-${g}`, members: Array.from({ length: PER_GROUP }, (_, m) => `bf${g}u${m}`) }))

/** Creates the groups in BunIM (WuKongIM /channel, else quick-im /inner/create_conversation) and the tokens. */
async function setupBunIM(t: RunningTarget): Promise<{ channels: Channel[]; receivers: { token: string }[] }> {
  const channels: Channel[] = []
  try {
    await pool(bareChannels, 16, (c) => createGroup(t.url, c.id, c.members))
    channels.push(...bareChannels)
  } catch (e) {
    if (!(e instanceof NotAvailable)) throw e
    await pool(bareChannels, 16, async (c) => {
      const r = await postJson(t.url, '/inner/create_conversation', { conversation_type: 0, sessions: c.members })
      if (r.json?.code !== 0) throw new Error(`/inner/create_conversation: ${r.text.slice(0, 200)}`)
      channels.push({ id: r.json.data.ConversationId, members: c.members })
    })
  }
  const members = channels.flatMap((c) => c.members)
  const receivers: { token: string }[] = new Array(members.length)
  await pool(members, 16, async (uid, i) => {
    receivers[i] = { token: await getToken(t.url, uid, 1) }
  })
  return { channels, receivers }
}

const bareReceivers = bareChannels.flatMap((c) => c.members.map(() => ({ token: `bare:${c.id}` })))

async function fan(t: RunningTarget, label: string, base: Omit<FanoutConfig, 'host' | 'port' | 'warmupMs' | 'durationMs' | 'contentBytes' | 'wsPath'>, opts: ScenarioOptions) {
  const cfg: FanoutConfig = { host: t.host, port: t.port, wsPath: NOTIFY_PATH, contentBytes: 128, ...windows(opts.quick), ...base }
  const persisted = base.noPersist === false && t.name.startsWith('BunIM')
  const w0 = persisted ? await writerCounters(t) : null
  const t0 = performance.now()
  const run = await runFanout<FanoutResult>(FANOUT_LOAD, cfg, { timeoutMs: 90_000, watch: { server: t.pid } })
  // over the whole run (probe and warm-up included)
  const writer = writerShare(w0, persisted ? await writerCounters(t) : null, performance.now() - t0)
  if (writer) Object.assign(run, { writer })
  const r = run.result
  opts.log(
    `  ${t.name} ${label}: ${r.deliveriesPerSec} deliveries/s (${r.sendRate} sends/s), latency p50 ${r.latencyMs.p50} ms p99 ${r.latencyMs.p99} ms${r.ackLatencyMs ? ` (answered p50 ${r.ackLatencyMs.p50} ms p99 ${r.ackLatencyMs.p99} ms)` : ''}, subscribed ${r.subscribed}/${r.receivers}, lost ${r.expected - r.deliveries}, closes ${r.closes}, send errors ${r.sendErrors}, cpu ${JSON.stringify(run.cpu)}${writerText(writer)}${r.sampleError ? ' — ' + r.sampleError : ''}`,
  )
  Object.assign(run, { serverCpuUsPerDelivery: cpuPerOpUs(run.cpu.server, (opts.quick ? windows(true) : windows(false)).durationMs, r.deliveries) })
  if (r.subscribed < r.receivers) throw new Error(`${t.name}: only ${r.subscribed}/${r.receivers} receivers got the probe message`)
  return run
}

/** Order within a round: BunIM's saturation run between the two it is compared with. */
const FANOUT_ORDER = ['bare_sat', 'bunim_sat', 'sio_sat', 'bare_fixed', 'bunim_fixed_np', 'bunim_fixed']

export async function fanoutScenario(opts: ScenarioOptions): Promise<ScenarioOutput> {
  // BENCH_CASES=bare_fixed,bunim_fixed runs only those cases (keys: FANOUT_ORDER)
  const only = onlyCases()
  const rounds = opts.quick ? 1 : 3
  const details: Record<string, unknown> = { receivers: GROUPS * PER_GROUP, groups: GROUPS, perGroup: PER_GROUP, saturationSenders: SATURATION_SENDERS, persistedRate: PERSISTED_RATE, rounds, ...windows(opts.quick) }
  const notAvailable: string[] = []
  const saturate = { rate: null, senders: SATURATION_SENDERS }
  const fixed = { rate: PERSISTED_RATE, senders: 64 }
  const started: RunningTarget[] = []
  const cases: { key: string; run: () => Promise<Run> }[] = []
  const runs: Record<string, Run[]> = {}
  const byRound: Record<string, (Run | undefined)[]> = {}
  const profileDir = opts.profile ? join(RESULTS_DIR, 'profiles', 'fanout-postgres') : undefined
  let bunim: RunningTarget | undefined

  try {
    // All servers up first; the rounds interleave the cases (see send.ts).
    opts.log('fanout: starting bare Bun pub/sub, socket.io, BunIM on Postgres')
    const bare = await startBare()
    started.push(bare)
    const bareBase = { client: 'ws' as const, receivers: bareReceivers, channels: bareChannels, noPersist: true }
    cases.push({ key: 'bare_sat', run: () => fan(bare, 'saturation', { ...bareBase, ...saturate }, opts) })
    try {
      const sio = await startSocketIo()
      started.push(sio)
      cases.push({ key: 'sio_sat', run: () => fan(sio, 'saturation', { ...bareBase, client: 'socketio', ...saturate }, opts) })
    } catch (e) {
      details.socketio_error = errorText(e)
      opts.log(`  socket.io error: ${errorText(e)}`)
    }
    try {
      bunim = await startBunIM({ storage: 'postgres', profileDir })
      started.push(bunim)
      const t = bunim
      const { channels, receivers } = await setupBunIM(t)
      cases.push({ key: 'bunim_sat', run: () => fan(t, 'saturation, no_persist', { client: 'ws', receivers, channels, noPersist: true, ...saturate }, opts) })
      cases.push({ key: 'bare_fixed', run: () => fan(bare, `${PERSISTED_RATE} msg/s`, { ...bareBase, ...fixed }, opts) })
      // Same rate as the bare server's fixed run, live only: server CPU per delivery at equal rates
      // (the kernel's share per delivery falls as the rate rises: more frames per socket write).
      cases.push({ key: 'bunim_fixed_np', run: () => fan(t, `${PERSISTED_RATE} msg/s, no_persist`, { client: 'ws', receivers, channels, noPersist: true, ...fixed }, opts) })
      cases.push({ key: 'bunim_fixed', run: () => fan(t, `${PERSISTED_RATE} persisted msg/s`, { client: 'ws', receivers, channels, noPersist: false, ...fixed }, opts) })
    } catch (e) {
      if (e instanceof NotAvailable) notAvailable.push(e.message)
      else {
        details.bunim_error = errorText(e) + serverLog(bunim)
        opts.log(`  error: ${errorText(e)}${serverLog(bunim)}`)
      }
    }
    // BunIM's saturation run sits between the two it is compared with; the third round is for
    // the saturation cases only (their paired ratio a true median; the bench within 10 minutes).
    cases.sort((a, b) => FANOUT_ORDER.indexOf(a.key) - FANOUT_ORDER.indexOf(b.key))
    for (let round = 1; round <= rounds; round++) {
      if (rounds > 1) opts.log(`fanout: round ${round}/${rounds}`)
      for (const c of cases) {
        if (round > 2 && !c.key.endsWith('_sat')) continue
        if (only && !only.has(c.key)) continue
        try {
          const run = await c.run()
          ;(runs[c.key] ??= []).push(run)
          ;(byRound[c.key] ??= [])[round - 1] = run
        } catch (e) {
          details[`${c.key}_error`] = errorText(e) + (c.key.startsWith('bunim') ? serverLog(bunim) : '')
          opts.log(`  ${c.key} error: ${errorText(e)}`)
        }
      }
    }
  } finally {
    for (const t of started) await t.stop()
  }
  if (profileDir) {
    const f = newestProfile(profileDir)
    if (f) {
      const s = summarizeProfile(f)
      details.bunim_profile = s
      for (const l of profileLines(s)) opts.log(l)
    }
  }

  // Best of the rounds: most deliveries/s at saturation, lowest p99 at the fixed rate.
  const pick = (key: string, better: (a: Run, b: Run) => boolean): Run | undefined => {
    const rs = runs[key] ?? []
    const b = rs.reduce<Run | undefined>((acc, r) => (!acc || better(r, acc) ? r : acc), undefined)
    details[key] = { best: b, all: rs }
    return b
  }
  const cpu = (r: Run | undefined) => (r as { serverCpuUsPerDelivery?: number | null } | undefined)?.serverCpuUsPerDelivery ?? null
  const sat = (k: string) => pick(k, (a, b) => a.result.deliveriesPerSec > b.result.deliveriesPerSec)
  const fix = (k: string) => pick(k, (a, b) => a.result.latencyMs.p99 < b.result.latencyMs.p99)
  const bareSat = sat('bare_sat')
  const sioSat = sat('sio_sat')
  const bunSat = sat('bunim_sat')
  const bareFix = fix('bare_fixed')
  const bunFix = fix('bunim_fixed')
  // CPU per delivery at the fixed rate: the round that came closest to the rate (CPU per delivery
  // falls with the rate, so only runs at the same rate compare), then the lower CPU.
  const closer = (a: Run, b: Run) => a.result.sendRate > b.result.sendRate * 1.02 || (a.result.sendRate >= b.result.sendRate * 0.98 && (cpu(a) ?? Infinity) < (cpu(b) ?? Infinity))
  const atRate = (k: string) => (runs[k] ?? []).reduce<Run | undefined>((acc, r) => (!acc || closer(r, acc) ? r : acc), undefined)
  const bunFixNp = pick('bunim_fixed_np', closer)
  const bareFixCpu = atRate('bare_fixed')
  const p99 = (r: Run | undefined) => r?.result.latencyMs.p99 ?? null
  // % of the load core used by senders + receivers: near 100 the load, not the server, bounds the rate.
  const loadCpu = (r: Run | undefined) => (r ? Math.round(((r.cpu.senders ?? 0) + (r.cpu.receivers ?? 0)) * 10) / 10 : null)
  const serverCpu = (r: Run | undefined) => r?.cpu.server ?? null
  // Deliveries/s ratios pair the runs of one round (see send.ts): the median round is reported.
  const deliveries = (k: string) => (byRound[k] ?? []).map((run) => run?.result.deliveriesPerSec)
  const vsBare = pairedRound(deliveries('bunim_sat'), deliveries('bare_sat'))
  const vsSio = pairedRound(deliveries('bunim_sat'), deliveries('sio_sat'))
  details.pairedRatios = { vsBare, vsSio }
  const rows: Row[] = [
    { metric: 'deliveries/s, no_persist (saturation)', value: vsBare.value, unit: '/s', baseline: { name: 'bare Bun pub/sub', value: vsBare.base }, ratio: vsBare.ratio, target: '≥ 0.8× bare Bun', pass: gate(vsBare.ratio, 0.8), note: pairedNote(vsBare) },
    { metric: 'deliveries/s vs socket.io (saturation)', value: vsSio.value, unit: '/s', baseline: { name: 'socket.io rooms', value: vsSio.base }, ratio: vsSio.ratio, target: '≥ 3× socket.io', pass: gate(vsSio.ratio, 3), note: pairedNote(vsSio) },
    { metric: 'server CPU per delivery, no_persist', value: cpu(bunSat), unit: 'µs', baseline: { name: 'bare Bun pub/sub', value: cpu(bareSat) }, ratio: ratio(cpu(bunSat), cpu(bareSat)), higherIsBetter: false, note: cpu(sioSat) == null ? undefined : `socket.io: ${cpu(sioSat)} µs` },
    {
      metric: `server CPU per delivery at ${PERSISTED_RATE} msg/s, no_persist`,
      value: cpu(bunFixNp),
      unit: 'µs',
      baseline: { name: 'bare Bun pub/sub, same rate', value: cpu(bareFixCpu) },
      ratio: ratio(cpu(bunFixNp), cpu(bareFixCpu)),
      higherIsBetter: false,
      note: bunFixNp ? `achieved ${bunFixNp.result.sendRate} sends/s; bare ${bareFixCpu?.result.sendRate} sends/s` : undefined,
    },
    { metric: 'server CPU per delivery vs socket.io', value: cpu(bunSat), unit: 'µs', baseline: { name: 'socket.io rooms', value: cpu(sioSat) }, ratio: ratio(cpu(bunSat), cpu(sioSat)), higherIsBetter: false },
    { metric: 'load core CPU at saturation (senders + receivers)', value: loadCpu(bunSat), unit: '%', baseline: { name: 'bare Bun run', value: loadCpu(bareSat) }, ratio: null },
    { metric: 'load core CPU at saturation, vs socket.io run', value: loadCpu(bunSat), unit: '%', baseline: { name: 'socket.io run', value: loadCpu(sioSat) }, ratio: null },
    { metric: 'server CPU at saturation (% of its core)', value: serverCpu(bunSat), unit: '%', baseline: { name: 'bare Bun pub/sub', value: serverCpu(bareSat) }, ratio: null },
    { metric: 'server CPU at saturation, vs socket.io', value: serverCpu(bunSat), unit: '%', baseline: { name: 'socket.io (Node)', value: serverCpu(sioSat) }, ratio: null },
    {
      metric: `send→receive p99 at ${PERSISTED_RATE} persisted msg/s`,
      value: p99(bunFix),
      unit: 'ms',
      baseline: { name: 'bare Bun, same rate, not stored', value: p99(bareFix) },
      ratio: ratio(p99(bunFix), p99(bareFix)),
      higherIsBetter: false,
      target: '≤ 25 ms',
      pass: bunFix ? bunFix.result.latencyMs.p99 <= 25 && bunFix.result.sendRate >= PERSISTED_RATE * 0.95 : null,
      note: bunFix ? `p50 ${bunFix.result.latencyMs.p50} ms; achieved ${bunFix.result.sendRate} sends/s` : undefined,
    },
  ]
  return { rows, details, notAvailable }
}
