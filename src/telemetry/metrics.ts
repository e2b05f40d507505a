/**
 * Every Prometheus metric figway exports is defined here and nowhere else (spec §9).
 * Labels are config names (route, backend) and small closed sets, never raw paths.
 *
 * The request path does not call prom-client: prom-client hashes a child's label object on
 * every inc() and observe(). The per-request series (requests, durations, attempts, local
 * replies) are plain numbers in cells found through nested Maps keyed by the label values
 * (no string is built, nothing is allocated once a series exists). The counters hand their
 * pending counts to prom-client when it collects (at a scrape, or when `serve --workers`
 * aggregates); the duration histogram is a registered metric that renders its own buckets.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry, type CounterConfiguration, type Metric } from 'prom-client'

/**
 * OpenTelemetry's bucket boundaries for durations in seconds: the advice of the HTTP semantic
 * conventions for `http.server.request.duration` (the SDK's generic default, in ms, also has
 * a 0 bucket, which no request duration ever falls in).
 */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]

type Child = { inc: (v?: number) => void }

/** One counter series: counts not yet handed to prom-client. */
interface CounterCell {
  readonly labels: Record<string, string>
  pending: number
}

/** Counter series kept as plain numbers, handed to their prom-client Counter when it collects. */
class PendingCounts {
  readonly #cells: CounterCell[] = []

  cell (labels: Record<string, string>): CounterCell {
    const c: CounterCell = { labels, pending: 0 }
    this.#cells.push(c)
    return c
  }

  flush (counter: Counter<string>): void {
    for (const c of this.#cells) {
      if (c.pending === 0) continue
      counter.inc(c.labels, c.pending)
      c.pending = 0
    }
  }
}

/** Nested Maps, one level per label value: a lookup that builds no key. */
type Level<T> = Map<string | number, T>

function level<T> (m: Level<Level<T>>, key: string | number): Level<T> {
  let l = m.get(key)
  if (l === undefined) { l = new Map(); m.set(key, l) }
  return l
}

/** One route × backend series of the duration histogram: per-bucket (not cumulative) counts. */
interface DurationSeries {
  readonly route: string
  readonly backend: string
  /** counts[i]: durations in (DURATION_BUCKETS[i-1], DURATION_BUCKETS[i]]; the last slot is above every bound. */
  readonly counts: Float64Array
  sum: number
  count: number
}

/** One sample as prom-client's registry renders and aggregates it. */
export interface Sample {
  readonly labels: Record<string, string | number>
  readonly value: number
  readonly metricName: string
}

/**
 * figway_request_duration_seconds: a prom-client metric (registered, rendered and aggregated
 * across workers by prom-client) whose observations are array increments.
 */
export class DurationHistogram {
  readonly name = 'figway_request_duration_seconds'
  readonly help = 'Time from request received to response complete.'
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  readonly #series = new Map<string, Map<string, DurationSeries>>()

