/**
 * Child processes of the bench: servers pinned to CPU 0, load generators pinned to CPU 1, so the
 * two never steal each other's core (the machine has 2). Also /proc readings: CPU ticks, RSS,
 * open-file limits.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'

export const ROOT = resolve(import.meta.dir, '../..')
export const BUN = process.execPath
export const SERVER_CPU = '0'
export const LOAD_CPU = '1'
const HAS_TASKSET = existsSync('/usr/bin/taskset') || existsSync('/bin/taskset')

/** Every child still running; killed if the bench itself is interrupted. */
const live = new Set<{ kill(sig?: number | NodeJS.Signals): void }>()
let hooked = false
function hookExit() {
  if (hooked) return
  hooked = true
  const killAll = () => {
    for (const p of live) {
      try {
        p.kill('SIGKILL')
      } catch {}
    }
  }
  process.on('exit', killAll)
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    process.on(sig, () => {
      killAll()
      process.exit(130)
    })
}

export function pinned(cpu: string | undefined, cmd: string[]): string[] {
  return cpu !== undefined && HAS_TASKSET ? ['taskset', '-c', cpu, ...cmd] : cmd
}

export async function freePort(): Promise<number> {
  const l = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  const port = l.port
  l.stop(true)
  return port
}

export interface Child {
  pid: number
  proc: ReturnType<typeof Bun.spawn>
  /** stderr collected so far (last 64 KiB) */
  stderr(): string
  stop(timeoutMs?: number): Promise<number | null>
}

export function spawnChild(cmd: string[], opts: { env?: Record<string, string | undefined>; cpu?: string; stdin?: 'pipe' | 'ignore' } = {}): Child {
  hookExit()
  const proc = Bun.spawn(pinned(opts.cpu, cmd), {
    cwd: ROOT,
    env: { ...process.env, ...opts.env } as Record<string, string>,
    stdin: opts.stdin ?? 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  })
  live.add(proc)
  let err = ''
  ;(async () => {
    const dec = new TextDecoder()
    for await (const chunk of chunks(proc.stderr as ReadableStream<Uint8Array>)) {
      err += dec.decode(chunk)
      if (err.length > 65536) err = err.slice(-65536)
    }
  })().catch(() => {})
  proc.exited.then(() => live.delete(proc))
  return {
    pid: proc.pid,
    proc,
    stderr: () => err,
    async stop(timeoutMs = 8000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode
      proc.kill('SIGTERM')
      const t = setTimeout(() => proc.kill('SIGKILL'), timeoutMs)
      const code = await proc.exited
      clearTimeout(t)
      return code
    },
  }
}

/** A stream's chunks (the DOM lib types ReadableStream without async iteration). */
async function* chunks(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader()
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return
      yield value
    }
  } finally {
    reader.releaseLock()
  }
}

/** Reads lines of the child's stdout as they come. */
export async function* stdoutLines(child: Child): AsyncGenerator<string> {
  const dec = new TextDecoder()
  let buf = ''
  for await (const chunk of chunks(child.proc.stdout as ReadableStream<Uint8Array>)) {
    buf += dec.decode(chunk, { stream: true })
    let i: number
    while ((i = buf.indexOf('\n')) >= 0) {
      yield buf.slice(0, i)
      buf = buf.slice(i + 1)
    }
  }
  if (buf) yield buf
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

export async function waitHttp(url: string, timeoutMs: number, child?: Child): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last = ''
  while (Date.now() < deadline) {
    if (child && child.proc.exitCode !== null) throw new Error(`server exited (${child.proc.exitCode}): ${child.stderr().slice(-800)}`)
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(1000) })
      if (r.ok) return
      last = `HTTP ${r.status}`
    } catch (e) {
      last = String(e)
    }
    await sleep(100)
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms (${last})${child ? ': ' + child.stderr().slice(-800) : ''}`)
}

const TICKS_PER_S = 100
/** user+system CPU seconds of one process so far. */
export function cpuSeconds(pid: number): number {
  const c = cpuSplit(pid)
  return c.user + c.sys
}

/** the fields of /proc/<pid>/stat after the command name (index 0 = state); [] if the process is gone */
function statFields(pid: number): string[] {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  } catch {
    return []
  }
}

/** user and system CPU seconds of one process so far. */
export function cpuSplit(pid: number): { user: number; sys: number } {
  const fields = statFields(pid)
  return { user: Number(fields[11] ?? 0) / TICKS_PER_S, sys: Number(fields[12] ?? 0) / TICKS_PER_S }
}

/** minor page faults of one process so far */
export function minorFaults(pid: number): number {
  return Number(statFields(pid)[7] ?? 0)
}

/**
 * The databases the bench is using right now: Postgres CPU counts only their backends plus the
 * server's background processes (WAL writer, checkpointer…), not other people's sessions.
 */
const benchDbs = new Set<string>()
export function watchBenchDatabase(name: string, on: boolean) {
  if (on) benchDbs.add(name)
  else benchDbs.delete(name)
}

/** CPU seconds of the postgres processes that work for the bench (see setBenchDatabase). */
export function postgresCpuSeconds(): number {
  let total = 0
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8')
      if (!stat.includes('(postgres)')) continue
      const title = readFileSync(`/proc/${d}/cmdline`, 'utf8')
      const isSession = title.includes('(') || title.includes('[local]')
      if (isSession && ![...benchDbs].some((db) => title.includes(` ${db} `))) continue
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      total += (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S
    } catch {}
  }
  return total
}

/** Resident set size in KiB (VmRSS). */
export function rssKiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) : 0
  } catch {
    return 0
  }
}

/** Soft "Max open files" of a process (our own by default). */
export function openFileLimit(pid: number | 'self' = 'self'): { soft: number; hard: number } {
  const m = /Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'))
  const n = (s: string | undefined) => (s === 'unlimited' || !s ? 1 << 30 : Number(s))
  return { soft: n(m?.[1]), hard: n(m?.[2]) }
}

/** Busy CPU seconds of the whole machine (all cores), from /proc/stat. */
export function machineBusySeconds(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
  // user nice system idle iowait irq softirq steal
  return (f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + f[7]!) / TICKS_PER_S
}

/** Samples CPU use of a set of processes over a window; "other" = the rest of the machine. */
export class CpuMeter {
  private t0 = performance.now()
  private start: Record<string, number> = {}
  constructor(private readonly pids: Record<string, number | undefined>) {
    for (const [k, pid] of Object.entries(pids)) this.start[k] = pid ? cpuSeconds(pid) : 0
    if (pids.server) this.start.server_sys = cpuSplit(pids.server).sys
    this.start.postgres = postgresCpuSeconds()
    this.start.machine = machineBusySeconds()
  }
  /** CPU use in % of one core, per process, since construction. */
  read(): Record<string, number> {
    const wall = (performance.now() - this.t0) / 1000
    const out: Record<string, number> = {}
    for (const [k, pid] of Object.entries(this.pids)) out[k] = pid ? round1(((cpuSeconds(pid) - this.start[k]!) / wall) * 100) : 0
    out.postgres = round1(((postgresCpuSeconds() - this.start.postgres!) / wall) * 100)
    const machine = ((machineBusySeconds() - this.start.machine!) / wall) * 100
    out.other = Math.max(0, round1(machine - Object.values(out).reduce((a, b) => a + b, 0)))
    // Kernel share of the server's CPU (syscalls: socket writes, fsync waits are not CPU).
    if (this.pids.server) out.server_sys = round1(((cpuSplit(this.pids.server).sys - this.start.server_sys!) / wall) * 100)
    return out
  }
}

export const round1 = (x: number) => Math.round(x * 10) / 10
