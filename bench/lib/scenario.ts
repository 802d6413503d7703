/** What every scenario gets and returns. */
import type { Row, ScenarioResult } from './report'

export interface ScenarioOptions {
  quick: boolean
  /** run the BunIM child under `bun --cpu-prof` and summarise the profile */
  profile: boolean
  log(msg: string): void
}

export interface ScenarioOutput {
  rows: Row[]
  details: Record<string, unknown>
  notAvailable: string[]
}

export type Scenario = (opts: ScenarioOptions) => Promise<ScenarioOutput>

export type { ScenarioResult }

/** warm-up and measured window of one load run */
/** BENCH_CASES=a,b runs only those cases of a scenario (undefined: all) */
export function onlyCases(): Set<string> | undefined {
  return process.env.BENCH_CASES ? new Set(process.env.BENCH_CASES.split(',')) : undefined
}

export const windows = (quick: boolean) => (quick ? { warmupMs: 300, durationMs: 1500 } : { warmupMs: 2000, durationMs: 8000 })

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}

/** The last lines the BunIM child wrote to stderr (its error log), for an error report. */
export function serverLog(t: { child: { stderr(): string } } | undefined): string {
  const tail = t?.child.stderr().trim().split('\n').slice(-3).join('\n    ')
  return tail ? `\n    server log: ${tail.slice(-800)}` : ''
}

/** µs of one core the server spent per operation over a measured window (robust to a busy machine). */
export function cpuPerOpUs(cpuPct: number | undefined, elapsedMs: number, ops: number): number | null {
  if (cpuPct === undefined || !ops) return null
  return Math.round(((cpuPct / 100) * elapsedMs * 1000 * 100) / ops) / 100
}
