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
import { ratio, RESULTS_DIR, type Row } from '../lib/report'
import { cpuPerOpUs, errorText, serverLog, type ScenarioOptions, type ScenarioOutput, windows } from '../lib/scenario'
import { type RunningTarget, startBare, startBunIM, startSocketIo } from '../lib/servers'
import type { FanoutConfig } from '../load/fanout'
import { gate } from './send'

const FANOUT_LOAD = join(ROOT, 'bench/load/fanout.ts')
const GROUPS = 100
const PER_GROUP = 10
const PERSISTED_RATE = 5000
const SATURATION_SENDERS = 64
const NOTIFY_PATH = '/notify?protoc=ws&token='

interface FanoutResult {
  subscribed: number
  receivers: number
  sendRate: number
  deliveries: number
  expected: number
  deliveriesPerSec: number
  latencyMs: { p50: number; p99: number; max: number }
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
  const run = await runFanout<FanoutResult>(FANOUT_LOAD, cfg, { timeoutMs: 90_000, watch: { server: t.pid } })
  const r = run.result
  opts.log(
    `  ${t.name} ${label}: ${r.deliveriesPerSec} deliveries/s (${r.sendRate} sends/s), latency p50 ${r.latencyMs.p50} ms p99 ${r.latencyMs.p99} ms, subscribed ${r.subscribed}/${r.receivers}, lost ${r.expected - r.deliveries}, closes ${r.closes}, send errors ${r.sendErrors}, cpu ${JSON.stringify(run.cpu)}${r.sampleError ? ' — ' + r.sampleError : ''}`,
  )
  Object.assign(run, { serverCpuUsPerDelivery: cpuPerOpUs(run.cpu.server, (opts.quick ? windows(true) : windows(false)).durationMs, r.deliveries) })
  if (r.subscribed < r.receivers) throw new Error(`${t.name}: only ${r.subscribed}/${r.receivers} receivers got the probe message`)
  return run
}

export async function fanoutScenario(opts: ScenarioOptions): Promise<ScenarioOutput> {
  const details: Record<string, unknown> = { receivers: GROUPS * PER_GROUP, groups: GROUPS, perGroup: PER_GROUP, saturationSenders: SATURATION_SENDERS, persistedRate: PERSISTED_RATE, ...windows(opts.quick) }
  const notAvailable: string[] = []
  const v: Record<string, number | null> = {}
  const saturate = { rate: null, senders: SATURATION_SENDERS }
  const fixed = { rate: PERSISTED_RATE, senders: 64 }

  opts.log('fanout: bare Bun pub/sub baseline')
  const bare = await startBare()
  try {
    const sat = await fan(bare, 'saturation', { client: 'ws', receivers: bareReceivers, channels: bareChannels, noPersist: true, ...saturate }, opts)
    const at = await fan(bare, `${PERSISTED_RATE} msg/s`, { client: 'ws', receivers: bareReceivers, channels: bareChannels, noPersist: true, ...fixed }, opts)
    details.bare = { saturation: sat, fixedRate: at }
    v.bare = sat.result.deliveriesPerSec
    v.bareCpu = (sat as { serverCpuUsPerDelivery?: number | null }).serverCpuUsPerDelivery ?? null
    v.bareP99 = at.result.latencyMs.p99
  } catch (e) {
    details.bare_error = errorText(e)
    opts.log(`  error: ${errorText(e)}`)
  } finally {
    await bare.stop()
  }

  opts.log('fanout: socket.io baseline')
  try {
    const sio = await startSocketIo()
    try {
      const sat = await fan(sio, 'saturation', { client: 'socketio', receivers: bareReceivers, channels: bareChannels, noPersist: true, ...saturate }, opts)
      details.socketio = { saturation: sat }
      v.sio = sat.result.deliveriesPerSec
      v.sioCpu = (sat as { serverCpuUsPerDelivery?: number | null }).serverCpuUsPerDelivery ?? null
    } finally {
      await sio.stop()
    }
  } catch (e) {
    details.socketio_error = errorText(e)
    opts.log(`  error: ${errorText(e)}`)
  }

  opts.log('fanout: BunIM on Postgres')
  const profileDir = opts.profile ? join(RESULTS_DIR, 'profiles', 'fanout-postgres') : undefined
  let t: RunningTarget | undefined
  try {
    t = await startBunIM({ storage: 'postgres', profileDir })
    const { channels, receivers } = await setupBunIM(t)
    const sat = await fan(t, 'saturation, no_persist', { client: 'ws', receivers, channels, noPersist: true, ...saturate }, opts)
    v.bunim = sat.result.deliveriesPerSec
    v.bunimCpu = (sat as { serverCpuUsPerDelivery?: number | null }).serverCpuUsPerDelivery ?? null
    const at = await fan(t, `${PERSISTED_RATE} persisted msg/s`, { client: 'ws', receivers, channels, noPersist: false, ...fixed }, opts)
    v.p99 = at.result.latencyMs.p99
    v.p50 = at.result.latencyMs.p50
    v.persistedSendRate = at.result.sendRate
    details.bunim = { saturation: sat, persistedFixedRate: at }
  } catch (e) {
    if (e instanceof NotAvailable) notAvailable.push(e.message)
    else {
      details.bunim_error = errorText(e) + serverLog(t)
      opts.log(`  error: ${errorText(e)}${serverLog(t)}`)
    }
  } finally {
    await t?.stop()
  }
  if (profileDir) {
    const f = newestProfile(profileDir)
    if (f) {
      const s = summarizeProfile(f)
      details.bunim_profile = s
      for (const l of profileLines(s)) opts.log(l)
    }
  }

  const g = (k: string) => v[k] ?? null
  const rows: Row[] = [
    { metric: 'deliveries/s, no_persist (saturation)', value: g('bunim'), unit: '/s', baseline: { name: 'bare Bun pub/sub', value: g('bare') }, ratio: ratio(g('bunim'), g('bare')), target: '≥ 0.8× bare Bun', pass: gate(ratio(g('bunim'), g('bare')), 0.8) },
    { metric: 'deliveries/s vs socket.io (saturation)', value: g('bunim'), unit: '/s', baseline: { name: 'socket.io rooms', value: g('sio') }, ratio: ratio(g('bunim'), g('sio')), target: '≥ 3× socket.io', pass: gate(ratio(g('bunim'), g('sio')), 3) },
    { metric: 'server CPU per delivery, no_persist', value: g('bunimCpu'), unit: 'µs', baseline: { name: 'bare Bun pub/sub', value: g('bareCpu') }, ratio: ratio(g('bunimCpu'), g('bareCpu')), higherIsBetter: false, note: g('sioCpu') == null ? undefined : `socket.io: ${g('sioCpu')} µs` },
    {
      metric: `send→receive p99 at ${PERSISTED_RATE} persisted msg/s`,
      value: g('p99'),
      unit: 'ms',
      baseline: { name: 'bare Bun, same rate, not stored', value: g('bareP99') },
      ratio: ratio(g('p99'), g('bareP99')),
      higherIsBetter: false,
      target: '≤ 25 ms',
      pass: g('p99') == null ? null : g('p99')! <= 25 && (g('persistedSendRate') ?? 0) >= PERSISTED_RATE * 0.95,
      note: g('p50') == null ? undefined : `p50 ${g('p50')} ms; achieved ${g('persistedSendRate')} sends/s`,
    },
  ]
  return { rows, details, notAvailable }
}
