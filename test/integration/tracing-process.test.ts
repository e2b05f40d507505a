/**
 * `figway serve` as a real process: tracing runs on @opentelemetry/sdk-node's NodeSDK (the
 * process has one gateway), spans reach an OTLP/HTTP receiver, the backend receives a
 * traceparent in the same trace, and SIGTERM flushes what is still batched (spec §8).
 */
import t from 'tap'
import { scriptedBackend, routeAllTo } from '../helpers/faults.ts'
import { req } from '../helpers/gateway.ts'
import { KIND, startOtlpReceiver } from '../helpers/otlp.ts'
import { spawnGateway } from '../helpers/process.ts'

t.test('a figway process exports its spans through the NodeSDK and flushes them on SIGTERM', async (t) => {
  const otlp = await startOtlpReceiver(t)
  const backend = await scriptedBackend(t, () => 200)
  // The default 5 s batch delay: the spans arrive in time only because shutdown flushes them.
  const p = await spawnGateway(t, routeAllTo(backend.url),
    `telemetry: { logLevel: info, tracing: { exporter: otlp, endpoint: "${otlp.url}", sampleRatio: 1 } }\nshutdown: { drainDelay: 0s, timeout: 5s }`)
  const started = await p.waitForLog((l) => l.msg === 'tracing: exporting spans over OTLP/HTTP')
  t.equal(started.sdk, 'NodeSDK', 'the process-wide SDK is @opentelemetry/sdk-node\'s')
  const r = await req(`${p.url}/orders/7`)
  t.equal(r.status, 200)
  const seen = backend.arrivals[0]?.headers.traceparent
  t.match(seen, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/, 'the backend got a sampled traceparent')
  p.child.kill('SIGTERM')
  t.same(await p.exited, { code: 0, signal: null })
  const spans = await otlp.waitForSpans(2, 3_000)
  const server = spans.find((s) => s.kind === KIND.server)
  const client = spans.find((s) => s.kind === KIND.client)
  t.equal(server?.name, 'GET all')
  t.equal(client?.parentSpanId, server?.spanId, 'the CLIENT span is the SERVER span\'s child')
  t.equal(client?.traceId, String(seen).split('-')[1], 'the backend\'s traceparent is in the exported trace')
  t.equal(String(seen).split('-')[2], client?.spanId, 'and names the CLIENT span as its parent')
})
