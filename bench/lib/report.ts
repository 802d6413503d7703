/**
 * Results: one JSON per scenario in bench/results/, a console table, and bench/results/index.html
 * with inline-SVG bar charts (no CDN, opens offline).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import { ROOT } from './proc'

export const RESULTS_DIR = join(ROOT, 'bench/results')

export interface Row {
  /** what is measured, e.g. "persisted sends/s (Postgres)" */
  metric: string
  value: number | null
  unit: string
  /** the baseline measured in the same run */
  baseline?: { name: string; value: number | null }
  /** value / baseline (or baseline / value for lower-is-better units, see higherIsBetter) */
  ratio?: number | null
  higherIsBetter?: boolean
  target?: string
  pass?: boolean | null
  note?: string
}

export interface ScenarioResult {
  scenario: string
  startedAt: string
  finishedAt: string
  quick: boolean
  machine: { cpus: number; cpuModel: string; memGiB: number; bun: string }
  rows: Row[]
  /** raw measurements: every load run, CPU shares, errors */
  details: Record<string, unknown>
  notAvailable: string[]
}

export function machine(): ScenarioResult['machine'] {
  const c = cpus()
  return { cpus: c.length, cpuModel: c[0]?.model ?? '?', memGiB: Math.round(totalmem() / 2 ** 30), bun: Bun.version }
}

export function ratio(value: number | null | undefined, base: number | null | undefined): number | null {
  if (value == null || base == null || base === 0) return null
  return Math.round((value / base) * 100) / 100
}

export interface Paired {
  value: number | null
  base: number | null
  ratio: number | null
  /** per round, in round order */
  ratios: number[]
}

/**
 * A ratio from runs of the same round (minutes apart at most), the median over rounds, with the
 * rates of the median round: on a machine whose speed drifts, the best run of each case could
 * come from different moments. `values[i]` and `bases[i]` are round i's rates (undefined: failed).
 */
export function pairedRound(values: (number | undefined)[], bases: (number | undefined)[]): Paired {
  const pairs: { value: number; base: number; ratio: number }[] = []
  for (let i = 0; i < Math.max(values.length, bases.length); i++) {
    const x = values[i]
    const y = bases[i]
    if (x != null && y) pairs.push({ value: x, base: y, ratio: ratio(x, y)! })
  }
  if (!pairs.length) return { value: null, base: null, ratio: null, ratios: [] }
  const sorted = [...pairs].sort((u, v) => u.ratio - v.ratio)
  const mid = sorted[Math.floor((sorted.length - 1) / 2)]!
  return { ...mid, ratios: pairs.map((x) => x.ratio) }
}

/** The table note of a paired ratio: its rounds. */
export const pairedNote = (x: Paired) => (x.ratios.length > 1 ? `median of ${x.ratios.length} rounds (${x.ratios.join(', ')}×); rates of that round` : undefined)

const fmt = (x: number | null | undefined, unit = '') => {
  if (x == null) return 'n/a'
  const s = Math.abs(x) >= 100 ? Math.round(x).toLocaleString('en-US') : String(Math.round(x * 100) / 100)
  return unit ? `${s} ${unit}` : s
}

export function tableLines(r: ScenarioResult): string[] {
  const head = ['metric', 'BunIM', 'baseline', 'ratio', 'target', 'result']
  const rows = r.rows.map((x) => [
    x.metric,
    fmt(x.value, x.unit),
    x.baseline ? `${fmt(x.baseline.value, x.unit)} (${x.baseline.name})` : '',
    x.ratio == null ? '' : `${x.ratio}×`,
    x.target ?? '',
    x.pass == null ? (x.target ? 'n/a' : '') : x.pass ? 'PASS' : 'FAIL',
  ])
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)))
  const line = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(w[i]!)).join(' | ') + ' |'
  const out = [line(head), '|' + w.map((n) => '-'.repeat(n + 2)).join('|') + '|', ...rows.map(line)]
  for (const n of r.notAvailable) out.push(n.startsWith('(') ? `  ${n}` : `  not available yet: ${n}`)
  return out
}

export function writeResult(r: ScenarioResult) {
  mkdirSync(RESULTS_DIR, { recursive: true })
  writeFileSync(join(RESULTS_DIR, `${r.scenario}.json`), JSON.stringify(r, null, 2) + '\n')
  writeHtml()
}

function esc(s: string) {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!)
}

