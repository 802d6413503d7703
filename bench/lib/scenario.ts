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
export const windows = (quick: boolean) => (quick ? { warmupMs: 500, durationMs: 2000 } : { warmupMs: 2000, durationMs: 8000 })

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}
