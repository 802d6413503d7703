/**
 * Runs a load-generator script as a child process on the load core, hands it its config, and
 * measures the CPU of the watched processes during the child's measured window only (the child
 * prints `PHASE measure` / `PHASE done` around it, then `RESULT {json}`).
 */
import { BUN, type Child, CpuMeter, LOAD_CPU, spawnChild, stdoutLines } from './proc'

export function phase(name: string) {
  process.stdout.write(`PHASE ${name}\n`)
}

/**
 * The load process's side: reads its config from BENCH_CONFIG, runs `main`, prints
 * `RESULT {json}` (or `RESULT {"error":…}`) and exits 0 (1 on error).
 */
export function runAsLoadProcess<C, R>(main: (config: C) => Promise<R>): void {
  const out = (value: unknown, code: number) => {
    process.stdout.write('RESULT ' + JSON.stringify(value) + '\n')
    process.exit(code)
  }
  main(JSON.parse(process.env.BENCH_CONFIG!) as C).then(
    (r) => out(r, 0),
    (e) => out({ error: String(e) }, 1),
  )
}

/**
 * Warm-up, then the measured window, announced to the parent with PHASE lines (it meters CPU
 * between them); `measuring` flips around the window. Returns the window's length in ms.
 */
export async function measuredWindow(cfg: { warmupMs: number; durationMs: number }, measuring: (on: boolean) => void): Promise<number> {
  await Bun.sleep(cfg.warmupMs)
  measuring(true)
  phase('measure')
  const t0 = performance.now()
  await Bun.sleep(cfg.durationMs)
  const elapsed = performance.now() - t0
  measuring(false)
  phase('done')
  return elapsed
}

export interface LoadRun<R> {
  result: R
  /** % of one core during the measured window: server, load, postgres */
  cpu: Record<string, number>
}

export async function runLoad<R>(
  script: string,
  config: unknown,
  opts: { timeoutMs: number; watch?: Record<string, number | undefined>; onLine?: (line: string) => void },
): Promise<LoadRun<R>> {
  const child = spawnChild([BUN, script], { env: { BENCH_CONFIG: JSON.stringify(config) }, cpu: LOAD_CPU })
  const timer = setTimeout(() => child.proc.kill('SIGKILL'), opts.timeoutMs)
  let meter: CpuMeter | null = null
  let cpu: Record<string, number> = {}
  let result: unknown
  try {
    for await (const line of stdoutLines(child)) {
      if (line === 'PHASE measure') meter = new CpuMeter({ ...opts.watch, load: child.pid })
      else if (line === 'PHASE done' && meter) cpu = meter.read()
      else if (line.startsWith('RESULT ')) result = JSON.parse(line.slice(7))
      else opts.onLine?.(line)
    }
  } finally {
    clearTimeout(timer)
    await child.stop(2000)
  }
  if (result === undefined) throw new Error(`load generator ${script} gave no result: ${child.stderr().slice(-1000)}`)
  if (result && typeof result === 'object' && 'error' in result) throw new Error(`load generator ${script}: ${(result as { error: string }).error}`)
  return { result: result as R, cpu }
}

/** Lines of a child's stdout, awaited one at a time with a deadline. */
export class LineReader {
  private lines: string[] = []
  private waiter: (() => void) | null = null
  private ended = false
  constructor(child: Child) {
    ;(async () => {
      for await (const l of stdoutLines(child)) {
        this.lines.push(l)
        this.waiter?.()
      }
      this.ended = true
      this.waiter?.()
    })()
  }
  /** The next line matching `want` (others go to `other`); throws on end or deadline. */
  async until(want: (line: string) => boolean, deadline: number, other?: (line: string) => void): Promise<string> {
    for (;;) {
      while (this.lines.length) {
        const l = this.lines.shift()!
        if (want(l)) return l
        other?.(l)
      }
      if (this.ended) throw new Error('child ended')
      const left = deadline - Date.now()
      if (left <= 0) throw new Error('timed out')
      await new Promise<void>((r) => {
        const t = setTimeout(r, left)
        this.waiter = () => {
          clearTimeout(t)
          r()
        }
      })
      this.waiter = null
    }
  }
}

function resultOf(line: string, who: string, child: Child): any {
  const r = JSON.parse(line.slice(7))
  if (r && typeof r === 'object' && 'error' in r) throw new Error(`${who}: ${r.error} ${child.stderr().slice(-500)}`)
  return r
}

/**
 * Runs bench/load/fanout.ts as two processes (receivers, senders) and merges their results; CPU is
 * measured over the senders' measured window.
 */
export async function runFanout<R>(script: string, config: { receivers: unknown[]; channels: unknown[] }, opts: { timeoutMs: number; watch?: Record<string, number | undefined> }): Promise<LoadRun<R>> {
  const deadline = Date.now() + opts.timeoutMs
  const env = { BENCH_CONFIG: JSON.stringify(config) }
  const recv = spawnChild([BUN, script, 'receivers'], { env, cpu: LOAD_CPU, stdin: 'pipe' })
  let send: Child | undefined
  const write = (c: Child, s: string) => {
    const sink = c.proc.stdin as import('bun').FileSink
    sink.write(s + '\n')
    sink.flush()
  }
  try {
    const rl = new LineReader(recv)
    const isResult = (l: string) => l.startsWith('RESULT ')
    let l = await rl.until((x) => x === 'READY' || isResult(x), deadline)
    if (isResult(l)) resultOf(l, 'receivers', recv)
    send = spawnChild([BUN, script, 'senders'], { env, cpu: LOAD_CPU, stdin: 'pipe' })
    const sl = new LineReader(send)
    l = await rl.until((x) => x === 'SUBSCRIBED' || isResult(x), Math.min(deadline, Date.now() + 25_000)).catch((e) => {
      throw new Error(`receivers not all subscribed: ${e.message}`)
    })
    if (isResult(l)) resultOf(l, 'receivers', recv)
    write(send, 'GO')
    let meter: CpuMeter | null = null
    let cpu: Record<string, number> = {}
    l = await sl.until(isResult, deadline, (x) => {
      if (x === 'PHASE measure') meter = new CpuMeter({ ...opts.watch, senders: send!.pid, receivers: recv.pid })
      else if (x === 'PHASE done' && meter) cpu = meter.read()
    })
    const s = resultOf(l, 'senders', send)
    const members = config.receivers.length / config.channels.length
    const expected = s.sentInWindow * members
    write(recv, `EXPECT ${expected}`)
    const r = resultOf(await rl.until(isResult, deadline), 'receivers', recv)
    const secs = (config as { durationMs?: number }).durationMs! / 1000
    return { result: { ...s, ...r, expected, deliveriesPerSec: Math.round(r.deliveries / secs) } as R, cpu }
  } finally {
    await send?.stop(2000)
    await recv.stop(2000)
  }
}
