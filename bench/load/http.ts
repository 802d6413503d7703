/**
 * HTTP load generator (a separate process, pinned to its own core by the bench):
 * `connections` keep-alive connections, each a closed loop of one request at a time, for a warm-up
 * and then a measured window (or until `maxRequests`). Config comes as JSON in BENCH_CONFIG; the
 * result is one `RESULT {json}` line on stdout.
 */
import { RawHttpConnection } from '../lib/raw-http'
import { phase, runAsLoadProcess } from '../lib/load'
import { nowMs, Reservoir, summarize } from '../lib/stats'

export type RequestSpec =
  | { kind: 'get'; path: string }
  | { kind: 'post'; path: string; body: string }
  /** WuKongIM /message/send to group channels (channel_type 2); members[0] of each is a sender */
  | { kind: 'wk-send'; path: string; channels: { id: string; members: string[] }[]; noPersist: boolean; payloadBytes: number }

export interface HttpLoadConfig {
  host: string
  port: number
  connections: number
  warmupMs: number
  durationMs: number
  /** latency mode: stop after this many measured requests */
  maxRequests?: number
  headers?: Record<string, string>
  request: RequestSpec
}

export interface HttpLoadResult {
  requests: number
  ok: number
  errors: number
  statuses: Record<string, number>
  elapsedMs: number
  /** successful requests per second in the measured window */
  rate: number
  latencyMs: ReturnType<typeof summarize>
  /** wk-send: acknowledged sends with message_seq > 0 */
  persisted?: number
  sampleError?: string
}

function makeRequester(spec: RequestSpec, connIndex: number): () => { method: string; path: string; body?: string } {
  if (spec.kind === 'get') return () => ({ method: 'GET', path: spec.path })
  if (spec.kind === 'post') return () => ({ method: 'POST', path: spec.path, body: spec.body })
  const payload = Buffer.from(crypto.getRandomValues(new Uint8Array(spec.payloadBytes))).toString('base64')
  const header = `{"no_persist":${spec.noPersist ? 1 : 0},"red_dot":1,"sync_once":0}`
  let n = 0
  let ch = connIndex % spec.channels.length
  return () => {
    const c = spec.channels[ch]!
    ch = (ch + 1) % spec.channels.length
    const from = c.members[n % c.members.length]!
    const body = `{"header":${header},"from_uid":"${from}","channel_id":"${c.id}","channel_type":2,"client_msg_no":"b${process.pid}-${connIndex}-${n++}","payload":"${payload}"}`
    return { method: 'POST', path: spec.path, body }
  }
}

export async function runHttpLoad(cfg: HttpLoadConfig): Promise<HttpLoadResult> {
  const headers = Object.entries(cfg.headers ?? {})
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')
  const conns = await Promise.all(Array.from({ length: cfg.connections }, () => RawHttpConnection.open(cfg.host, cfg.port)))
  const lat = new Reservoir()
  const statuses: Record<string, number> = {}
  let ok = 0
  let errors = 0
  let persisted = 0
  let requests = 0
  let sampleError: string | undefined
  let measuring = false
  let stop = false
  const wkSend = cfg.request.kind === 'wk-send'

  const loop = async (conn: RawHttpConnection, i: number) => {
    const next = makeRequester(cfg.request, i)
    while (!stop) {
      const r = next()
      const t0 = nowMs()
      try {
        const res = await conn.request(r.method, r.path, r.body, headers)
        if (!measuring) continue
        requests++
        lat.add(nowMs() - t0)
        statuses[res.status] = (statuses[res.status] ?? 0) + 1
        if (res.status === 200) {
          ok++
          if (wkSend && !res.body.includes('"message_seq":0')) persisted++
        } else {
          errors++
          sampleError ??= `HTTP ${res.status}: ${res.body.slice(0, 300)}`
        }
        if (cfg.maxRequests && requests >= cfg.maxRequests) stop = true
      } catch (e) {
        errors++
        sampleError ??= String(e)
        return
      }
    }
  }

  const loops = conns.map((c, i) => loop(c, i))
  await Bun.sleep(cfg.warmupMs)
  measuring = true
  phase('measure')
  const t0 = nowMs()
  const deadline = setTimeout(() => (stop = true), cfg.durationMs)
  while (!stop) await Bun.sleep(10)
  const elapsedMs = nowMs() - t0
  phase('done')
  clearTimeout(deadline)
  measuring = false
  await Promise.race([Promise.all(loops), Bun.sleep(5000)])
  for (const c of conns) c.close()
  return {
    requests,
    ok,
    errors,
    statuses,
    elapsedMs: Math.round(elapsedMs),
    rate: Math.round((ok / elapsedMs) * 1000),
    latencyMs: summarize(lat.samples),
    ...(wkSend ? { persisted } : {}),
    ...(sampleError ? { sampleError } : {}),
  }
}

if (import.meta.main) runAsLoadProcess(runHttpLoad)
