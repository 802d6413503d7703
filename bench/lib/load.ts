/**
 * Runs a load-generator script as a child process on the load core, hands it its config, and
 * measures the CPU of the watched processes during the child's measured window only (the child
 * prints `PHASE measure` / `PHASE done` around it, then `RESULT {json}`).
 */
import { BUN, CpuMeter, LOAD_CPU, spawnChild, stdoutLines } from './proc'

export function phase(name: string) {
  process.stdout.write(`PHASE ${name}\n`)
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
