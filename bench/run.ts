#!/usr/bin/env bun
/**
 * `bun run bench [scenario…] [--quick] [--profile]` — runs the benchmark scenarios (default: all),
 * prints a table per scenario, writes bench/results/<scenario>.json and bench/results/index.html.
 * Method and latest figures: docs/performance.md.
 */
import { machine, type ScenarioResult, tableLines, updateDoc, writeResult } from './lib/report'
import { machineBusySeconds } from './lib/proc'
import { errorText, onlyCases, type Scenario } from './lib/scenario'
import { connectionsScenario } from './scenarios/connections'
import { fanoutScenario } from './scenarios/fanout'
import { sendScenario } from './scenarios/send'
import { syncScenario } from './scenarios/sync'

const SCENARIOS: Record<string, Scenario> = {
  send: sendScenario,
  fanout: fanoutScenario,
  connections: connectionsScenario,
  sync: syncScenario,
}

const USAGE = `usage: bun run bench [${Object.keys(SCENARIOS).join('|')}]… [--quick] [--profile]
  --quick    short smoke run (< 1 min per scenario)
  --profile  run the BunIM server under bun --cpu-prof and print where its CPU went`

async function main(argv: string[]): Promise<number> {
  const quick = argv.includes('--quick')
  const profile = argv.includes('--profile')
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE)
    return 0
  }
  const names = argv.filter((a) => !a.startsWith('--'))
  for (const n of names)
    if (!SCENARIOS[n]) {
      console.error(`unknown scenario "${n}"\n${USAGE}`)
      return 2
    }
  const todo = names.length ? names : Object.keys(SCENARIOS)
  const started = Date.now()
  // How busy the machine is before we add anything (the figures are only as quiet as the machine).
  const m0 = machineBusySeconds()
  await Bun.sleep(1000)
  const busyAtStart = Math.round((machineBusySeconds() - m0) * 100)
  console.log(`machine: ${busyAtStart}% of one core busy before the bench started (2 cores = 200%)`)
  let failed = 0
  for (const name of todo) {
    const startedAt = new Date().toISOString()
    console.log(`\n=== ${name}${quick ? ' (quick)' : ''} ===`)
    const log = (m: string) => console.log(m)
    let result: ScenarioResult
    try {
      const out = await SCENARIOS[name]!({ quick, profile, log })
      result = { scenario: name, startedAt, finishedAt: new Date().toISOString(), quick, machine: machine(), ...out }
    } catch (e) {
      failed++
      console.error(`${name} failed: ${errorText(e)}`)
      result = { scenario: name, startedAt, finishedAt: new Date().toISOString(), quick, machine: machine(), rows: [], details: { error: errorText(e) }, notAvailable: [] }
    }
    const noise = maxOther(result.details)
    if (noise > 25) {
      result.notAvailable.push(`(warning) other processes used up to ${noise}% of a core during a measured window: figures are noisy`)
    }
    ;(result.details as Record<string, unknown>).maxOtherCpuPct = noise
    ;(result.details as Record<string, unknown>).machineBusyAtStartPct = busyAtStart
    console.log(tableLines(result).join('\n'))
    writeResult(result)
  }
  // a run of some cases only (BENCH_CASES) would put n/a rows into the published table
  if (onlyCases()) console.log('\nBENCH_CASES set: docs/performance.md left as it is')
  else if (!quick && updateDoc()) console.log('\ndocs/performance.md: table updated')
  console.log(`\nresults: bench/results/*.json, bench/results/index.html (${Math.round((Date.now() - started) / 1000)} s)`)
  return failed ? 1 : 0
}

/** Largest "other" CPU share (processes not part of the bench) seen in any measured window. */
function maxOther(x: unknown): number {
  if (!x || typeof x !== 'object') return 0
  let m = 0
  for (const [k, v] of Object.entries(x)) m = Math.max(m, k === 'other' && typeof v === 'number' ? v : maxOther(v))
  return m
}

main(process.argv.slice(2)).then((code) => process.exit(code))
