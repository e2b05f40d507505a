/**
 * Circuit breaker per backend (spec §3), on opossum. Opossum keeps the rolling error-rate
 * window and the open → half-open → closed state machine; figway adds:
 * - shared bucket timers: breakers with the same window rotate their buckets from one
 *   interval (opossum's `rotateBucketController`), so many backends do not mean many timers,
 *   and snapshots are off;
 * - no opossum timeout and no abort controller: figway's own deadlines end attempts, and one
 *   slow call must never cancel another;
 * - a run of consecutive failures opens the breaker before `minRequests` is reached, so a
 *   hard outage on a quiet backend is caught quickly (Envoy's consecutive_5xx idea);
 * - a synchronous admission check, so an open breaker fails fast without any promise or
 *   socket work;
 * - successes of a closed breaker are recorded without a call through opossum: the window's
 *   counts are kept by opossum's status listening to the breaker's `fire` and `success`
 *   events, so a success emits those two events (no promises, no microtasks, nothing
 *   allocated). Failures, and every call of a half-open breaker's probe, go through
 *   opossum's `fire()`, where it decides to open or close.
 */
import { EventEmitter } from 'node:events'
import CircuitBreaker from 'opossum'
import type { Policy } from '../config/policy.ts'

export const BREAKER_BUCKETS = 10

export type BreakerState = 'closed' | 'half_open' | 'open'

const controllers = new Map<number, { emitter: EventEmitter, timer: NodeJS.Timeout, users: number }>()

function rotationFor (windowMs: number): EventEmitter {
  let c = controllers.get(windowMs)
  if (c === undefined) {
    const emitter = new EventEmitter()
    emitter.setMaxListeners(0)
    const timer = setInterval(() => emitter.emit('rotate'), windowMs / BREAKER_BUCKETS)
    timer.unref()
    c = { emitter, timer, users: 0 }
    controllers.set(windowMs, c)
  }
  c.users++
  return c.emitter
}

function releaseRotation (windowMs: number): void {
  const c = controllers.get(windowMs)
  if (c === undefined) return
  if (--c.users === 0) {
    clearInterval(c.timer)
    controllers.delete(windowMs)
  }
}

/** The outcome of an attempt, as the breaker judges it. 4xx are successes (spec §3). */
export interface AttemptSettler {
  success (): void
  failure (err: Error): void
  /** No verdict: the client went away before the backend answered. */
  cancel (): void
}

const noop = (): void => {}
const NO_ARGS: unknown[] = []

export class Breaker {
  readonly #cb: CircuitBreaker
  readonly #windowMs: number
  readonly #openForMs: number
  readonly #consecutiveLimit: number
  #consecutive = 0
  #openedAt = 0
  onStateChange: ((state: BreakerState) => void) | null = null
  /** The settler of every attempt admitted while closed: it keeps no per-attempt state. */
  readonly #closed: AttemptSettler

  constructor (name: string, policy: Policy['breaker']) {
    this.#windowMs = policy.windowMs
    this.#openForMs = policy.openForMs
    this.#consecutiveLimit = policy.consecutiveFailures
    // A plain function returning the attempt's promise, not an async wrapper: one promise and
    // one microtask fewer per attempt on the request path.
    const action = (run: (s: AttemptSettler) => void): Promise<void> => new Promise<void>((resolve, reject) => {
      run({ success: () => resolve(), failure: (err) => reject(err), cancel: noop })
    })
    this.#cb = new CircuitBreaker(action, {
      name,
      timeout: false,
      // opossum opens when the rate is strictly above the threshold; the contract says "reaches".
      errorThresholdPercentage: policy.errorRate * 100 - 1e-9,
      volumeThreshold: policy.minRequests,
      resetTimeout: policy.openForMs,
      rollingCountTimeout: policy.windowMs,
      rollingCountBuckets: BREAKER_BUCKETS,
      enableSnapshots: false,
      // Latency percentiles would keep every call's latency and sort them all on each
      // failure (opossum computes stats to decide whether to open): O(n log n) per failure
      // during an outage, exactly when CPU matters. figway measures latency in its metrics.
      rollingPercentilesEnabled: false,
      rotateBucketController: rotationFor(policy.windowMs)
    })
    this.#cb.on('open', () => { this.#openedAt = Date.now(); this.onStateChange?.('open') })
    this.#cb.on('halfOpen', () => this.onStateChange?.('half_open'))
    this.#cb.on('close', () => { this.#consecutive = 0; this.onStateChange?.('closed') })
    const cb = this.#cb
    // What opossum's own call emits for a success: its status counts a fire and a success.
    const counted = (): void => {
      cb.emit('fire', NO_ARGS)
      cb.emit('success', undefined, 0)
    }
    this.#closed = {
      success: () => { this.#consecutive = 0; counted() },
      failure: (err) => {
        // Through opossum, which counts it and opens when the window's error rate says so.
        cb.fire((s: AttemptSettler) => { s.failure(err) }).catch(noop)
        if (++this.#consecutive >= this.#consecutiveLimit && cb.closed) cb.open()
      },
      // A client that went away says nothing about the backend: it does not end a run of
      // failures; counted as a call that moves no state while closed, uncounted once
      // half-open, so it cannot close the breaker.
      cancel: () => { if (!cb.halfOpen) counted() }
    }
  }

  get state (): BreakerState {
    if (this.#cb.closed) return 'closed'
    return this.#cb.halfOpen ? 'half_open' : 'open'
  }

  /** Failures and calls in the current window (for /admin/backends). */
  windowStats (): { calls: number, failures: number } {
    const st = this.#cb.stats
    return { calls: st.successes + st.failures, failures: st.failures }
  }

  /** Seconds until the breaker lets a probe through (for Retry-After), at least 1. */
  retryAfterSeconds (): number {
    return Math.max(1, Math.ceil((this.#openedAt + this.#openForMs - Date.now()) / 1000))
  }

  /**
   * Admits one attempt: returns its settler, or null when the breaker is open (or half-open
   * with its one probe already out): fail fast.
   */
  admit (): AttemptSettler | null {
    const cb = this.#cb
    if (cb.closed) return this.#closed
    if (!cb.pendingClose) return null
    // Admitted while not closed: this attempt is the half-open breaker's one probe.
    let settler: AttemptSettler | null = null
    cb.fire((s: AttemptSettler) => { settler = s }).catch(noop)
    // opossum calls the action synchronously from fire(); if it did not (shut down), refuse.
    if (settler === null) return null
    const inner: AttemptSettler = settler
    return {
      success: () => { this.#consecutive = 0; inner.success() },
      failure: (err) => {
        inner.failure(err)
        if (++this.#consecutive >= this.#consecutiveLimit && cb.closed) cb.open()
      },
      cancel: () => {
        // A cancelled probe says nothing about the backend, and opossum lets no other probe
        // through while its call is out: open again, to probe afresh after openFor.
        if (cb.halfOpen) cb.open()
        // opossum's call is settled as a success, which moves no state unless half-open.
        if (!cb.halfOpen) inner.success()
      }
    }
  }

  close (): void {
    this.#cb.shutdown()
    releaseRotation(this.#windowMs)
  }
}
