/**
 * Retry budget per backend (spec §3), after Linkerd's and Envoy's: over a sliding window of
 * 10 s, retries may add at most `ratio` × requests plus `minPerSecond` × 10. Past it a failed
 * attempt fails normally, so a sick backend is not retried into an outage. Ten one-second
 * buckets in a ring; no timers (buckets are rotated by the clock on use).
 */
export const BUDGET_WINDOW_S = 10

export class RetryBudget {
  readonly ratio: number
  readonly minPerSecond: number
  readonly #requests = new Float64Array(BUDGET_WINDOW_S)
  readonly #retries = new Float64Array(BUDGET_WINDOW_S)
  #second = 0
  #totalRequests = 0
  #totalRetries = 0

  constructor (ratio: number, minPerSecond: number) {
    this.ratio = ratio
    this.minPerSecond = minPerSecond
  }

  #advance (nowMs: number): void {
    const s = Math.floor(nowMs / 1000)
    if (s === this.#second) return
    const steps = Math.min(BUDGET_WINDOW_S, s - this.#second)
    for (let i = 1; i <= steps; i++) {
      const slot = (this.#second + i) % BUDGET_WINDOW_S
      this.#totalRequests -= this.#requests[slot]!
      this.#totalRetries -= this.#retries[slot]!
      this.#requests[slot] = 0
      this.#retries[slot] = 0
    }
    this.#second = s
  }

  /** Counts one request (its first attempt) to this backend. */
  request (nowMs: number): void {
    this.#advance(nowMs)
    this.#requests[this.#second % BUDGET_WINDOW_S]!++
    this.#totalRequests++
  }

  /** Takes one retry from the budget; false when it is spent. */
  tryRetry (nowMs: number): boolean {
    this.#advance(nowMs)
    const allowed = this.ratio * this.#totalRequests + this.minPerSecond * BUDGET_WINDOW_S
    if (this.#totalRetries + 1 > allowed) return false
    this.#retries[this.#second % BUDGET_WINDOW_S]!++
    this.#totalRetries++
    return true
  }
}
