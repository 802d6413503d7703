/**
 * Idle WebSocket clients for the connections scenario: a hand-written HTTP upgrade over
 * Bun.connect (far cheaper per socket than a WebSocket object), spread over several destination
 * addresses 127.0.0.x so each gets its own ephemeral-port range (the server listens on 0.0.0.0).
 * For BunIM each client first gets its own token from /inner/get_token.
 * Prints "OPENED {…}" when done, then holds the sockets until stdin says "CLOSE" → "RESULT {…}".
 */
import type { Socket } from 'bun'
import { runAsLoadProcess } from '../lib/load'
import { RawHttpConnection } from '../lib/raw-http'

interface Config {
  port: number
  hosts: string[]
  count: number
  /** session names are `${prefix}${i}` */
  prefix: string
  /** 'bunim': tokens from /inner/get_token; otherwise this fixed token */
  token: 'bunim' | string
  path: string
  concurrency: number
}

const cfg = JSON.parse(process.env.BENCH_CONFIG!) as Config
const out = (l: string) => process.stdout.write(l + '\n')

async function tokens(): Promise<string[]> {
  if (cfg.token !== 'bunim') return new Array(cfg.count).fill(cfg.token)
  const conns = await Promise.all(Array.from({ length: 16 }, () => RawHttpConnection.open('127.0.0.1', cfg.port)))
  const result: string[] = new Array(cfg.count)
  let next = 0
  await Promise.all(
    conns.map(async (c) => {
      while (next < cfg.count) {
        const i = next++
        const r = await c.request('POST', '/inner/get_token', JSON.stringify({ session: `${cfg.prefix}${i}`, platform: 1 }))
        const j = JSON.parse(r.body || '{}')
        if (j.code !== 0 || typeof j.data !== 'string') throw new Error(`/inner/get_token: HTTP ${r.status} ${r.body.slice(0, 200)}`)
        result[i] = j.data
      }
      c.close()
    }),
  )
  return result
}

async function main() {
  const toks = await tokens()
  let opened = 0
  let failed = 0
  let closedEarly = 0
  let holding = true
  let sampleError: string | undefined
  const sockets: Socket<{ upgraded: boolean; done?: (ok: boolean) => void }>[] = []
  const openOne = (i: number) =>
    new Promise<void>((resolve) => {
      const host = cfg.hosts[i % cfg.hosts.length]!
      const req = `GET ${cfg.path}${encodeURIComponent(toks[i]!)} HTTP/1.1\r\nHost: ${host}:${cfg.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`
      const data = {
        upgraded: false,
        done: (ok: boolean) => {
          data.done = undefined
          if (ok) opened++
          else failed++
          resolve()
        },
      } as { upgraded: boolean; done?: (ok: boolean) => void }
      Bun.connect({
        hostname: host,
        port: cfg.port,
        data,
        socket: {
          open(s) {
            s.write(req)
          },
          data(s, chunk) {
            if (s.data.upgraded) return
            const head = chunk.toString('latin1', 0, 12)
            if (head.startsWith('HTTP/1.1 101')) {
              s.data.upgraded = true
              sockets.push(s)
              s.data.done?.(true)
            } else {
              sampleError ??= chunk.toString('utf8', 0, Math.min(chunk.length, 300))
              s.data.done?.(false)
              s.end()
            }
          },
          close(s) {
            if (s.data.upgraded && holding) closedEarly++
            s.data.done?.(false)
          },
          error(s, e) {
            sampleError ??= String(e)
            s.data.done?.(false)
          },
          connectError(s, e) {
            sampleError ??= String(e)
            s.data.done?.(false)
          },
        },
      }).catch((e) => {
        sampleError ??= String(e)
        data.done?.(false)
      })
    })
  let next = 0
  await Promise.all(
    Array.from({ length: cfg.concurrency }, async () => {
      while (next < cfg.count) await openOne(next++)
    }),
  )
  out('OPENED ' + JSON.stringify({ opened, failed, ...(sampleError ? { sampleError } : {}) }))
  for await (const line of console) {
    if (line !== 'CLOSE') continue
    const stillOpen = opened - closedEarly
    holding = false
    for (const s of sockets) s.end()
    return { opened, failed, closedEarly, stillOpen }
  }
  return { opened, failed, closedEarly, stillOpen: opened - closedEarly }
}

runAsLoadProcess(main)
