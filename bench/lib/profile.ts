/**
 * Summarises a V8 .cpuprofile written by `bun --cpu-prof`: self time per function and per
 * "area" (a package in node_modules, a folder of src/, or the runtime), so a report can say
 * where the server's CPU went.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

interface Node {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount?: number
  children?: number[]
}
interface Profile {
  nodes: Node[]
  samples?: number[]
  timeDeltas?: number[]
  startTime: number
  endTime: number
}

export interface ProfileSummary {
  file: string
  samples: number
  totalMs: number
  /** share of samples not idle */
  busyPct: number
  areas: { area: string; pct: number }[]
  functions: { fn: string; pct: number }[]
  /** inclusive share of BunIM's own functions (src/): where the time goes by code path */
  ownInclusive: { fn: string; pct: number }[]
}

export function area(url: string): string {
  if (!url) return '(runtime/native)'
  const nm = url.lastIndexOf('node_modules/')
  if (nm >= 0) {
    const rest = url.slice(nm + 13).split('/')
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!
  }
  const src = url.indexOf('/src/')
  if (src >= 0) {
    const parts = url.slice(src + 1).split('/')
    return parts.length > 2 ? parts.slice(0, -1).join('/') : parts.join('/')
  }
  if (url.startsWith('node:') || url.startsWith('bun:') || url.includes('[native')) return '(runtime/native)'
  return url.split('/').slice(-2).join('/')
}

export function summarizeProfile(file: string, top = 15): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const hits = new Map<number, number>()
  // Weighted by sample count, not by time delta: Bun records no idle samples, so the first
  // sample after an idle wait would otherwise absorb the whole wait.
  if (p.samples?.length) {
    for (const id of p.samples) hits.set(id, (hits.get(id) ?? 0) + 1)
  } else for (const n of p.nodes) hits.set(n.id, n.hitCount ?? 0)
  let total = 0
  let idle = 0
  const areas = new Map<string, number>()
  const fns = new Map<string, number>()
  for (const [id, h] of hits) {
    const n = byId.get(id)
    if (!n) continue
    total += h
    const name = n.callFrame.functionName
    if (name === '(idle)' || name === '(program)' || name === '(garbage collector)') {
      if (name === '(idle)') {
        idle += h
        continue
      }
    }
    const a = name === '(garbage collector)' ? '(gc)' : area(n.callFrame.url)
    areas.set(a, (areas.get(a) ?? 0) + h)
    const f = `${name || '(anonymous)'} ${n.callFrame.url ? n.callFrame.url.replace(/^.*\/(node_modules|src)\//, '$1/') + ':' + (n.callFrame.lineNumber + 1) : ''}`.trim()
    fns.set(f, (fns.get(f) ?? 0) + h)
  }
  // Inclusive counts of src/ functions: each sample counts once per distinct src frame on its stack.
  const parent = new Map<number, number>()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const label = (n: Node) => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*\/src\//, 'src/')}:${n.callFrame.lineNumber + 1}`
  const own = new Map<string, number>()
  for (const [id, h] of hits) {
    const seen = new Set<string>()
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur)
      if (n && n.callFrame.url.includes('/src/') && !n.callFrame.url.includes('node_modules')) seen.add(label(n))
    }
    for (const l of seen) own.set(l, (own.get(l) ?? 0) + h)
  }
  const busy = total - idle || 1
  const pct = (x: number) => Math.round((x / busy) * 1000) / 10
  const sortTop = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top)
  return {
    file,
    samples: total,
    totalMs: Math.round((p.endTime - p.startTime) / 1000),
    busyPct: Math.round(((total - idle) / (total || 1)) * 1000) / 10,
    areas: sortTop(areas).map(([area, v]) => ({ area, pct: pct(v) })),
    functions: sortTop(fns).map(([fn, v]) => ({ fn, pct: pct(v) })),
    ownInclusive: sortTop(own).map(([fn, v]) => ({ fn, pct: pct(v) })),
  }
}

/** The newest .cpuprofile in a directory. */
export function newestProfile(dir: string): string | null {
  try {
    const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))
    return files.length ? join(dir, files.sort().at(-1)!) : null
  } catch {
    return null
  }
}

export function profileLines(s: ProfileSummary): string[] {
  return [
    `  profile ${s.file} (${s.samples} samples over ${s.totalMs} ms) — self samples by area:`,
    ...s.areas.map((a) => `    ${String(a.pct).padStart(5)}%  ${a.area}`),
    '  top functions (self time):',
    ...s.functions.map((f) => `    ${String(f.pct).padStart(5)}%  ${f.fn}`),
    '  BunIM code paths (inclusive):',
    ...s.ownInclusive.map((f) => `    ${String(f.pct).padStart(5)}%  ${f.fn}`),
  ]
}