  series (route: string, backend: string): DurationSeries {
    let byBackend = this.#series.get(route)
    if (byBackend === undefined) { byBackend = new Map(); this.#series.set(route, byBackend) }
    let s = byBackend.get(backend)
    if (s === undefined) {
      s = { route, backend, counts: new Float64Array(DURATION_BUCKETS.length + 1), sum: 0, count: 0 }
      byBackend.set(backend, s)
    }
    return s
  }

  static observe (s: DurationSeries, seconds: number): void {
    let i = 0
    while (i < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[i]!) i++
    s.counts[i]!++
    s.sum += seconds
    s.count++
  }

  /** prom-client's shape for a histogram: cumulative `_bucket` values with `le`, then `_sum` and `_count`. */
  async get (): Promise<{ name: string, help: string, type: string, values: Sample[], aggregator: string }> {
    const values: Sample[] = []
    const bucket = this.name + '_bucket'
    for (const byBackend of this.#series.values()) {
      for (const s of byBackend.values()) {
        let acc = 0
        for (let i = 0; i < DURATION_BUCKETS.length; i++) {
          acc += s.counts[i]!
          values.push({ labels: { le: DURATION_BUCKETS[i]!, route: s.route, backend: s.backend }, value: acc, metricName: bucket })
        }
        values.push({ labels: { le: '+Inf', route: s.route, backend: s.backend }, value: s.count, metricName: bucket })
        values.push({ labels: { route: s.route, backend: s.backend }, value: s.sum, metricName: this.name + '_sum' })
        values.push({ labels: { route: s.route, backend: s.backend }, value: s.count, metricName: this.name + '_count' })
      }
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator }
  }

  /** Zeroes every series in place (callers may hold a series). */
  reset (): void {
    for (const byBackend of this.#series.values()) {
      for (const s of byBackend.values()) { s.counts.fill(0); s.sum = 0; s.count = 0 }
    }
  }
}

export interface MetricSources {
  inflight: () => number
  routeWeights: () => Iterable<{ route: string, backend: string, weight: number }>
  /** 0 closed, 1 half-open, 2 open. */
  circuitStates: () => Iterable<{ backend: string, state: number }>
}

export class Metrics {
  readonly registry = new Registry()
  readonly requests: Counter<'route' | 'backend' | 'method' | 'code'>
  readonly duration: DurationHistogram
  readonly localReplies: Counter<'code'>
  readonly configReloads: Counter<'result'>
  readonly routeWeight: Gauge<'route' | 'backend'>
  readonly inflight: Gauge
  readonly upstreamAttempts: Counter<'backend' | 'outcome'>
  readonly retries: Counter<'backend' | 'reason'>
  readonly retryBudgetExhausted: Counter<'backend'>
  readonly circuitState: Gauge<'backend'>
  readonly fallbacks: Counter<'route' | 'from' | 'to' | 'reason'>
  /** Shadow traffic (spec §2.4): `result` is match, mismatch or error. */
  readonly shadowComparisons: Counter<'route' | 'result'>
  /** Rollouts (spec §2.5): the step in force per route, as its percent; set by the rollout controller. */
  readonly rolloutStep: Gauge<'route'>
  #small = new Map<string, Child>()
  readonly #requestCounts = new PendingCounts()
  readonly #attemptCounts = new PendingCounts()
  readonly #localCounts = new PendingCounts()
  /** route → backend → method → status → cell. */
  readonly #requestCells: Level<Level<Level<Level<CounterCell>>>> = new Map()
  /** backend → outcome → cell. */
  readonly #attemptCells: Level<Level<CounterCell>> = new Map()
  readonly #localCells: Level<CounterCell> = new Map()

