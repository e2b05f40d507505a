import t from 'tap'
import { echo, startOrigin } from '../helpers/origin.ts'
import { req, samples, scrape, sleep, startGateway } from '../helpers/gateway.ts'

const routes = (a: string, b: string): Record<string, string> => ({
  'r.yaml': `backends:
  old: { url: "${a}" }
  new: { url: "${b}" }
routes:
  - name: orders
    match: { path: /api/orders/** }
    split: { new: 30, old: 70 }
  - name: rest
    match: { path: /** }
    to: old
`
})

t.test('/metrics counts requests by route, backend, method and status, with config names only', async (t) => {
  const a = await startOrigin(t, echo('old'))
  const b = await startOrigin(t, echo('new'))
  const g = await startGateway(t, routes(a.url, b.url), '', { defaultMetrics: true })
  for (let i = 0; i < 20; i++) await req(`${g.url}/api/orders/${i}`)
  await req(`${g.url}/home`, { method: 'POST', body: 'x' })
  await req(`${g.url}/bad/%2F`)
  const r = await req(`${g.opsUrl}/metrics`)
  t.equal(r.status, 200)
  t.match(r.headers['content-type'], /^text\/plain/)
  const s = samples(r.text)
  const toOld = s.get('figway_requests_total{route="orders",backend="old",method="GET",code="200"}') ?? 0
  const toNew = s.get('figway_requests_total{route="orders",backend="new",method="GET",code="200"}') ?? 0
  t.equal(toOld + toNew, 20, 'every orders request counted once under its backend')
  t.equal(s.get('figway_requests_total{route="rest",backend="old",method="POST",code="200"}'), 1)
  t.equal(s.get('figway_local_replies_total{code="bad_request_path"}'), 1)
  t.notOk(r.text.includes('/api/orders/1'), 'raw paths never become labels')
  t.equal(s.get('figway_request_duration_seconds_count{route="orders",backend="old"}'), toOld)
  // OpenTelemetry's bucket boundaries for durations, in seconds.
  for (const le of ['0.005', '0.01', '0.025', '0.05', '0.075', '0.1', '0.25', '0.5', '0.75', '1', '2.5', '5', '7.5', '10', '+Inf']) {
    t.ok(s.has(`figway_request_duration_seconds_bucket{le="${le}",route="rest",backend="old"}`), `bucket le=${le}`)
  }
  t.notOk(s.has('figway_request_duration_seconds_bucket{le="0",route="rest",backend="old"}'), 'no bucket for a zero duration')
  t.equal(s.get('figway_route_weight{route="orders",backend="new"}'), 30)
  t.equal(s.get('figway_route_weight{route="orders",backend="old"}'), 70)
  t.equal(s.get('figway_route_weight{route="rest",backend="old"}'), 1)
  t.equal(s.get('figway_inflight_requests'), 0, 'nothing in flight once responses are read')
  t.equal(s.get('figway_config_reloads_total{result="success"}'), 1, 'the startup load')
  t.equal(s.get('figway_config_reloads_total{result="failure"}'), 0)
  t.ok(s.has('process_cpu_seconds_total'), 'process defaults are exported')
  t.ok(s.has('nodejs_eventloop_lag_seconds'), 'event loop lag is exported')
})

t.test('figway_inflight_requests counts requests that are waiting on a backend', async (t) => {
  let release: () => void = () => {}
  const held = new Promise<void>((resolve) => { release = resolve })
  const slow = await startOrigin(t, (_req, res) => { held.then(() => res.end('late'), () => {}) })
  const g = await startGateway(t, routes(slow.url, slow.url))
  const pending = Array.from({ length: 3 }, async () => await req(`${g.url}/x`))
  while (slow.received.length < 3) await sleep(5)
  const during = await scrape(g)
  t.equal(during.get('figway_inflight_requests'), 3)
  release()
  await Promise.all(pending)
  const after = await scrape(g)
  t.equal(after.get('figway_inflight_requests'), 0)
})
