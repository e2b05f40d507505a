import t from 'tap'
import { loadGatewayConfig } from '../../../src/config/load.ts'
import { resolveTracing } from '../../../src/telemetry/tracing-config.ts'
import { gatewayFile, gatewayIssues } from '../config-tree.ts'

const telemetry = (tracing: { exporter?: 'none' | 'otlp', endpoint?: string, sampleRatio?: number } = {}): Parameters<typeof resolveTracing>[0] => ({
  serviceName: 'figway',
  logLevel: 'info',
  tracing: { exporter: tracing.exporter ?? 'otlp', endpoint: tracing.endpoint ?? '', sampleRatio: tracing.sampleRatio ?? 0.05 }
})

t.test('the defaults export nothing: exporter otlp without an endpoint only propagates', async (t) => {
  const s = resolveTracing(telemetry(), {})
  t.equal(s.export, null)
  t.equal(s.sampler, 'parentbased_traceidratio')
  t.equal(s.ratio, 0.05)
  t.same(s.resource, { 'service.name': 'figway' })
  t.same(s.warnings, [])
})

t.test('a file endpoint without a path gets /v1/traces; one with a path is used as written', async (t) => {
  t.equal(resolveTracing(telemetry({ endpoint: 'http://collector:4318' }), {}).export?.url, 'http://collector:4318/v1/traces')
  t.equal(resolveTracing(telemetry({ endpoint: 'http://collector:4318/' }), {}).export?.url, 'http://collector:4318/v1/traces')
  t.equal(resolveTracing(telemetry({ endpoint: 'https://otlp.example.com/custom/traces' }), {}).export?.url, 'https://otlp.example.com/custom/traces')
})

t.test('exporter none in the file, or in OTEL_TRACES_EXPORTER, or OTEL_SDK_DISABLED, turns export off', async (t) => {
  t.equal(resolveTracing(telemetry({ exporter: 'none', endpoint: 'http://c:4318' }), {}).export, null)
  t.equal(resolveTracing(telemetry({ endpoint: 'http://c:4318' }), { OTEL_TRACES_EXPORTER: 'none' }).export, null)
  t.equal(resolveTracing(telemetry({ endpoint: 'http://c:4318' }), { OTEL_SDK_DISABLED: 'true' }).export, null)
  t.not(resolveTracing(telemetry({ exporter: 'none', endpoint: 'http://c:4318' }), { OTEL_TRACES_EXPORTER: 'otlp' }).export, null, 'the environment wins over the file')
})

t.test('endpoint variables: the traces one as written, the base one plus /v1/traces, both over the file', async (t) => {
  const file = telemetry({ endpoint: 'http://file:4318' })
  t.equal(resolveTracing(file, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://base:4318' }).export?.url, 'http://base:4318/v1/traces')
  t.equal(resolveTracing(file, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://base:4318/prefix/' }).export?.url, 'http://base:4318/prefix/v1/traces')
  t.equal(resolveTracing(file, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://base:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://traces:4318/x' }).export?.url, 'http://traces:4318/x')
  t.equal(resolveTracing(telemetry(), { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://base:4318' }).export?.url, 'http://base:4318/v1/traces', 'no file endpoint needed')
})

t.test('sampler and ratio from OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG', async (t) => {
  const s = resolveTracing(telemetry({ sampleRatio: 0.5 }), { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' })
  t.equal(s.sampler, 'traceidratio')
  t.equal(s.ratio, 0.25)
  t.equal(resolveTracing(telemetry({ sampleRatio: 0.5 }), {}).ratio, 0.5, 'else the file')
})

t.test('export settings from OTEL_EXPORTER_OTLP_* and OTEL_BSP_*, the signal-specific ones first', async (t) => {
  const s = resolveTracing(telemetry({ endpoint: 'http://c:4318' }), {
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20abc,x-tenant=a',
    OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-tenant=b',
    OTEL_EXPORTER_OTLP_TIMEOUT: '2000',
    OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: 'gzip',
    OTEL_BSP_SCHEDULE_DELAY: '100',
    OTEL_BSP_EXPORT_TIMEOUT: '3000',
    OTEL_BSP_MAX_QUEUE_SIZE: '100',
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '500'
  })
  t.same(s.export, {
    url: 'http://c:4318/v1/traces',
    protocol: 'http/json',
    headers: { authorization: 'Bearer abc', 'x-tenant': 'b' },
    timeoutMs: 2000,
    compression: 'gzip',
    delayMs: 100,
    batchTimeoutMs: 3000,
    maxQueueSize: 100,
    maxBatchSize: 100
  }, 'a batch is never larger than the queue')
  t.same(s.warnings, [])
})

t.test('OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES name the resource', async (t) => {
  const s = resolveTracing(telemetry(), { OTEL_SERVICE_NAME: 'edge', OTEL_RESOURCE_ATTRIBUTES: 'service.name=ignored,k8s.namespace.name=shop,note=a%2Cb' })
  t.same(s.resource, { 'service.name': 'edge', 'k8s.namespace.name': 'shop', note: 'a,b' })
})

t.test('values that cannot be used are warnings naming the variable, never their secrets, and the defaults stay', async (t) => {
  const s = resolveTracing(telemetry({ endpoint: 'http://c:4318' }), {
    OTEL_TRACES_SAMPLER: 'sometimes',
    OTEL_TRACES_SAMPLER_ARG: '2',
    OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
    OTEL_EXPORTER_OTLP_HEADERS: 'Bearer secret-token',
    OTEL_BSP_SCHEDULE_DELAY: 'soon',
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'collector:4318'
  })
  t.equal(s.sampler, 'parentbased_traceidratio')
  t.equal(s.ratio, 0.05)
  t.equal(s.export?.protocol, 'http/protobuf')
  t.equal(s.export?.delayMs, 5_000)
  t.equal(s.export?.url, 'http://c:4318/v1/traces', 'an unusable endpoint variable falls back to the file')
  t.equal(s.warnings.length, 6)
  t.match(s.warnings.join('\n'), /OTEL_TRACES_SAMPLER=sometimes/)
  t.notMatch(s.warnings.join('\n'), /secret-token/)
})

t.test('gateway.yaml: an endpoint that is not an http(s) URL is refused at load, with file and line', async (t) => {
  const issues = gatewayIssues(gatewayFile(t, 'telemetry:\n  tracing: { endpoint: "collector:4318" }\n'))
  t.same(issues.map((i) => [i.line, i.path]), [[2, 'telemetry.tracing.endpoint']])
  t.match(issues[0]!.message, /http:\/\/ or https:\/\/ URL/)
  const ok = loadGatewayConfig(gatewayFile(t, 'telemetry:\n  tracing: { endpoint: "http://otel-collector.observability:4318" }\n'), {})
  t.equal(ok.telemetry.tracing.endpoint, 'http://otel-collector.observability:4318')
})
