/**
 * Traces (spec §9): a SERVER span per request, a CLIENT span per upstream attempt, and W3C
 * trace context (`traceparent`, `tracestate`) sent to every backend whether the request is
 * sampled or not. A request without a usable `traceparent` starts a trace, so every access
 * line and every problem+json body names one.
 *
 * Two modes, fixed at start (tracing-config.ts decides which):
 * - exporting: parent-based ratio sampling, batched OTLP/HTTP export. `figway serve` (one
 *   gateway per process) starts @opentelemetry/sdk-node's NodeSDK with figway's sampler,
 *   ids and span processor, and takes its tracer from the global API. A gateway embedded
 *   beside others in one process (tests, embedding) gets a TracerProvider of its own that is
 *   not registered globally, so gateways never share or tear down each other's. Either way
 *   no auto-instrumentation runs: the pipeline creates its spans itself. The
 *   sampling decision is taken before the SDK is called, so only sampled requests create
 *   SDK objects; the others cost what propagation alone costs.
 * - propagating only (no endpoint, `exporter: none`): no SDK objects at all. Ids come from a
 *   pooled random buffer; each attempt gets a fresh parent id in the request's trace.
 *
 * The pipeline calls startServer (accept), startClient and AttemptSpan.end (per attempt),
 * endServer (record, exactly once).
 *
 * The exporting mode's packages (NodeSDK, the OTLP exporters, resources) are loaded only
 * when it is configured (loadExportSdk): NodeSDK's dependency tree alone adds tens of MB of
 * resident memory to a gateway that only propagates.
 */