/** One horizontal bar pair per row that has a baseline: BunIM vs baseline. */
function chart(r: ScenarioResult): string {
  const rows = r.rows.filter((x) => x.value != null || x.baseline?.value != null)
  if (!rows.length) return ''
  const barH = 16
  const gap = 34
  const left = 330
  const width = 900
  const h = rows.length * (2 * barH + gap) + 10
  let y = 10
  const parts: string[] = []
  for (const x of rows) {
    const max = Math.max(x.value ?? 0, x.baseline?.value ?? 0) || 1
    const scale = (v: number | null | undefined) => ((v ?? 0) / max) * (width - left - 150)
    parts.push(`<text x="0" y="${y + barH}" font-size="13">${esc(x.metric)}</text>`)
    parts.push(`<rect x="${left}" y="${y}" width="${scale(x.value)}" height="${barH}" fill="#2b7bb9"/>`)
    parts.push(`<text x="${left + scale(x.value) + 6}" y="${y + barH - 3}" font-size="12">BunIM ${esc(fmt(x.value, x.unit))}</text>`)
    if (x.baseline) {
      const y2 = y + barH + 2
      parts.push(`<rect x="${left}" y="${y2}" width="${scale(x.baseline.value)}" height="${barH}" fill="#aaa"/>`)
      parts.push(`<text x="${left + scale(x.baseline.value) + 6}" y="${y2 + barH - 3}" font-size="12">${esc(x.baseline.name)} ${esc(fmt(x.baseline.value, x.unit))}</text>`)
    }
    y += 2 * barH + gap
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${h}" font-family="sans-serif">${parts.join('')}</svg>`
}

const ORDER = ['send', 'fanout', 'connections', 'sync']

/** Every result on disk, in the scenarios' order. */
function readResults(): ScenarioResult[] {
  const out: ScenarioResult[] = []
  for (const f of readdirSync(RESULTS_DIR)) {
    if (!f.endsWith('.json')) continue
    try {
      out.push(JSON.parse(readFileSync(join(RESULTS_DIR, f), 'utf8')))
    } catch {}
  }
  const rank = (s: string) => (ORDER.indexOf(s) + 1 || 99)
  return out.sort((a, b) => rank(a.scenario) - rank(b.scenario))
}

export function writeHtml() {
  if (!existsSync(RESULTS_DIR)) return
  const results = readResults()
  const sections = results.map((r) => {
    const trs = r.rows
      .map(
        (x) =>
          `<tr><td>${esc(x.metric)}</td><td>${esc(fmt(x.value, x.unit))}</td><td>${x.baseline ? esc(`${fmt(x.baseline.value, x.unit)} (${x.baseline.name})`) : ''}</td><td>${x.ratio == null ? '' : x.ratio + '×'}</td><td>${esc(x.target ?? '')}</td><td class="${x.pass ? 'pass' : x.pass === false ? 'fail' : ''}">${x.pass == null ? '' : x.pass ? 'PASS' : 'FAIL'}</td><td>${esc(x.note ?? '')}</td></tr>`,
      )
      .join('')
    const na = r.notAvailable.map((n) => `<li>${n.startsWith('(') ? '' : 'not available yet: '}${esc(n)}</li>`).join('')
    return `<section><h2>${esc(r.scenario)}${r.quick ? ' (quick)' : ''}</h2><p class="meta">${esc(r.startedAt)} · ${r.machine.cpus} CPUs (${esc(r.machine.cpuModel)}) · Bun ${esc(r.machine.bun)}</p>
<table><tr><th>metric</th><th>BunIM</th><th>baseline (same run)</th><th>ratio</th><th>target</th><th>result</th><th>note</th></tr>${trs}</table>${na ? `<ul>${na}</ul>` : ''}${chart(r)}
<details><summary>raw measurements</summary><pre>${esc(JSON.stringify(r.details, null, 2))}</pre></details></section>`
  })
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>BunIM benchmarks</title>
<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px;text-align:left}.pass{color:#080;font-weight:bold}.fail{color:#b00;font-weight:bold}.meta{color:#666;font-size:12px}pre{font-size:11px;max-height:400px;overflow:auto;background:#f6f6f6}</style></head>
<body><h1>BunIM benchmarks</h1><p>Server pinned to CPU 0, load generator to CPU 1; every baseline measured in the same run. See docs/performance.md for the method.</p>${sections.join('\n')}</body></html>\n`
  writeFileSync(join(RESULTS_DIR, 'index.html'), html)
}

const DOC = join(ROOT, 'docs/performance.md')
const START = '<!-- bench:table:start -->'
const END = '<!-- bench:table:end -->'

/** Rewrites the generated table section of docs/performance.md from the non-quick results on disk. */
export function updateDoc(): boolean {
  if (!existsSync(DOC)) return false
  const doc = readFileSync(DOC, 'utf8')
  const a = doc.indexOf(START)
  const b = doc.indexOf(END)
  if (a < 0 || b < a) return false
  const parts: string[] = []
  for (const r of readResults()) {
    if (r.quick) continue
    const other = (r.details as { maxOtherCpuPct?: number }).maxOtherCpuPct
    parts.push(`**${r.scenario}** — ${r.startedAt.slice(0, 16).replace('T', ' ')} UTC, ${r.machine.cpus} × ${r.machine.cpuModel}, Bun ${r.machine.bun}${other ? `; other processes used up to ${other}% of a core meanwhile` : ''}`, '', '```', ...tableLines(r), '```', '')
  }
  const body = parts.length ? parts.join('\n') : '(no full run yet)'
  writeFileSync(DOC, doc.slice(0, a + START.length) + '\n' + body + '\n' + doc.slice(b))
  return true
}
