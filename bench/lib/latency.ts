/** Per-response latencies of one load run, and the percentiles every load generator reports. */
export interface LatencySummary { mean: number, p50: number, p90: number, p99: number, p999: number, max: number }

export class Latencies {
  #ms: Float64Array
  #n = 0

  constructor (initial = 1 << 16) { this.#ms = new Float64Array(initial) }

  add (ms: number): void {
    if (this.#n === this.#ms.length) {
      const bigger = new Float64Array(this.#ms.length * 2)
      bigger.set(this.#ms)
      this.#ms = bigger
    }
    this.#ms[this.#n++] = ms
  }

  /** Nearest-rank percentiles (0 for a run with no responses). */
  summary (): LatencySummary {
    const n = this.#n
    const sorted = this.#ms.subarray(0, n).sort()
    const pct = (p: number): number => n === 0 ? 0 : sorted[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))]!
    let sum = 0
    for (let i = 0; i < n; i++) sum += sorted[i]!
    return { mean: n === 0 ? 0 : sum / n, p50: pct(50), p90: pct(90), p99: pct(99), p999: pct(99.9), max: n === 0 ? 0 : sorted[n - 1]! }
  }
}
