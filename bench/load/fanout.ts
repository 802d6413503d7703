/**
 * Fan-out load generator, two processes (both on the load core): `receivers` holds the 1,000
 * sockets, `senders` posts to /message/send. Kept apart because a socket.io client and the HTTP
 * senders stall each other inside one event loop. The parent coordinates them over stdin/stdout:
 *
 *   receivers: connect all → "READY"; every receiver saw a message → "SUBSCRIBED";
 *              stdin "EXPECT n" → waits for n counted deliveries (≤ 3 s) → "RESULT {…}"
 *   senders:   probe round per channel every 500 ms until stdin "GO"; then warm-up and the
 *              measured window ("PHASE measure" / "PHASE done") → "RESULT {…}"
 *
 * Content = "<send time ms>|<1 if sent inside the measured window>|padding". Send time is
 * performance.timeOrigin + now(): wall clock with sub-ms precision, the same clock in both
 * processes.
 */
import { io, type Socket as IoSocket } from 'socket.io-client'
import { phase } from '../lib/load'
import { RawHttpConnection } from '../lib/raw-http'
import { nowMs, Reservoir, summarize } from '../lib/stats'

export interface FanoutConfig {
  client: 'ws' | 'socketio'
  host: string
  port: number
  /** url path + query of a ws receiver; the token is appended */
  wsPath: string
  receivers: { token: string }[]
  channels: { id: string; members: string[] }[]
  noPersist: boolean
  /** messages per second over all channels; null = closed loop */
  rate: number | null
  senders: number
  warmupMs: number
  durationMs: number
  contentBytes: number
}

const MARK = '"Content":"'
const out = (line: string) => process.stdout.write(line + '\n')

async function receivers(cfg: FanoutConfig) {
  let delivered = 0
  let seen = 0
  let closes = 0
  let ending = false
  let subscribedSent = false
  const lat = new Reservoir()
  const gotAny = new Uint8Array(cfg.receivers.length)
  const onContent = (i: number, content: string) => {
    if (!gotAny[i]) {
      gotAny[i] = 1
      if (++seen === cfg.receivers.length && !subscribedSent) {
        subscribedSent = true
        out('SUBSCRIBED')
      }
    }
    const bar = content.indexOf('|')
    if (bar > 0 && content.charCodeAt(bar + 1) === 49 /* '1' */) {
      delivered++
      lat.add(nowMs() - parseFloat(content))
    }
  }
  const sockets: (WebSocket | IoSocket)[] = []
  const openOne = (i: number) =>
    new Promise<void>((resolve, reject) => {
      const token = cfg.receivers[i]!.token
      if (cfg.client === 'ws') {
        const ws = new WebSocket(`ws://${cfg.host}:${cfg.port}${cfg.wsPath}${encodeURIComponent(token)}`)
        sockets.push(ws)
        ws.onmessage = (ev) => {
          const d = typeof ev.data === 'string' ? ev.data : ''
          const at = d.indexOf(MARK)
          if (at >= 0) onContent(i, d.slice(at + MARK.length, at + MARK.length + 28))
        }
        ws.onopen = () => resolve()
        ws.onerror = () => reject(new Error(`receiver ${i}: websocket error`))
        ws.onclose = (ev) => {
          if (!ending) closes++
          reject(new Error(`receiver ${i}: closed ${ev.code} ${ev.reason}`))
        }
      } else {
        const s = io(`http://${cfg.host}:${cfg.port}`, { transports: ['websocket'], query: { token }, forceNew: true, reconnection: false })
        sockets.push(s)
        s.on('message', (m: { Content: string }) => onContent(i, m.Content))
        s.on('connect', () => resolve())
        s.on('connect_error', (e) => reject(e))
        s.on('disconnect', () => {
          if (!ending) closes++
        })
      }
    })
  for (let i = 0; i < cfg.receivers.length; i += 100)
    await Promise.all(Array.from({ length: Math.min(100, cfg.receivers.length - i) }, (_, k) => openOne(i + k)))
  out('READY')
  for await (const line of console) {
    if (!line.startsWith('EXPECT ')) continue
    const expected = Number(line.slice(7))
    const until = Date.now() + 3000
    while (delivered < expected && Date.now() < until) await Bun.sleep(10)
    ending = true
    for (const s of sockets) s.close()
    return { receivers: cfg.receivers.length, subscribed: seen, deliveries: delivered, latencyMs: summarize(lat.samples), closes }
  }
  throw new Error('stdin closed before EXPECT')
}