  constructor (sources: MetricSources, opts: { defaultMetrics?: boolean } = {}) {
    const r = this.registry
    const counter = <L extends string>(c: CounterConfiguration<L>): Counter<L> => new Counter({ ...c, registers: [r] })
    const pending = <L extends string>(c: CounterConfiguration<L>, counts: PendingCounts): Counter<L> =>
      new Counter({ ...c, registers: [r], collect () { counts.flush(this as Counter<string>) } })
    this.requests = pending({ name: 'figway_requests_total', help: 'Requests handled, by route, backend, method and response status code.', labelNames: ['route', 'backend', 'method', 'code'] }, this.#requestCounts)
    this.duration = new DurationHistogram()
    r.registerMetric(this.duration as unknown as Metric)
    this.localReplies = pending({ name: 'figway_local_replies_total', help: 'Responses produced by figway itself, by error code.', labelNames: ['code'] }, this.#localCounts)
    this.configReloads = counter({ name: 'figway_config_reloads_total', help: 'Route table reloads, by result.', labelNames: ['result'] })
    this.routeWeight = new Gauge({
      name: 'figway_route_weight',
      help: 'Weight in force per route and backend (runtime override, else file).',
      labelNames: ['route', 'backend'],
      registers: [r],
      // With `serve --workers`, every worker holds the same weights: report one, not their sum.
      aggregator: 'first',
      collect () {
        this.reset()
        for (const w of sources.routeWeights()) this.set({ route: w.route, backend: w.backend }, w.weight)
      }
    })
    this.inflight = new Gauge({
      name: 'figway_inflight_requests',
      help: 'Requests in flight on the data port (the autoscaling signal).',
      registers: [r],
      collect () { this.set(sources.inflight()) }
    })
    this.upstreamAttempts = pending({ name: 'figway_upstream_attempts_total', help: 'Attempts sent to backends, by outcome (ok, 5xx, connect_error, reset, timeout, circuit_open, overloaded, cancelled).', labelNames: ['backend', 'outcome'] }, this.#attemptCounts)
    this.retries = counter({ name: 'figway_retries_total', help: 'Retries, by backend and the failure retried.', labelNames: ['backend', 'reason'] })
    this.retryBudgetExhausted = counter({ name: 'figway_retry_budget_exhausted_total', help: 'Retries not made because the backend\'s retry budget was spent.', labelNames: ['backend'] })
    this.circuitState = new Gauge({
      name: 'figway_circuit_state',
      help: 'Circuit breaker state per backend: 0 closed, 1 half-open, 2 open.',
      labelNames: ['backend'],
      registers: [r],
      // Each worker has its own breakers: across workers, the most open one.
      aggregator: 'max',
      collect () {
        this.reset()
        for (const c of sources.circuitStates()) this.set({ backend: c.backend }, c.state)
      }
    })
    this.fallbacks = counter({ name: 'figway_fallbacks_total', help: 'Requests served by a route\'s fallback backend, by the failure that caused it.', labelNames: ['route', 'from', 'to', 'reason'] })
    this.shadowComparisons = counter({ name: 'figway_shadow_comparisons_total', help: 'Shadow responses compared with the primary\'s, by route and result (match, mismatch, error).', labelNames: ['route', 'result'] })
    this.rolloutStep = new Gauge({
      name: 'figway_rollout_step',
      help: 'Rollout step in force per route, as the percent of traffic it gives rollout.to (0 once rolled back).',
      labelNames: ['route'],
      registers: [r],
      // A rollout's state is the route's, not a worker's: across cluster workers, report one.
      aggregator: 'first'
    })
    for (const result of ['success', 'failure']) this.configReloads.inc({ result }, 0)
    if (opts.defaultMetrics !== false) {
      collectDefaultMetrics({ register: r })
      // Gauges named *_total break Prometheus naming rules (`promtool check metrics` flags
      // them); the same counts stay available per type in nodejs_active_{handles,requests,resources}.
      for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) r.removeSingleMetric(name)
    }
  }

  request (route: string, backend: string, method: string, status: number, seconds: number): void {
    const byStatus = level(level(level(this.#requestCells, route), backend), method)
    let c = byStatus.get(status)
    if (c === undefined) {
      c = this.#requestCounts.cell({ route, backend, method, code: String(status) })
      byStatus.set(status, c)
    }
    c.pending++
    DurationHistogram.observe(this.duration.series(route, backend), seconds)
  }

  /** Increments a counter child cached by its joined label values. */
  #inc (id: string, metric: Counter<string>, ...values: string[]): void {
    const key = id + '\u0000' + values.join('\u0000')
    let c = this.#small.get(key)
    if (c === undefined) {
      c = metric.labels(...values)
      this.#small.set(key, c)
    }
    c.inc()
  }

  attempt (backend: string, outcome: string): void {
    const byOutcome = level(this.#attemptCells, backend)
    let c = byOutcome.get(outcome)
    if (c === undefined) {
      c = this.#attemptCounts.cell({ backend, outcome })
      byOutcome.set(outcome, c)
    }
    c.pending++
  }

  retry (backend: string, reason: string): void { this.#inc('r', this.retries, backend, reason) }
  budgetExhausted (backend: string): void { this.#inc('b', this.retryBudgetExhausted, backend) }
  fallback (route: string, from: string, to: string, reason: string): void { this.#inc('f', this.fallbacks, route, from, to, reason) }

  localReply (code: string): void {
    let c = this.#localCells.get(code)
    if (c === undefined) {
      c = this.#localCounts.cell({ code })
      this.#localCells.set(code, c)
    }
    c.pending++
  }

  async render (): Promise<string> { return await this.registry.metrics() }
}
