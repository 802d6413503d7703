import type { ScenarioOptions, ScenarioOutput } from '../lib/scenario'
export async function connectionsScenario(_opts: ScenarioOptions): Promise<ScenarioOutput> {
  return { rows: [], details: {}, notAvailable: ['connections'] }
}
