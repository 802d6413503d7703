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
import { phase, runAsLoadProcess } from '../lib/load'
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

/**
 * The receivers are hand-written WebSocket clients over Bun.connect: an HTTP upgrade, then a frame
 * parser that only finds each frame's `"Content":"` and reads the send time and window flag that
 * start it (Buffer.indexOf, native), so the load core does as little as possible per delivery.
 * The same client speaks the few engine.io/socket.io packets the socket.io baseline needs (open,
 * namespace connect, ping → pong, event), so both baselines and BunIM are received at the same cost.
 */
const MARK_BYTES = Buffer.from(MARK)

/** a masked client frame (zero mask key: payload unchanged), payloads < 126 bytes */
function clientFrame(opcode: number, payload: string): Buffer {
  const p = Buffer.from(payload)
  const f = Buffer.alloc(6 + p.length)
  f[0] = 0x80 | opcode
  f[1] = 0x80 | p.length
  p.copy(f, 6)
  return f
}
const PONG_3 = clientFrame(1, '3')
const SIO_CONNECT = clientFrame(1, '40')

interface RecvState {
  i: number
  upgraded: boolean
  connected: boolean
  rest: Buffer | null
  done?: (err?: Error) => void
}

async function receivers(cfg: FanoutConfig) {
  let delivered = 0
  let seen = 0
  let closes = 0
  let ending = false
  let subscribedSent = false
  const lat = new Reservoir()
  const gotAny = new Uint8Array(cfg.receivers.length)
  const sio = cfg.client === 'socketio'
  const onContent = (i: number, buf: Buffer, at: number) => {
    if (!gotAny[i]) {
      gotAny[i] = 1
      if (++seen === cfg.receivers.length && !subscribedSent) {
        subscribedSent = true
        out('SUBSCRIBED')
      }
    }
    const bar = buf.indexOf(124 /* '|' */, at)
    if (bar > at && bar < at + 24 && buf[bar + 1] === 49 /* '1' */) {
      delivered++
      lat.add(nowMs() - parseFloat(buf.toString('latin1', at, bar)))
    }
  }
  const onFrame = (s: import('bun').Socket<RecvState>, buf: Buffer, start: number, end: number, opcode: number) => {
    const st = s.data
    if (opcode === 9) {
      // ping → pong with the same payload (only empty or short ones come)
      s.write(clientFrame(10, buf.toString('latin1', start, end)))
      return
    }
    if (opcode !== 1 && opcode !== 2) return
    if (sio) {
      const c0 = buf[start]
      if (c0 === 50 /* '2' engine.io ping */ && end - start === 1) return void s.write(PONG_3)
      if (c0 === 48 /* '0' engine.io open */) return void s.write(SIO_CONNECT)
      if (c0 === 52 && buf[start + 1] === 48 /* '40' namespace connected */) {
        st.connected = true
        return st.done?.()
      }
    }
    const at = buf.indexOf(MARK_BYTES, start)
    if (at >= 0 && at < end) onContent(st.i, buf, at + MARK_BYTES.length)
  }
  const onData = (s: import('bun').Socket<RecvState>, chunk: Buffer) => {
    const st = s.data
    let buf = st.rest ? Buffer.concat([st.rest, chunk]) : chunk
    st.rest = null
    let pos = 0
    if (!st.upgraded) {
      const eoh = buf.indexOf('\r\n\r\n')
      if (eoh < 0) return void (st.rest = Buffer.from(buf))
      if (buf.toString('latin1', 0, 12) !== 'HTTP/1.1 101') return st.done?.(new Error(`receiver ${st.i}: ${buf.toString('utf8', 0, Math.min(buf.length, 200))}`))
      st.upgraded = true
      if (!sio) {
        st.connected = true
        st.done?.()
      }
      pos = eoh + 4
    }
    const len = buf.length
    while (pos + 2 <= len) {
      let plen = buf[pos + 1]! & 0x7f
      let hdr = 2
      if (plen === 126) {
        if (pos + 4 > len) break
        plen = buf.readUInt16BE(pos + 2)
        hdr = 4
      } else if (plen === 127) {
        if (pos + 10 > len) break
        plen = buf.readUInt32BE(pos + 2) * 2 ** 32 + buf.readUInt32BE(pos + 6)
        hdr = 10
      }
      if (pos + hdr + plen > len) break
      onFrame(s, buf, pos + hdr, pos + hdr + plen, buf[pos]! & 0x0f)
      pos += hdr + plen
    }
    if (pos < len) st.rest = Buffer.from(buf.subarray(pos))
  }
  const sockets: import('bun').Socket<RecvState>[] = []
  const openOne = (i: number) =>
    new Promise<void>((resolve, reject) => {
      const token = encodeURIComponent(cfg.receivers[i]!.token)
      const path = sio ? `/socket.io/?EIO=4&transport=websocket&token=${token}` : `${cfg.wsPath}${token}`
      const key = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('base64')
      const req = `GET ${path} HTTP/1.1\r\nHost: ${cfg.host}:${cfg.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`
      const data: RecvState = {
        i,
        upgraded: false,
        connected: false,
        rest: null,
        done: (err) => {
          data.done = undefined
          if (err) reject(err)
          else resolve()
        },
      }
      Bun.connect<RecvState>({
        hostname: cfg.host,
        port: cfg.port,
        data,
        socket: {
          open(s) {
            sockets.push(s)
            s.write(req)
          },
          data: onData,
          close(s) {
            if (!ending && s.data.connected) closes++
            s.data.done?.(new Error(`receiver ${i}: closed`))
          },
          error(s, e) {
            s.data.done?.(e)
          },
          connectError(_s, e) {
            data.done?.(e)
          },
        },
      }).catch((e) => data.done?.(e))
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
    for (const s of sockets) s.end()
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

const role = process.argv[2]
runAsLoadProcess((cfg: FanoutConfig): Promise<unknown> => (role === 'receivers' ? receivers(cfg) : senders(cfg)))
