import type { ScenarioOptions, ScenarioOutput } from '../lib/scenario'
export async function syncScenario(_opts: ScenarioOptions): Promise<ScenarioOutput> {
  return { rows: [], details: {}, notAvailable: ['sync'] }
}