import { randomFillSync } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { createTraceState, ROOT_CONTEXT, SamplingDecision, SpanKind, SpanStatusCode, trace, type Context, type Span, type Tracer } from '@opentelemetry/api'
import { AlwaysOffSampler, AlwaysOnSampler, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler, TracerProvider, type IdGenerator, type Sampler, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace'
import type { Logger } from './logger.ts'
import type { ExportSettings, SamplerKind, TracingSettings } from './tracing-config.ts'

/** What exporting needs besides @opentelemetry/sdk-trace; `NodeSDK` only for `figway serve`. */
export interface ExportSdk {
  readonly OtlpJsonExporter: typeof import('@opentelemetry/exporter-trace-otlp-http').OTLPTraceExporter
  readonly OtlpProtoExporter: typeof import('@opentelemetry/exporter-trace-otlp-proto').OTLPTraceExporter
  readonly defaultResource: typeof import('@opentelemetry/resources').defaultResource
  readonly resourceFromAttributes: typeof import('@opentelemetry/resources').resourceFromAttributes
  readonly NodeSDK: typeof import('@opentelemetry/sdk-node').NodeSDK | null
}

/** Loads the exporting mode's packages (null when the settings do not export). */
export async function loadExportSdk (settings: TracingSettings, processSdk: boolean): Promise<ExportSdk | null> {
  if (settings.export === null) return null
  const [json, proto, resources, node] = await Promise.all([
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/exporter-trace-otlp-proto'),
    import('@opentelemetry/resources'),
    processSdk ? import('@opentelemetry/sdk-node') : null
  ])
  return {
    OtlpJsonExporter: json.OTLPTraceExporter,
    OtlpProtoExporter: proto.OTLPTraceExporter,
    defaultResource: resources.defaultResource,
    resourceFromAttributes: resources.resourceFromAttributes,
    NodeSDK: node === null ? null : node.NodeSDK
  }
}

/** What tracing reads and writes on a request's exchange (pipeline/exchange.ts has these fields). */
export interface TracedExchange {
  readonly req: IncomingMessage
  readonly method: string
  readonly path: string
  readonly query: string
  readonly upstreamPath: string
  readonly reqId: string
  readonly route: { readonly name: string, readonly pattern: { readonly source: string } } | undefined
  readonly backend: { readonly name: string } | undefined
  readonly status: number
  readonly code: string
  readonly attempts: number
  readonly fallback: string
  traceId: string
  /** W3C trace flags; bit 0 is "sampled". */
  traceFlags: number
  /** The client's tracestate, passed on unchanged when its traceparent was usable; else ''. */
  tracestate: string
  /** The SERVER span when exporting; null when propagating only. */
  span: Span | null
  /** Context holding `span`, made when the first CLIENT span needs a parent. */
  spanContext: Context | null
}

/** The backend an attempt goes to. */
export interface TracedBackend {
  readonly name: string
  /** `http://host:port`, or `grpc://host:port` for gRPC. */
  readonly origin: string
}

/** One upstream attempt's span. */
export interface AttemptSpan {
  /** For the attempt's `traceparent` header or metadata entry. */
  readonly traceparent: string
  /**
   * Ends the span once, when nothing more of the attempt is in flight. `status`: the HTTP
   * status received (0 if none), or the gRPC status code for an RPC.
   */
  end (status: number, err?: Error | null): void
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/
const ZERO_TRACE_ID = '00000000000000000000000000000000'
const ZERO_SPAN_ID = '0000000000000000'

export interface ParsedTraceparent { traceId: string, spanId: string, traceFlags: number }

/**
 * A W3C Trace Context `traceparent` (https://www.w3.org/TR/trace-context/#traceparent-header),
 * or null when it is absent or unusable: version ff, all-zero ids, version 00 with extra
 * fields, or repeated headers (which Node joins with ", ").
 */
export function parseTraceparent (value: string | string[] | undefined): ParsedTraceparent | null {
  if (typeof value !== 'string') return null
  const m = TRACEPARENT.exec(value)
  if (m === null) return null
  const version = m[1]!
  if (version === 'ff' || (version === '00' && m[5] !== undefined)) return null
  const traceId = m[2]!
  const spanId = m[3]!
  if (traceId === ZERO_TRACE_ID || spanId === ZERO_SPAN_ID) return null
  return { traceId, spanId, traceFlags: parseInt(m[4]!, 16) }
}

export function formatTraceparent (traceId: string, spanId: string, traceFlags: number): string {
  return '00-' + traceId + '-' + spanId + ((traceFlags & 1) === 1 ? '-01' : '-00')
}

// Ids: crypto-quality random bytes, drawn from a pool refilled 4 KiB at a time, so an id
// costs a hex conversion and not a system call.
const POOL_BYTES = 4096
const pool = Buffer.allocUnsafe(POOL_BYTES)
let poolAt = POOL_BYTES

function randomHex (bytes: number, zero: string): string {
  for (;;) {
    if (poolAt + bytes > POOL_BYTES) { randomFillSync(pool); poolAt = 0 }
    const id = pool.toString('hex', poolAt, poolAt + bytes)
    poolAt += bytes
    if (id !== zero) return id
  }
}

export function newTraceId (): string { return randomHex(16, ZERO_TRACE_ID) }
export function newSpanId (): string { return randomHex(8, ZERO_SPAN_ID) }

/** The known methods of the HTTP semantic conventions; others are reported as `_OTHER`. */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', 'QUERY'])

const SERVER = { kind: SpanKind.SERVER }
const NO_ATTRIBUTES = Object.freeze({})
const CLIENT = { kind: SpanKind.CLIENT }

class PropagatedOnly implements AttemptSpan {
  readonly traceparent: string
  constructor (traceparent: string) { this.traceparent = traceparent }
  end (): void {}
}

class RecordedAttempt implements AttemptSpan {
  readonly traceparent: string
  readonly #span: Span
  readonly #rpc: boolean
  #ended = false

  constructor (span: Span, rpc: boolean) {
    const sc = span.spanContext()
    this.traceparent = formatTraceparent(sc.traceId, sc.spanId, sc.traceFlags)
    this.#span = span
    this.#rpc = rpc
  }

  end (status: number, err?: Error | null): void {
    if (this.#ended) return
    this.#ended = true
    const span = this.#span
    if (this.#rpc) {
      span.setAttribute('rpc.grpc.status_code', status)
      // Every non-OK status is an error on the client side (RPC semantic conventions).
      if (status !== 0 || (err !== undefined && err !== null)) fail(span, String(status), err)
    } else {
      if (status > 0) span.setAttribute('http.response.status_code', status)
      if (status >= 400 || (err !== undefined && err !== null)) fail(span, status >= 400 ? String(status) : errorType(err!), err)
    }
    span.end()
  }
}

function errorType (err: Error): string {
  const code = (err as { code?: unknown }).code
  return typeof code === 'string' ? code : err.name
}

function fail (span: Span, type: string, err: Error | null | undefined): void {
  span.setAttribute('error.type', type)
  span.setStatus({ code: SpanStatusCode.ERROR, message: err?.message })
  if (err !== undefined && err !== null) span.recordException(err)
}

export class Tracing {
  /** True when spans are recorded and exported. */
  readonly exporting: boolean
  /** What flushes and shuts down: this gateway's provider, or the process's NodeSDK. */
  readonly #provider: { forceFlush: () => Promise<void>, shutdown: () => Promise<void> } | null
  readonly #tracer: Tracer | null
  /** Decides for a trace without a parent (or for any trace when not parent-based). */
  readonly #root: Sampler
  /** A caller's sampled flag decides for its trace (the parentbased_* samplers). */
  readonly #parentBased: boolean
  /** The trace id the SDK is to use for the span being started: the one already sampled. */
  #nextTraceId = ''
  readonly #hosts = new WeakMap<TracedBackend, { address: string, port: number }>()

  /**
   * `sdk`: from loadExportSdk (null when not exporting); with its NodeSDK this gateway is the
   * process's only one (`figway serve`) and starts NodeSDK, global.
   */
  constructor (settings: TracingSettings, logger: Logger, sdk: ExportSdk | null = null) {
    for (const w of settings.warnings) logger.warn({ tracing: true }, w)
    const s = settings.sampler
    this.#parentBased = s.startsWith('parentbased_')
    this.#root = makeSampler(this.#parentBased ? s.slice('parentbased_'.length) as SamplerKind : s, settings.ratio)
    const ex = settings.export
    if (ex === null || sdk === null) {
      this.exporting = false
      this.#provider = null
      this.#tracer = null
      return
    }
    this.exporting = true
    // The same decision as #sampled() makes first; the SDK only sees sampled traces.
    const sampler = makeSampler(s, settings.ratio)
    const resource = sdk.defaultResource().merge(sdk.resourceFromAttributes(settings.resource))
    const idGenerator: IdGenerator = {
      generateTraceId: () => {
        const id = this.#nextTraceId
        if (id === '') return newTraceId()
        this.#nextTraceId = ''
        return id
      },
      generateSpanId: newSpanId
    }
    const processor: SpanProcessor = new BatchSpanProcessor({
      exporter: new LoggedExporter(makeExporter(sdk, ex), logger, ex.url),
      scheduledDelayMillis: ex.delayMs,
      exportTimeoutMillis: ex.batchTimeoutMs,
      maxQueueSize: ex.maxQueueSize,
      maxExportBatchSize: ex.maxBatchSize
    })
    const processSdk = sdk.NodeSDK !== null
    if (sdk.NodeSDK !== null) {
      // Only traces: no instrumentations, resource detectors, log or metric pipelines (the
      // metrics are prom-client's on the ops port), no global propagator (figway writes its
      // traceparent itself).
      const nodeSdk = new sdk.NodeSDK({ sampler, resource, idGenerator, spanProcessors: [processor], instrumentations: [], autoDetectResources: false, resourceDetectors: [], textMapPropagator: null, logRecordProcessors: [], metricReaders: [] })
      nodeSdk.start()
      this.#provider = { forceFlush: async () => await processor.forceFlush(), shutdown: async () => await nodeSdk.shutdown() }
      this.#tracer = trace.getTracer('figway')
    } else {
      const provider = new TracerProvider({ sampler, resource, idGenerator, spanProcessors: [processor] })
      this.#provider = provider
      this.#tracer = provider.getTracer('figway')
    }
    logger.info({ endpoint: ex.url, protocol: ex.protocol, sampler: s, ratio: settings.ratio, sdk: processSdk ? 'NodeSDK' : 'TracerProvider' }, 'tracing: exporting spans over OTLP/HTTP')
  }

  /** Stage accept: continue the client's trace or start one; open the SERVER span. */
  startServer (ex: TracedExchange): void {
    const h = ex.req.headers
    const parent = parseTraceparent(h.traceparent)
    const ts = parent === null ? undefined : h.tracestate
    const tracestate = ts === undefined ? '' : typeof ts === 'string' ? ts : ts.join(',')
    ex.tracestate = tracestate
    const traceId = parent === null ? newTraceId() : parent.traceId
    ex.traceId = traceId
    const tracer = this.#tracer
    if (tracer === null) {
      // Nothing recorded here: a caller's decision passes on as it came; a new trace gets the
      // configured sampler's, so backends that sample parent-based still see traces.
      ex.traceFlags = parent !== null ? parent.traceFlags : this.#sampled(null, traceId) ? 1 : 0
      return
    }
    // Decided before any SDK object exists: an unsampled request (most of them, at the
    // default ratio) costs what propagation alone costs.
    if (!this.#sampled(parent, traceId)) {
      ex.traceFlags = 0
      return
    }
    let ctx = ROOT_CONTEXT
    if (parent !== null) ctx = trace.setSpanContext(ROOT_CONTEXT, { ...parent, isRemote: true, traceState: tracestate === '' ? undefined : createTraceState(tracestate) })
    else this.#nextTraceId = traceId
    const span = tracer.startSpan(ex.method, SERVER, ctx)
    this.#nextTraceId = ''
    ex.span = span
    ex.traceFlags = span.spanContext().traceFlags
  }

  /** The sampler's decision (ParentBased semantics: a remote parent's flag decides). */
  #sampled (parent: ParsedTraceparent | null, traceId: string): boolean {
    if (parent !== null && this.#parentBased) return (parent.traceFlags & 1) === 1
    return this.#root.shouldSample(ROOT_CONTEXT, traceId, '', SpanKind.SERVER, NO_ATTRIBUTES, []).decision === SamplingDecision.RECORD_AND_SAMPLED
  }

  /**
   * Stage forward, per attempt: a CLIENT span under the SERVER span when it is recorded,
   * else only a fresh parent id in the same trace for the backend's traceparent.
   * `attempt` is the attempt's number within the request, from 1 (fallback attempts included);
   * `rpc` the gRPC method's full name, `pkg.Service/Method`, for a gRPC backend.
   */
  startClient (ex: TracedExchange, backend: TracedBackend, attempt: number, rpc: string | null = null): AttemptSpan {
    const server = ex.span
    if (server === null || !server.isRecording()) return new PropagatedOnly(formatTraceparent(ex.traceId, newSpanId(), ex.traceFlags))
    const ctx = ex.spanContext ??= trace.setSpan(ROOT_CONTEXT, server)
    const span = this.#tracer!.startSpan(rpc ?? spanMethod(ex.method), CLIENT, ctx)
    const host = this.#host(backend)
    span.setAttribute('server.address', host.address)
    if (host.port > 0) span.setAttribute('server.port', host.port)
    if (rpc === null) {
      setMethod(span, ex.method)
      span.setAttribute('url.full', backend.origin + ex.upstreamPath + ex.query)
      if (attempt > 1) span.setAttribute('http.request.resend_count', attempt - 1)
    } else {
      const slash = rpc.lastIndexOf('/')
      span.setAttribute('rpc.system', 'grpc')
      span.setAttribute('rpc.service', rpc.slice(0, slash))
      span.setAttribute('rpc.method', rpc.slice(slash + 1))
    }
    span.setAttribute('figway.backend', backend.name)
    span.setAttribute('figway.attempt', attempt)
    return new RecordedAttempt(span, rpc !== null)
  }

  /** Stage record: names the SERVER span after the route and ends it. */
  endServer (ex: TracedExchange): void {
    const span = ex.span
    if (span === null) return
    if (span.isRecording()) {
      const route = ex.route
      const req = ex.req
      span.updateName(route === undefined ? spanMethod(ex.method) : spanMethod(ex.method) + ' ' + route.name)
      setMethod(span, ex.method)
      const url = req.url ?? '/'
      const q = url.indexOf('?')
      span.setAttribute('url.path', ex.path !== '' ? ex.path : q < 0 ? url : url.slice(0, q))
      span.setAttribute('url.scheme', (req.socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http')
      span.setAttribute('network.protocol.version', req.httpVersion)
      const peer = req.socket.remoteAddress
      if (peer !== undefined) span.setAttribute('network.peer.address', peer)
      const host = req.headers.host
      if (host !== undefined) span.setAttribute('server.address', host)
      const ua = req.headers['user-agent']
      if (ua !== undefined) span.setAttribute('user_agent.original', ua)
      if (ex.status > 0) span.setAttribute('http.response.status_code', ex.status)
      if (route !== undefined) {
        span.setAttribute('http.route', route.pattern.source)
        span.setAttribute('figway.route', route.name)
      }
      if (ex.backend !== undefined) span.setAttribute('figway.backend', ex.backend.name)
      span.setAttribute('figway.request_id', ex.reqId)
      span.setAttribute('figway.attempts', ex.attempts)
      if (ex.fallback !== '') span.setAttribute('figway.fallback', ex.fallback)
      if (ex.code !== '') span.setAttribute('figway.code', ex.code)
      // Server side, only 5xx are errors (HTTP semantic conventions); so is a response cut
      // after it started because the backend failed.
      if (ex.status >= 500 || ex.code.startsWith('upstream_')) fail(span, ex.code !== '' ? ex.code : String(ex.status), null)
    }
    span.end()
  }

  /** Exports what is buffered (tests, and before shutdown). */
  async flush (): Promise<void> {
    await this.#provider?.forceFlush()
  }

  /** Spec §8 "telemetry flushes": exports what is buffered, then stops; bounded by `timeoutMs`. */
  async shutdown (timeoutMs: number): Promise<void> {
    const p = this.#provider
    if (p === null) return
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      p.shutdown().catch(() => {}),
      new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs) })
    ])
    clearTimeout(timer)
  }

  #host (b: TracedBackend): { address: string, port: number } {
    let h = this.#hosts.get(b)
    if (h === undefined) {
      const u = new URL(b.origin)
      const port = u.port !== '' ? Number(u.port) : u.protocol === 'https:' ? 443 : u.protocol === 'http:' ? 80 : 0
      h = { address: u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname, port }
      this.#hosts.set(b, h)
    }
    return h
  }
}

