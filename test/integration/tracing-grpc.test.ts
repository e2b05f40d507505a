/**
 * Spec §9 traces for gRPC backends: a CLIENT span per call with the RPC semantic conventions
 * under the request's SERVER span, and the call's metadata carrying a traceparent in the
 * request's trace (naming the attempt's span), whether the request is sampled or not.
 */
import t from 'tap'
import { status } from '@grpc/grpc-js'
import { KIND, startOtlpReceiver, STATUS, type OtlpReceiver, type ReceivedSpan } from '../helpers/otlp.ts'
import type { TestGateway } from '../helpers/gateway.ts'
import { echoGateway, failWith } from './transcode/setup.ts'

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-(0[01])$/

const exportingTo = (otlp: OtlpReceiver, ratio = 1): string =>
  `telemetry: { logLevel: info, tracing: { exporter: otlp, endpoint: "${otlp.url}", sampleRatio: ${ratio} } }`

const RETRIES = [
  'defaults:',
  '  retry: { attempts: 3, backoff: { base: 1ms, max: 5ms }, budget: { ratio: 1, minPerSecond: 1000 } }',
  '  breaker: { errorRate: 1, minRequests: 100000 }'
].join('\n')

async function exported (g: TestGateway, otlp: OtlpReceiver, n: number): Promise<ReceivedSpan[]> {
  await g.gw.deps.tracing.flush()
  return await otlp.waitForSpans(n, 2_000)
}

function traceparentOf (md: Record<string, string | string[]>): RegExpExecArray {
  const m = TRACEPARENT.exec(String(md.traceparent))
  if (m === null) throw new Error(`no valid traceparent in the metadata: ${String(md.traceparent)}`)
  return m
}

t.test('a gRPC call is a CLIENT span with the RPC conventions; the server receives its traceparent', async (t) => {
  const otlp = await startOtlpReceiver(t)
  const e = await echoGateway(t, { gatewayYaml: exportingTo(otlp) })
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
  const r = await e.send('GET', '/v1/things/7', { headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01`, tracestate: 'vendor=v' } })
  t.equal(r.status, 200)
  const spans = await exported(e.g, otlp, 2)
  const server = spans.find((s) => s.kind === KIND.server)!
  const client = spans.find((s) => s.kind === KIND.client)!
  t.equal(server.name, 'GET api')
  t.equal(server.traceId, traceId)
  t.equal(client.name, 'echo.v1.EchoService/GetThing')
  t.equal(client.parentSpanId, server.spanId)
  t.match(client.attributes, {
    'rpc.system': 'grpc',
    'rpc.service': 'echo.v1.EchoService',
    'rpc.method': 'GetThing',
    'rpc.grpc.status_code': status.OK,
    'server.address': '127.0.0.1',
    'server.port': e.echo.port,
    'figway.backend': 'echo',
    'figway.attempt': 1
  })
  t.equal(client.status.code, STATUS.unset)
  const md = e.only().metadata
  const tp = traceparentOf(md)
  t.equal(tp[1], traceId, 'the gRPC server is in the caller\'s trace')
  t.equal(tp[2], client.spanId, 'its parent is the call\'s span')
  t.equal(tp[3], '01')
  t.equal(md.tracestate, 'vendor=v')
})

t.test('retried calls: one CLIENT span each, the failed one an error with its status code, each call its own parent id', async (t) => {
  const otlp = await startOtlpReceiver(t)
  const e = await echoGateway(t, { gatewayYaml: exportingTo(otlp) + '\n' + RETRIES })
  const r = await e.send('GET', '/v1/things/7', { headers: failWith(status.UNAVAILABLE, 'flaky', { 'x-echo-fail-times': 1 }) })
  t.equal(r.status, 200)
  const spans = await exported(e.g, otlp, 3)
  const server = spans.find((s) => s.kind === KIND.server)!
  const clients = spans.filter((s) => s.kind === KIND.client).sort((a, b) => Number(a.attributes['figway.attempt']) - Number(b.attributes['figway.attempt']))
  t.equal(clients.length, 2)
  t.same(clients.map((c) => c.attributes['rpc.grpc.status_code']), [status.UNAVAILABLE, status.OK])
  t.same(clients.map((c) => c.status.code), [STATUS.error, STATUS.unset])
  t.equal(clients[0]!.attributes['error.type'], String(status.UNAVAILABLE))
  for (const c of clients) t.equal(c.parentSpanId, server.spanId)
  t.same(e.echo.calls.map((c) => traceparentOf(c.metadata)[2]), clients.map((c) => c.spanId))
})

t.test('not sampled: nothing exported, and the gRPC server still gets a traceparent (flag 00) in a new trace', async (t) => {
  const otlp = await startOtlpReceiver(t)
  const e = await echoGateway(t, { gatewayYaml: exportingTo(otlp, 0) })
  const r = await e.send('GET', '/v1/things/7', { headers: { tracestate: 'orphan=1' } })
  t.equal(r.status, 200)
  await e.g.gw.deps.tracing.flush()
  t.equal(otlp.spans.length, 0)
  const md = e.only().metadata
  const tp = traceparentOf(md)
  t.equal(tp[3], '00')
  t.notOk('tracestate' in md, 'a tracestate without a traceparent is not passed on')
})

t.test('exporter none: the gRPC server gets the caller\'s trace id with a fresh parent id', async (t) => {
  const e = await echoGateway(t)
  const traceId = '0af7651916cd43dd8448eb211c80319c'
  await e.send('GET', '/v1/things/7', { headers: { traceparent: `00-${traceId}-b7ad6b7169203331-01` } })
  const tp = traceparentOf(e.only().metadata)
  t.equal(tp[1], traceId)
  t.not(tp[2], 'b7ad6b7169203331')
  t.equal(tp[3], '01')
})
