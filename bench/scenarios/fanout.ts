import type { ScenarioOptions, ScenarioOutput } from '../lib/scenario'
export async function fanoutScenario(_opts: ScenarioOptions): Promise<ScenarioOutput> {
  return { rows: [], details: {}, notAvailable: ['fanout'] }
}