/** The method part of a span name: `HTTP` for methods outside the known set. */
function spanMethod (method: string): string {
  return KNOWN_METHODS.has(method) ? method : 'HTTP'
}

function setMethod (span: Span, method: string): void {
  if (KNOWN_METHODS.has(method)) {
    span.setAttribute('http.request.method', method)
  } else {
    span.setAttribute('http.request.method', '_OTHER')
    span.setAttribute('http.request.method_original', method)
  }
}

function makeSampler (kind: SamplerKind, ratio: number): Sampler {
  switch (kind) {
    case 'always_on': return new AlwaysOnSampler()
    case 'always_off': return new AlwaysOffSampler()
    case 'traceidratio': return new TraceIdRatioBasedSampler(ratio)
    case 'parentbased_always_on': return new ParentBasedSampler({ root: new AlwaysOnSampler() })
    case 'parentbased_always_off': return new ParentBasedSampler({ root: new AlwaysOffSampler() })
    case 'parentbased_traceidratio': return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) })
  }
}

type OtlpOptions = NonNullable<ConstructorParameters<ExportSdk['OtlpProtoExporter']>[0]>

function makeExporter (sdk: ExportSdk, s: ExportSettings): SpanExporter {
  const opts: OtlpOptions = {
    url: s.url,
    headers: { ...s.headers },
    timeoutMillis: s.timeoutMs,
    compression: s.compression as OtlpOptions['compression']
  }
  return s.protocol === 'http/json' ? new sdk.OtlpJsonExporter(opts) : new sdk.OtlpProtoExporter(opts)
}

/** Failed exports as warning lines, at most one a minute (the SDK itself only tells its diag logger). */
const EXPORT_WARN_INTERVAL_MS = 60_000

class LoggedExporter implements SpanExporter {
  readonly #inner: SpanExporter
  readonly #logger: Logger
  readonly #url: string
  #lastWarn = -Infinity
  #failed = 0

  constructor (inner: SpanExporter, logger: Logger, url: string) {
    this.#inner = inner
    this.#logger = logger
    this.#url = url
  }

  export (...[spans, done]: Parameters<SpanExporter['export']>): void {
    this.#inner.export(spans, (result) => {
      // ExportResultCode.SUCCESS is 0.
      if (result.code !== 0) {
        this.#failed += spans.length
        const now = performance.now()
        if (now - this.#lastWarn >= EXPORT_WARN_INTERVAL_MS) {
          this.#lastWarn = now
          this.#logger.warn({ endpoint: this.#url, spansLost: this.#failed, err: result.error }, 'tracing: span export failed')
          this.#failed = 0
        }
      }
      done(result)
    })
  }

  async shutdown (): Promise<void> { await this.#inner.shutdown() }
  async forceFlush (): Promise<void> { await this.#inner.forceFlush?.() }
}
