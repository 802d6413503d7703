/**
 * Quick loopback figure (not a test): WKProto sends/s acknowledged after COMMIT, over TCP, on one
 * connection and on 50 connections. The server runs as a child process (`bun src/main.ts serve`,
 * Postgres when MEASURE_DATABASE_URL is set — a fresh database is created and dropped — else
 * PGlite in a temp dir); clients pipeline SENDs with a bounded window. About 10 s in all.
 *   ./node_modules/.bin/bun test/protocol/measure-send.ts [postgres|pglite]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import postgres from 'postgres'
import { PacketType } from '../../src/protocol/wkproto/packets'
import { eventually } from '../helpers/wait'
import { api, freePort, WkClient } from './helpers/wk-client'

const ROOT = resolve(import.meta.dir, '../..')
const storage = process.argv[2] ?? 'postgres'
const CHANNELS_PER_CONN = Number(process.env.CHANNELS_PER_CONN ?? 1)
const adminUrl = process.env.MEASURE_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

/** user + system CPU time of a process, ms (Linux /proc; clock ticks of 10 ms) */
function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(f[11]) + Number(f[12])) * 10
}

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), 'wk-measure-'))
  let dbName: string | undefined
  const env: Record<string, string> = { ...(process.env as Record<string, string>), IM_DATA_DIR: dataDir, IM_LOG_LEVEL: 'warn' }
  if (storage === 'postgres') {
    dbName = `bunim_wkmeasure_${process.pid}`
    const a = postgres(adminUrl, { max: 1, onnotice: () => {} })
    await a.unsafe(`create database ${dbName}`)
    await a.end()
    const u = new URL(adminUrl)
    u.pathname = '/' + dbName
    env.DATABASE_URL = u.toString()
  }
  const port = freePort()
  const tcpPort = freePort()
  const child = Bun.spawn([process.execPath, 'src/main.ts', 'serve', '--port', String(port), '--host', '127.0.0.1', '--tcp-port', String(tcpPort)], { cwd: ROOT, env, stdout: 'ignore', stderr: 'inherit' })
  const base = `http://127.0.0.1:${port}`
  try {
    await eventually(async () => (await fetch(base + '/health')).ok, 30_000, 100)
    for (const [label, conns, window, ms] of [
      ['1 connection', 1, Number(process.env.W1 ?? 256), 4000],
      ['50 connections', 50, 32, 4000],
    ] as const) {
      const clients: WkClient[] = []
      for (let i = 0; i < conns; i++) {
        const uid = `m${label[0]}u${i}`
        await api(base, '/user/token', { uid, token: 't', device_flag: 1, device_level: 0 })
        // each sender its own group with one other member (nobody else online: measures the send path)
        // CHANNELS_PER_CONN (default 1): each connection rotates over its own groups
        for (let k = 0; k < CHANNELS_PER_CONN; k++) await api(base, '/channel', { channel_id: `mg${label[0]}${i}-${k}`, channel_type: 2, subscribers: [uid, `${uid}peer`] })
        const c = await WkClient.tcp(tcpPort)
        if ((await c.connect({ uid, token: 't' })).reasonCode !== 1) throw new Error('connect failed')
        clients.push(c)
      }
      let acked = 0
      let failed = 0
      let stop = false
      const drained = clients.map(
        (c, i) =>
          new Promise<void>((done) => {
            let inflight = 0
            let n = 0
            const pump = () => {
              while (!stop && inflight < window) {
                inflight++
                c.sendMessage(`mg${label[0]}${i}-${n++ % CHANNELS_PER_CONN}`, 2, 'x'.repeat(100))
              }
              if (stop && inflight === 0) done()
            }
            c.onPacket = (p) => {
              if (p.type !== PacketType.SENDACK) return
              inflight--
              if (p.reasonCode === 1) acked++
              else failed++
              pump()
            }
            pump()
          }),
      )
      // 1 s warm-up, then count acks over the window.
      await Bun.sleep(1000)
      const a0 = acked
      const cpu0 = cpuMs(child.pid)
      const t0 = performance.now()
      await Bun.sleep(ms)
      const rate = ((acked - a0) * 1000) / (performance.now() - t0)
      const cpuPerSendUs = ((cpuMs(child.pid) - cpu0) * 1000) / Math.max(1, acked - a0)
      stop = true
      await Promise.race([Promise.all(drained), Bun.sleep(5000)])
      console.log(`${storage} ${label} (window ${window}/conn, 100-byte text): ${Math.round(rate)} acked sends/s, server CPU ${cpuPerSendUs.toFixed(1)} µs/send; refused ${failed}`)
      for (const c of clients) c.close()
    }
  } finally {
    child.kill()
    await child.exited
    rmSync(dataDir, { recursive: true, force: true })
    if (dbName) {
      const a = postgres(adminUrl, { max: 1, onnotice: () => {} })
      await a.unsafe(`drop database if exists ${dbName} with (force)`)
      await a.end()
    }
  }
}

await main()
