/**
 * Every Prometheus metric figway exports is defined here and nowhere else (spec §9).
 * Labels are config names (route, backend) and small closed sets, never raw paths. The
 * request path reaches label children through caches, so a request allocates no label map.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry, type CounterConfiguration } from 'prom-client'

/**
 * OpenTelemetry's bucket boundaries for durations in seconds: the advice of the HTTP semantic
 * conventions for `http.server.request.duration` (the SDK's generic default, in ms, also has
 * a 0 bucket, which no request duration ever falls in).
 */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]

type Child = { inc: (v?: number) => void }
type HistChild = { observe: (v: number) => void }

export interface MetricSources {
  inflight: () => number
  routeWeights: () => Iterable<{ route: string, backend: string, weight: number }>
  /** 0 closed, 1 half-open, 2 open. */
  circuitStates: () => Iterable<{ backend: string, state: number }>
}

export class Metrics {
  readonly registry = new Registry()
  readonly requests: Counter<'route' | 'backend' | 'method' | 'code'>
  readonly duration: Histogram<'route' | 'backend'>
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
  #requestChildren = new Map<string, Child>()
  #durationChildren = new Map<string, HistChild>()
  #localChildren = new Map<string, Child>()

  constructor (sources: MetricSources, opts: { defaultMetrics?: boolean } = {}) {
    const r = this.registry
    const counter = <L extends string>(c: CounterConfiguration<L>): Counter<L> => new Counter({ ...c, registers: [r] })
    this.requests = counter({ name: 'figway_requests_total', help: 'Requests handled, by route, backend, method and response status code.', labelNames: ['route', 'backend', 'method', 'code'] })
    this.duration = new Histogram({ name: 'figway_request_duration_seconds', help: 'Time from request received to response complete.', labelNames: ['route', 'backend'], buckets: DURATION_BUCKETS, registers: [r] })
    this.localReplies = counter({ name: 'figway_local_replies_total', help: 'Responses produced by figway itself, by error code.', labelNames: ['code'] })
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
    this.upstreamAttempts = counter({ name: 'figway_upstream_attempts_total', help: 'Attempts sent to backends, by outcome (ok, 5xx, connect_error, reset, timeout, circuit_open, overloaded, cancelled).', labelNames: ['backend', 'outcome'] })
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
    const key = route + '\u0000' + backend + '\u0000' + method + '\u0000' + status
    let c = this.#requestChildren.get(key)
    if (c === undefined) {
      c = this.requests.labels(route, backend, method, String(status))
      this.#requestChildren.set(key, c)
    }
    c.inc()
    const dk = route + '\u0000' + backend
    let h = this.#durationChildren.get(dk)
    if (h === undefined) {
      h = this.duration.labels(route, backend)
      this.#durationChildren.set(dk, h)
    }
    h.observe(seconds)
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

  attempt (backend: string, outcome: string): void { this.#inc('a', this.upstreamAttempts, backend, outcome) }
  retry (backend: string, reason: string): void { this.#inc('r', this.retries, backend, reason) }
  budgetExhausted (backend: string): void { this.#inc('b', this.retryBudgetExhausted, backend) }
  fallback (route: string, from: string, to: string, reason: string): void { this.#inc('f', this.fallbacks, route, from, to, reason) }

  localReply (code: string): void {
    let c = this.#localChildren.get(code)
    if (c === undefined) {
      c = this.localReplies.labels(code)
      this.#localChildren.set(code, c)
    }
    c.inc()
  }

  async render (): Promise<string> { return await this.registry.metrics() }
}