async function senders(cfg: FanoutConfig) {
  const conns = await Promise.all(Array.from({ length: cfg.senders }, () => RawHttpConnection.open(cfg.host, cfg.port)))
  const header = `{"no_persist":${cfg.noPersist ? 1 : 0},"red_dot":1,"sync_once":0}`
  const pad = 'x'.repeat(cfg.contentBytes)
  let next = 0
  let windowStart = Infinity
  let windowEnd = Infinity
  let acked = 0
  let ackedInWindow = 0
  let sendErrors = 0
  let sampleError: string | undefined
  const ackLat = new Reservoir()
  let inflight = 0
  const send = async (conn: RawHttpConnection, probe = false) => {
    inflight++
    const ch = cfg.channels[next++ % cfg.channels.length]!
    const t = nowMs()
    const inWindow = t >= windowStart && t < windowEnd
    const text = probe ? 'probe' : `${t.toFixed(3)}|${inWindow ? 1 : 0}|${pad}`.slice(0, cfg.contentBytes)
    const body = `{"header":${header},"from_uid":"${ch.members[0]}","channel_id":"${ch.id}","channel_type":2,"payload":"${Buffer.from(text).toString('base64')}"}`
    try {
      const r = await conn.request('POST', '/message/send', body)
      if (r.status === 200) {
        acked++
        if (inWindow) {
          ackedInWindow++
          ackLat.add(nowMs() - t)
        }
      } else {
        sendErrors++
        sampleError ??= `HTTP ${r.status}: ${r.body.slice(0, 200)}`
      }
    } catch (e) {
      sendErrors++
      sampleError ??= String(e)
    }
    inflight--
  }

  // Probe rounds until the parent says every receiver is subscribed.
  let go = false
  ;(async () => {
    for await (const line of console) if (line === 'GO') return void (go = true)
  })()
  const probeUntil = Date.now() + 20_000
  while (!go && Date.now() < probeUntil) {
    for (let k = 0; k < cfg.channels.length && !go; k += conns.length)
      await Promise.all(conns.slice(0, Math.min(conns.length, cfg.channels.length - k)).map((c) => send(c, true)))
    const until = Date.now() + 500
    while (!go && Date.now() < until) await Bun.sleep(10)
  }
  if (!go) throw new Error('receivers never all subscribed')
  next = 0
  acked = 0

  const t0 = nowMs()
  windowStart = t0 + cfg.warmupMs
  windowEnd = windowStart + cfg.durationMs
  setTimeout(() => phase('measure'), cfg.warmupMs)
  let stop = false
  let maxBacklog = 0
  const loops: Promise<void>[] = []
  if (cfg.rate === null) {
    for (const c of conns)
      loops.push(
        (async () => {
          while (!stop) await send(c)
        })(),
      )
  } else {
    const idle = [...conns]
    let issued = 0
    let backlog = 0
    const pump = () => {
      while (backlog > 0 && idle.length && !stop) {
        const c = idle.pop()!
        backlog--
        send(c).then(() => {
          idle.push(c)
          pump()
        })
      }
    }
    const rate = cfg.rate
    const ticker = setInterval(() => {
      const due = Math.floor(((nowMs() - t0) / 1000) * rate) - issued
      if (due > 0) {
        issued += due
        backlog += due
        if (backlog > maxBacklog) maxBacklog = backlog
      }
      pump()
    }, 1)
    loops.push(
      (async () => {
        while (!stop) await Bun.sleep(10)
        clearInterval(ticker)
      })(),
    )
  }
  await Bun.sleep(windowEnd - nowMs())
  phase('done')
  stop = true
  await Promise.race([Promise.all(loops), Bun.sleep(5000)])
  const until = Date.now() + 5000
  while (inflight > 0 && Date.now() < until) await Bun.sleep(5)
  for (const c of conns) c.close()
  return {
    sentInWindow: ackedInWindow,
    sendRate: Math.round(ackedInWindow / (cfg.durationMs / 1000)),
    ackLatencyMs: summarize(ackLat.samples),
    sendErrors,
    maxBacklog,
    ...(sampleError ? { sampleError } : {}),
  }
}

const cfg = JSON.parse(process.env.BENCH_CONFIG!) as FanoutConfig
const role = process.argv[2]
;(role === 'receivers' ? receivers(cfg) : senders(cfg)).then(
  (r) => {
    out('RESULT ' + JSON.stringify(r))
    process.exit(0)
  },
  (e) => {
    out('RESULT ' + JSON.stringify({ error: String(e) }))
    process.exit(1)
  },
)
