/**
 * Spec §9 traces, end to end over real sockets: figway exports OTLP/HTTP to a receiver in the
 * test, which decodes what it gets. A SERVER span per request named `METHOD route`, a CLIENT
 * span per attempt under it, HTTP semantic-convention attributes, errors recorded, and the
 * backend always receiving a traceparent in the request's trace: sampled or not, exporting
 * or not.
 */
import t from 'tap'
import { refusingUrl, routeAllTo, scriptedBackend } from '../helpers/faults.ts'
import { accessLine, req, startGateway, type TestGateway } from '../helpers/gateway.ts'
import { KIND, startOtlpReceiver, STATUS, type OtlpReceiver, type ReceivedSpan } from '../helpers/otlp.ts'

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-(0[01])$/

interface Teardown { teardown: (fn: () => unknown) => void }

/** `telemetry:` for gateway.yaml, exporting to `otlp` at `ratio`. */
const exportingTo = (otlp: OtlpReceiver, ratio = 1): string =>
  `telemetry: { logLevel: info, tracing: { exporter: otlp, endpoint: "${otlp.url}", sampleRatio: ${ratio} } }`

/** A catch-all route `all` → backend `b`, with the given policy defaults. */
async function tracedGateway (t: Teardown, backendUrl: string, gatewayYaml: string, env: NodeJS.ProcessEnv = {}): Promise<TestGateway> {
  return await startGateway(t, routeAllTo(backendUrl), gatewayYaml, { env })
}

/** The spans exported so far, after the gateway flushed its batch. */
async function exported (g: TestGateway, otlp: OtlpReceiver, n: number): Promise<ReceivedSpan[]> {
  await g.gw.deps.tracing.flush()
  return await otlp.waitForSpans(n, 2_000)
}

function traceparentOf (headers: Record<string, string | string[] | undefined>): RegExpExecArray {
  const m = TRACEPARENT.exec(String(headers.traceparent))
  if (m === null) throw new Error(`no valid traceparent: ${String(headers.traceparent)}`)
  return m
}

const RETRYING = [
  'defaults:',
  '  retry: { attempts: 3, backoff: { base: 1ms, max: 5ms }, budget: { ratio: 1, minPerSecond: 1000 } }',
  '  breaker: { errorRate: 1, minRequests: 100000, consecutiveFailures: 100000 }'
].join('\n')

t.test('a request gets a SERVER span named after its route and a CLIENT span under it; the backend sees the CLIENT span as parent', async (t) => {
  const otlp = await startOtlpReceiver(t)
  const backend = await scriptedBackend(t, () => 200)
  const g = await startGateway(t, {
    'r.yaml': `backends:\n  orders: { url: "${backend.url}" }\nroutes:\n  - name: orders-read\n    match: { path: /api/orders/:id }\n    to: orders\n`
  }, exportingTo(otlp))
  const r = await req(`${g.url}/api/orders/7?view=full`, { headers: { 'user-agent': 'tracing-test' } })
  t.equal(r.status, 200)
  const spans = await exported(g, otlp, 2)
  t.equal(spans.length, 2, 'one SERVER and one CLIENT span')
  const server = spans.find((s) => s.kind === KIND.server)!
  const client = spans.find((s) => s.kind === KIND.client)!
  t.equal(server.name, 'GET orders-read')
  t.equal(server.parentSpanId, '', 'a request without traceparent starts a trace')
  t.match(server.attributes, {
    'http.request.method': 'GET',
    'url.path': '/api/orders/7',
    'url.scheme': 'http',
    'http.route': '/api/orders/:id',
    'http.response.status_code': 200,
    'figway.route': 'orders-read',
    'figway.backend': 'orders',
    'figway.attempts': 1,
    'user_agent.original': 'tracing-test'
  })
  t.equal(server.status.code, STATUS.unset)
  t.equal(server.resource['service.name'], 'figway')
  t.equal(server.scope, 'figway')

  t.equal(client.name, 'GET')
  t.equal(client.traceId, server.traceId)
  t.equal(client.parentSpanId, server.spanId, "the CLIENT span's parent is the SERVER span")
  t.match(client.attributes, {
    'http.request.method': 'GET',
    'server.address': '127.0.0.1',
    'server.port': backend.port,
    'url.full': `${backend.url}/api/orders/7?view=full`,
    'http.response.status_code': 200,
    'figway.backend': 'orders',
    'figway.attempt': 1
  })
  t.notOk('http.request.resend_count' in client.attributes, 'a first attempt is not a resend')
  t.ok(client.startNs >= server.startNs && client.endNs <= server.endNs, 'the attempt lies inside the request')

  const tp = traceparentOf(backend.arrivals[0]!.headers)
  t.equal(tp[1], server.traceId, 'the backend is in the same trace')
  t.equal(tp[2], client.spanId, "and its parent is the attempt's span")
  t.equal(tp[3], '01', 'sampled')
  const line = await accessLine(g, '/api/orders/7')
  t.equal(line.traceId, server.traceId, 'the access line names the trace')
})

