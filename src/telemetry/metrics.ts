/**
 * Every Prometheus metric figway exports is defined here and nowhere else (spec §9).
 * Labels are config names (route, backend) and small closed sets, never raw paths. The
 * request path reaches label children through caches, so a request allocates no label map.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry, type CounterConfiguration } from 'prom-client'

/** OpenTelemetry's default explicit bucket boundaries, in seconds. */
export const DURATION_BUCKETS = [0, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]

type Child = { inc: (v?: number) => void }
type HistChild = { observe: (v: number) => void }

export interface MetricSources {
  inflight: () => number
  routeWeights: () => Iterable<{ route: string, backend: string, weight: number }>
}

export class Metrics {
  readonly registry = new Registry()
  readonly requests: Counter<'route' | 'backend' | 'method' | 'code'>
  readonly duration: Histogram<'route' | 'backend'>
  readonly localReplies: Counter<'code'>
  readonly configReloads: Counter<'result'>
  readonly routeWeight: Gauge<'route' | 'backend'>
  readonly inflight: Gauge
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
    for (const result of ['success', 'failure']) this.configReloads.inc({ result }, 0)
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: r })
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
