/**
 * Baseline load: raw multi-row INSERTs (100 rows per statement, autocommit) of message-shaped rows
 * straight into the `messages` table of the same database, through postgres.js. The ceiling a
 * persisted send path could reach on this Postgres.
 */
import postgres from 'postgres'
import { measuredWindow, runAsLoadProcess } from '../lib/load'

interface Config {
  databaseUrl: string
  connections: number
  batch: number
  payloadBytes: number
  warmupMs: number
  durationMs: number
}

async function main(cfg: Config) {
  const sql = postgres(cfg.databaseUrl, { max: cfg.connections, onnotice: () => {} })
  const payload = Buffer.from(crypto.getRandomValues(new Uint8Array(cfg.payloadBytes)))
  let measuring = false
  let stop = false
  let rows = 0
  let statements = 0
  let error: string | undefined
  const loop = async (w: number) => {
    // Distinct ids and channels per run: several runs insert into the same table.
    let seq = 0
    let id = 1e12 + (process.pid % 100_000) * 1e7 + w * 2e6
    while (!stop) {
      const now = Date.now()
      const batch = Array.from({ length: cfg.batch }, () => ({
        message_id: id++,
        message_seq: ++seq,
        channel_id: `rawbench-${process.pid}-${w}`,
        channel_type: 2,
        client_msg_no: `raw-${process.pid}-${w}-${seq}`,
        from_uid: `rawuser-${w}`,
        timestamp: Math.floor(now / 1000),
        send_time_us: now * 1000,
        payload,
      }))
      try {
        await sql`insert into messages ${sql(batch)}`
      } catch (e) {
        error = String(e)
        stop = true
        return
      }
      if (measuring) {
        rows += cfg.batch
        statements++
      }
    }
  }
  const loops = Array.from({ length: cfg.connections }, (_, w) => loop(w))
  const elapsed = await measuredWindow(cfg, (on) => (measuring = on))
  stop = true
  await Promise.all(loops)
  await sql.end({ timeout: 2 })
  if (error && !rows) return { error }
  return { rows, statements, elapsedMs: Math.round(elapsed), rate: Math.round((rows / elapsed) * 1000), ...(error ? { sampleError: error } : {}) }
}

runAsLoadProcess(main)