t.test('an incoming sampled traceparent is continued: same trace, the caller as parent, tracestate passed on', async (t) => {
  const otlp = await startOtlpReceiver(t)
  const backend = await scriptedBackend(t, () => 200)
  const g = await tracedGateway(t, backend.url, exportingTo(otlp, 0))
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
  const callerSpan = '00f067aa0ba902b7'
  await req(`${g.url}/x`, { headers: { traceparent: `00-${traceId}-${callerSpan}-01`, tracestate: 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7' } })
  const spans = await exported(g, otlp, 2)
  const server = spans.find((s) => s.kind === KIND.server)!
  t.equal(server.traceId, traceId, 'the trace id is kept')
  t.equal(server.parentSpanId, callerSpan, "the SERVER span's parent is the caller's span")
  t.equal(server.traceState, 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7')
  t.equal(spans.length, 2, 'parent-based sampling: a sampled caller is recorded even at sampleRatio 0')
  const h = backend.arrivals[0]!.headers
  const tp = traceparentOf(h)
  t.equal(tp[1], traceId)
  t.not(tp[2], callerSpan, 'the backend gets figway\'s span as parent, not the caller\'s')
  t.equal(h.tracestate, 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7')
})

t.test('an unusable traceparent starts a new trace and its tracestate is dropped', async (t) => {
  const backend = await scriptedBackend(t, () => 200)
  const g = await tracedGateway(t, backend.url, '')
  for (const bad of ['00-00000000000000000000000000000000-00f067aa0ba902b7-01', 'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01', 'garbage']) {
    await req(`${g.url}/bad`, { headers: { traceparent: bad, tracestate: 'a=b' } })
    const h = backend.arrivals.at(-1)!.headers
    const tp = traceparentOf(h)
    t.not(tp[1], bad.slice(3, 35), `${bad}: a new trace id`)
    t.equal(h.tracestate, undefined, `${bad}: no tracestate`)
  }
})

t.test('retries give one CLIENT span per attempt, numbered; the failed attempts are errors', async (t) => {
  const otlp = await startOtlpReceiver(t)
  const backend = await scriptedBackend(t, (a) => a.n < 3 ? 503 : 200)
  const g = await tracedGateway(t, backend.url, exportingTo(otlp) + '\n' + RETRYING)
  const r = await req(`${g.url}/flaky`)
  t.equal(r.status, 200)
  const spans = await exported(g, otlp, 4)
  const server = spans.find((s) => s.kind === KIND.server)!
  const clients = spans.filter((s) => s.kind === KIND.client).sort((a, b) => Number(a.attributes['figway.attempt']) - Number(b.attributes['figway.attempt']))
  t.equal(clients.length, 3, 'three attempts, three CLIENT spans')
  t.same(clients.map((c) => c.attributes['figway.attempt']), [1, 2, 3])
  t.same(clients.map((c) => c.attributes['http.request.resend_count']), [undefined, 1, 2], 'resend_count on the retries')
  t.same(clients.map((c) => c.attributes['http.response.status_code']), [503, 503, 200])
  t.same(clients.map((c) => c.status.code), [STATUS.error, STATUS.error, STATUS.unset])
  t.same(clients.map((c) => c.attributes['error.type']), ['503', '503', undefined])
  for (const c of clients) t.equal(c.parentSpanId, server.spanId)
  t.same(backend.arrivals.map((a) => traceparentOf(a.headers)[2]), clients.map((c) => c.spanId), 'each attempt carries its own span as parent')
  t.equal(server.attributes['figway.attempts'], 3)
  t.equal(server.status.code, STATUS.unset, 'the request itself succeeded')
})

t.test('a failed request is an error on its SERVER span, and the problem+json names the trace', async (t) => {
  const otlp = await startOtlpReceiver(t)
  const g = await tracedGateway(t, await refusingUrl(), exportingTo(otlp))
  const r = await req(`${g.url}/down`)
  t.equal(r.status, 502)
  const problem = r.json<{ code: string, traceId: string }>()
  t.equal(problem.code, 'upstream_unreachable')
  const spans = await exported(g, otlp, 2)
  const server = spans.find((s) => s.kind === KIND.server)!
  const client = spans.find((s) => s.kind === KIND.client)!
  t.equal(problem.traceId, server.traceId)
  t.equal(server.name, 'GET all')
  t.equal(server.status.code, STATUS.error)
  t.equal(server.attributes['error.type'], 'upstream_unreachable')
  t.equal(server.attributes['figway.code'], 'upstream_unreachable')
  t.equal(server.attributes['http.response.status_code'], 502)
  t.equal(client.status.code, STATUS.error)
  t.equal(client.attributes['error.type'], 'ECONNREFUSED')
  t.ok(client.events.some((e) => e.name === 'exception'), 'the connection error is recorded on the attempt')
  t.notOk('http.response.status_code' in client.attributes, 'no response, no status')
})

t.test('a request no route matches is traced as `METHOD` alone, without error; a 404 names its trace', async (t) => {
  const otlp = await startOtlpReceiver(t)
  const backend = await scriptedBackend(t, () => 200)
  const g = await startGateway(t, {
    'r.yaml': `backends:\n  b: { url: "${backend.url}" }\nroutes:\n  - name: only\n    match: { path: /only }\n    to: b\n`
  }, exportingTo(otlp))
  const r = await req(`${g.url}/nowhere`, { method: 'DELETE' })
  t.equal(r.status, 404)
  const spans = await exported(g, otlp, 1)
  t.equal(spans.length, 1, 'no attempt, no CLIENT span')
  t.equal(spans[0]!.name, 'DELETE')
  t.equal(spans[0]!.status.code, STATUS.unset, '4xx is not a server error')
  t.equal(spans[0]!.attributes['figway.code'], 'route_not_found')
  t.equal(r.json<{ traceId: string }>().traceId, spans[0]!.traceId)
  t.equal((await accessLine(g, '/nowhere')).traceId, spans[0]!.traceId)
})

t.test('sampleRatio 0: nothing is exported, and the backend still gets a traceparent (not sampled)', async (t) => {
  const otlp = await startOtlpReceiver(t)
  const backend = await scriptedBackend(t, () => 200)
  const g = await tracedGateway(t, backend.url, exportingTo(otlp, 0))
  for (let i = 0; i < 5; i++) await req(`${g.url}/quiet/${i}`)
  await g.gw.deps.tracing.flush()
  t.equal(otlp.spans.length, 0, 'no span exported')
  const ids = new Set<string>()
  for (const a of backend.arrivals) {
    const tp = traceparentOf(a.headers)
    t.equal(tp[3], '00', 'sampled flag off')
    ids.add(tp[1]!)
    t.equal((await accessLine(g, a.path)).traceId, tp[1], 'the access line names the trace the backend got')
  }
  t.equal(ids.size, 5, 'a new trace per request')
})

t.test('exporter none: no SDK at work, yet trace context reaches the backend, per attempt', async (t) => {
  const backend = await scriptedBackend(t, (a) => a.n === 1 ? 503 : 200)
  const g = await tracedGateway(t, backend.url, RETRYING)
  t.equal(g.gw.deps.tracing.exporting, false)
  const traceId = '0af7651916cd43dd8448eb211c80319c'
  await req(`${g.url}/kept`, { headers: { traceparent: `00-${traceId}-b7ad6b7169203331-01`, tracestate: 'k=v' } })
  const [first, second] = backend.arrivals.map((a) => traceparentOf(a.headers))
  t.equal(first![1], traceId)
  t.equal(second![1], traceId, 'the retry stays in the trace')
  t.not(first![2], 'b7ad6b7169203331', 'a fresh parent id')
  t.not(first![2], second![2], 'each attempt its own')
  t.equal(first![3], '01', "the caller's sampled flag passes on")
  t.equal(backend.arrivals[1]!.headers.tracestate, 'k=v')
  t.equal((await accessLine(g, '/kept')).traceId, traceId)

  await req(`${g.url}/fresh`)
  const fresh = traceparentOf(backend.arrivals.at(-1)!.headers)
  t.not(fresh[1], traceId)
  t.equal((await accessLine(g, '/fresh')).traceId, fresh[1], 'a request without traceparent gets a trace id all the same')
})

t.test('the OTEL_* variables: base endpoint, OTLP/JSON, service name, sampler argument, batch delay', async (t) => {
  const otlp = await startOtlpReceiver(t)
  const backend = await scriptedBackend(t, () => 200)
  const g = await tracedGateway(t, backend.url, 'telemetry: { tracing: { exporter: otlp, sampleRatio: 0 } }', {
    OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
    OTEL_SERVICE_NAME: 'edge-gateway',
    OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test,team=platform',
    OTEL_TRACES_SAMPLER_ARG: '1',
    OTEL_BSP_SCHEDULE_DELAY: '20'
  })
  await req(`${g.url}/env`)
  // No flush: the 20 ms batch delay sends it.
  const spans = await otlp.waitForSpans(2)
  t.equal(spans.length, 2, 'exported, at the ratio the environment gave')
  t.same(otlp.requests.map((r) => [r.path, r.contentType]), [['/v1/traces', 'application/json']])
  t.match(spans[0]!.resource, { 'service.name': 'edge-gateway', 'deployment.environment.name': 'test', team: 'platform' })
})

t.test('buffered spans are exported when the gateway closes', async (t) => {
  const otlp = await startOtlpReceiver(t)
  const backend = await scriptedBackend(t, () => 200)
  const g = await tracedGateway(t, backend.url, exportingTo(otlp), { OTEL_BSP_SCHEDULE_DELAY: '600000' })
  await req(`${g.url}/last`)
  await accessLine(g, '/last')
  t.equal(otlp.spans.length, 0, 'still buffered')
  await g.close()
  t.equal(otlp.spans.length, 2, 'flushed on close')
})

t.test('the ALB health check is never traced', async (t) => {
  const otlp = await startOtlpReceiver(t)
  const backend = await scriptedBackend(t, () => 200)
  const g = await tracedGateway(t, backend.url, exportingTo(otlp))
  t.equal((await req(`${g.url}/__figway/ready`)).status, 200)
  await g.gw.deps.tracing.flush()
  t.equal(otlp.spans.length, 0)
})
