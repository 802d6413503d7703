/** Latency statistics over a sample of milliseconds. */
export interface LatencySummary {
  count: number
  p50: number
  p90: number
  p99: number
  max: number
  mean: number
}

export function summarize(samples: ArrayLike<number>): LatencySummary {
  const a = Float64Array.from(samples as ArrayLike<number>).sort()
  const n = a.length
  const at = (q: number) => (n ? a[Math.min(n - 1, Math.floor(q * n))]! : 0)
  let sum = 0
  for (let i = 0; i < n; i++) sum += a[i]!
  const r = (x: number) => Math.round(x * 100) / 100
  return { count: n, p50: r(at(0.5)), p90: r(at(0.9)), p99: r(at(0.99)), max: r(n ? a[n - 1]! : 0), mean: r(n ? sum / n : 0) }
}

/** Keeps at most `cap` samples, uniformly (reservoir sampling). */
export class Reservoir {
  readonly samples: number[] = []
  private seen = 0
  constructor(private readonly cap = 200_000) {}
  add(x: number) {
    this.seen++
    if (this.samples.length < this.cap) this.samples.push(x)
    else {
      const j = Math.floor(Math.random() * this.seen)
      if (j < this.cap) this.samples[j] = x
    }
  }
}

/** Wall clock in ms with sub-ms precision, comparable across processes on one machine. */
export const nowMs = () => performance.timeOrigin + performance.now()
