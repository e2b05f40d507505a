/**
 * The request path's metrics are plain counts handed to prom-client when it collects
 * (src/telemetry/metrics.ts): what a scrape shows must be what prom-client itself would show.
 */
import t from 'tap'
import { Metrics } from '../../../src/telemetry/metrics.ts'
import { samples } from '../../helpers/gateway.ts'

const sources = { inflight: () => 0, routeWeights: () => [], circuitStates: () => [] }

t.test('requests, attempts and local replies are counted once per call, across scrapes', async (t) => {
  const m = new Metrics(sources, { defaultMetrics: false })
  m.request('orders', 'old', 'GET', 200, 0.003)
  m.request('orders', 'old', 'GET', 200, 0.02)
  m.request('orders', 'new', 'POST', 503, 0.2)
  m.attempt('old', 'ok')
  m.attempt('old', 'ok')
  m.attempt('new', '5xx')
  m.localReply('route_not_found')
  let s = samples(await m.render())
  t.equal(s.get('figway_requests_total{route="orders",backend="old",method="GET",code="200"}'), 2)
  t.equal(s.get('figway_requests_total{route="orders",backend="new",method="POST",code="503"}'), 1)
  t.equal(s.get('figway_upstream_attempts_total{backend="old",outcome="ok"}'), 2)
  t.equal(s.get('figway_upstream_attempts_total{backend="new",outcome="5xx"}'), 1)
  t.equal(s.get('figway_local_replies_total{code="route_not_found"}'), 1)
  // A second scrape with one more request: counts grow by what happened in between, no more.
  m.request('orders', 'old', 'GET', 200, 0.003)
  s = samples(await m.render())
  t.equal(s.get('figway_requests_total{route="orders",backend="old",method="GET",code="200"}'), 3)
  t.equal(s.get('figway_upstream_attempts_total{backend="old",outcome="ok"}'), 2)
  t.equal(s.get('figway_local_replies_total{code="route_not_found"}'), 1)
})

t.test('the duration histogram: cumulative buckets, a bound is inclusive (le), sum and count', async (t) => {
  const m = new Metrics(sources, { defaultMetrics: false })
  for (const d of [0.001, 0.005, 0.0051, 0.3, 12]) m.request('r', 'b', 'GET', 200, d)
  const s = samples(await m.render())
  const bucket = (le: string): number | undefined => s.get(`figway_request_duration_seconds_bucket{le="${le}",route="r",backend="b"}`)
  t.equal(bucket('0.005'), 2, '0.001 and exactly 0.005')
  t.equal(bucket('0.01'), 3)
  t.equal(bucket('0.25'), 3)
  t.equal(bucket('0.5'), 4)
  t.equal(bucket('10'), 4)
  t.equal(bucket('+Inf'), 5, 'above every bound: only +Inf')
  t.equal(s.get('figway_request_duration_seconds_count{route="r",backend="b"}'), 5)
  t.ok(Math.abs(s.get('figway_request_duration_seconds_sum{route="r",backend="b"}')! - 12.3111) < 1e-9)
  const h = await m.duration.get()
  t.equal(h.values.filter((v) => v.metricName === 'figway_request_duration_seconds_bucket').length, 15, '14 bounds and +Inf')
})

t.test('the registry\'s JSON (what `serve --workers` aggregates) carries the same counts', async (t) => {
  const m = new Metrics(sources, { defaultMetrics: false })
  m.request('r', 'b', 'GET', 404, 0.01)
  m.attempt('b', 'ok')
  const json = await m.registry.getMetricsAsJSON()
  const requests = json.find((x) => x.name === 'figway_requests_total')!
  t.same(requests.values.map((v) => [v.labels, v.value]), [[{ route: 'r', backend: 'b', method: 'GET', code: '404' }, 1]])
  const hist = json.find((x) => x.name === 'figway_request_duration_seconds')!
  t.equal(hist.type, 'histogram')
  t.equal(hist.aggregator, 'sum')
  t.equal((hist.values as Array<{ metricName?: string, value: number }>).find((v) => v.metricName === 'figway_request_duration_seconds_count')?.value, 1)
})
