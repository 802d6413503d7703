#!/usr/bin/env bun
/**
 * `bun bench/writer.ts [senders …]` — the write path without HTTP: one BunIM core in this process
 * (a fresh database on the local Postgres, or PGlite with `--embedded`), N concurrent senders
 * calling `core.messages.send` in a closed loop on 100 group channels; for each N, persisted sends
 * and, as the baseline in the same run, live (no_persist) sends: rate, CPU per send (user/system; on Postgres also its CPU per send)
 * and minor page faults per send. Default N: 1 4 16 64 256. For A/B runs of the writer; not part
 * of `bun run bench`.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { testConfig } from '../src/config'
import { silentLogger } from '../src/log'
import { startServer } from '../src/server'
import { createDatabase, type FreshDatabase } from './lib/pg'
import { minorFaults, postgresCpuSeconds, watchBenchDatabase } from './lib/proc'

const embedded = process.argv.includes('--embedded')
const counts = process.argv.slice(2).filter((a) => /^\d+$/.test(a)).map(Number)
const senders = counts.length ? counts : [1, 4, 16, 64, 256]
const SECONDS = Number(process.env.WRITER_BENCH_SECONDS ?? 3)

const dataDir = mkdtempSync(join(tmpdir(), 'bunim-writer-bench-'))
let db: FreshDatabase | undefined
if (!embedded) {
  db = await createDatabase('writer')
  watchBenchDatabase(db.name, true)
}
const server = await startServer(testConfig({ host: '127.0.0.1', dataDir, databaseUrl: db?.url }), silentLogger)
const { core } = server.ctx

async function run(n: number, noPersist: boolean, channels: { id: string; from: string }[]) {
  const payload = new Uint8Array(128).fill(65)
  let sent = 0
  let stop = false
  const cpu0 = process.cpuUsage()
  const faults0 = minorFaults(process.pid)
  const pg0 = postgresCpuSeconds()
  const t0 = performance.now()
  const loops = Array.from({ length: n }, async (_, k) => {
    for (let i = k; !stop; i++) {
      const c = channels[i % channels.length]!
      await core.messages.send({ fromUid: c.from, channelId: c.id, channelType: 2, payload, header: { noPersist: noPersist ? 1 : 0 } })
      sent++
    }
  })
  await Bun.sleep(SECONDS * 1000)
  stop = true
  await Promise.all(loops)
  const elapsed = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0)
  const pgUs = (postgresCpuSeconds() - pg0) * 1e6
  const per = (x: number) => (x / sent).toFixed(1)
  return `${String(Math.round(sent / elapsed)).padStart(7)}/s  cpu ${per(cpu.user + cpu.system).padStart(6)} µs/send (user ${per(cpu.user)}, sys ${per(cpu.system)})  minor faults/send ${((minorFaults(process.pid) - faults0) / sent).toFixed(2)}${embedded ? '' : `  postgres ${per(pgUs).padStart(6)} µs/send`}`
}

try {
  const channels = Array.from({ length: 100 }, (_, i) => ({ id: `wb${i}`, from: `wb${i}u0` }))
  for (const c of channels) await core.channels.upsert({ channelId: c.id, channelType: 2, subscribers: [c.from, `${c.id}u1`, `${c.id}u2`, `${c.id}u3`] })
  console.log(`writer bench on ${embedded ? 'PGlite' : 'Postgres'}, ${SECONDS} s per run, closed loop`)
  await run(16, false, channels) // warm-up: JIT, prepared statements, connections
  for (const n of senders) {
    console.log(`${String(n).padStart(4)} senders  persisted ${await run(n, false, channels)}`)
    console.log(`${String(n).padStart(4)} senders  live      ${await run(n, true, channels)}`)
  }
} finally {
  await server.stop()
  await db?.drop()
  rmSync(dataDir, { recursive: true, force: true })
}
