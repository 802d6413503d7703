/**
 * WKProto send load: one WebSocket (/ws) per sender, CONNECT with X25519 key exchange, then
 * encrypted SENDs to the sender's group with `window` SENDs in flight per connection; a send
 * counts when its SENDACK (after COMMIT) says success. Uses the project's WKProto test client
 * (real codec, real crypto).
 */
import { PacketType } from '../../src/protocol/wkproto/packets'
import { WkClient } from '../../test/protocol/helpers/wk-client'
import { measuredWindow, runAsLoadProcess } from '../lib/load'
import { nowMs, Reservoir, summarize } from '../lib/stats'

interface Config {
  url: string
  senders: { uid: string; token: string; channelId: string }[]
  window: number
  contentBytes: number
  warmupMs: number
  durationMs: number
}

async function main(cfg: Config) {
  const clients = await Promise.all(
    cfg.senders.map(async (s) => {
      const c = await WkClient.ws(cfg.url)
      const ack = await c.connect({ uid: s.uid, token: s.token, deviceFlag: 1 })
      if (ack.reasonCode !== 1) throw new Error(`CONNECT ${s.uid}: reason ${ack.reasonCode}`)
      return c
    }),
  )
  const text = 'x'.repeat(cfg.contentBytes - 20)
  let measuring = false
  let stop = false
  let acked = 0
  let failed = 0
  let firstFailure: number | undefined
  const lat = new Reservoir()
  const done = clients.map(
    (c, i) =>
      new Promise<void>((resolve) => {
        const sentAt = new Map<number, number>()
        const channelId = cfg.senders[i]!.channelId
        const pump = () => {
          while (!stop && sentAt.size < cfg.window) sentAt.set(c.sendMessage(channelId, 2, text), nowMs())
          if (stop && sentAt.size === 0) resolve()
        }
        c.onPacket = (p) => {
          if (p.type !== PacketType.SENDACK) return
          const t = sentAt.get(p.clientSeq)
          sentAt.delete(p.clientSeq)
          if (measuring && t !== undefined) {
            if (p.reasonCode === 1) {
              acked++
              lat.add(nowMs() - t)
            } else {
              failed++
              firstFailure ??= p.reasonCode
            }
          }
          pump()
        }
        pump()
      }),
  )
  const elapsed = await measuredWindow(cfg, (on) => (measuring = on))
  stop = true
  await Promise.race([Promise.all(done), Bun.sleep(5000)])
  for (const c of clients) c.close()
  return { ok: acked, failed, elapsedMs: Math.round(elapsed), rate: Math.round((acked / elapsed) * 1000), latencyMs: summarize(lat.samples), ...(firstFailure !== undefined ? { sampleError: `SENDACK reason ${firstFailure}` } : {}) }
}

runAsLoadProcess(main)
