/**
 * A real OTLP/HTTP trace receiver for tests: an HTTP server on 127.0.0.1:0 that accepts
 * `POST /v1/traces` in either encoding (application/x-protobuf, decoded with protobufjs from
 * the subset of the OTLP trace protos written below; application/json as the OTLP JSON
 * mapping), gzip or not, and keeps every span it received in a flat, test-friendly form.
 */
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { gunzipSync } from 'node:zlib'
import protobuf from 'protobufjs'

// The fields figway's spans use, from opentelemetry/proto/{collector/trace,trace,common,resource}/v1.
const OTLP_TRACE_PROTO = `
syntax = "proto3";
package otlp;
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
message Resource { repeated KeyValue attributes = 1; }
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; }
message InstrumentationScope { string name = 1; string version = 2; }
message Span {
  bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; bytes parent_span_id = 4;
  string name = 5; int32 kind = 6; fixed64 start_time_unix_nano = 7; fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9; repeated Event events = 11; Status status = 15; fixed32 flags = 16;
}
message Event { fixed64 time_unix_nano = 1; string name = 2; repeated KeyValue attributes = 3; }
message Status { string message = 2; int32 code = 3; }
message KeyValue { string key = 1; AnyValue value = 2; }
message AnyValue { oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4; } }
`
const ExportRequest = protobuf.parse(OTLP_TRACE_PROTO).root.lookupType('otlp.ExportTraceServiceRequest')

export type AttrValue = string | number | boolean
/** OTLP's span kinds (the API's SpanKind plus one). */
export const KIND = { internal: 1, server: 2, client: 3 } as const
/** OTLP status codes. */
export const STATUS = { unset: 0, ok: 1, error: 2 } as const

export interface ReceivedSpan {
  traceId: string
  spanId: string
  /** '' for a root span. */
  parentSpanId: string
  traceState: string
  name: string
  kind: number
  startNs: bigint
  endNs: bigint
  attributes: Record<string, AttrValue>
  events: Array<{ name: string, attributes: Record<string, AttrValue> }>
  status: { code: number, message: string }
  resource: Record<string, AttrValue>
  scope: string
}

export interface OtlpReceiver {
  readonly url: string
  readonly spans: ReceivedSpan[]
  /** Each request's path and content type, in order. */
  readonly requests: Array<{ path: string, contentType: string }>
  /** Waits up to `ms` until `n` spans arrived; returns them all. */
  waitForSpans (n: number, ms?: number): Promise<ReceivedSpan[]>
  close (): Promise<void>
}

interface Teardown { teardown: (fn: () => unknown) => void }

export async function startOtlpReceiver (t: Teardown): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = []
  const requests: Array<{ path: string, contentType: string }> = []
  const server = createServer((req, res) => {
    readAll(req).then((raw) => {
      const contentType = req.headers['content-type'] ?? ''
      requests.push({ path: req.url ?? '', contentType })
      const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw
      if (contentType.startsWith('application/json')) {
        spans.push(...fromJson(JSON.parse(body.toString()) as JsonRequest))
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
      } else {
        spans.push(...fromProto(ExportRequest.toObject(ExportRequest.decode(body), { longs: String, defaults: true }) as ProtoRequest))
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end()
      }
    }).catch((err: unknown) => {
      res.writeHead(400).end(String(err))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  const close = async (): Promise<void> => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  t.teardown(close)
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    requests,
    async waitForSpans (n, ms = 5_000) {
      const end = Date.now() + ms
      while (spans.length < n && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 10))
      return spans
    },
    close
  }
}

async function readAll (req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of req) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}

interface ProtoValue { stringValue?: string, boolValue?: boolean, intValue?: string, doubleValue?: number }
interface ProtoKv { key: string, value?: ProtoValue }
interface ProtoSpan {
  traceId: Uint8Array, spanId: Uint8Array, parentSpanId: Uint8Array, traceState: string, name: string, kind: number
  startTimeUnixNano: string, endTimeUnixNano: string, attributes: ProtoKv[], events: Array<{ name: string, attributes: ProtoKv[] }>
  status?: { code: number, message: string }
}
interface ProtoRequest { resourceSpans: Array<{ resource?: { attributes: ProtoKv[] }, scopeSpans: Array<{ scope?: { name: string }, spans: ProtoSpan[] }> }> }

function protoAttrs (kvs: ProtoKv[]): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = {}
  for (const kv of kvs) {
    const v = kv.value ?? {}
    out[kv.key] = v.stringValue ?? v.boolValue ?? (v.intValue !== undefined ? Number(v.intValue) : v.doubleValue ?? '')
  }
  return out
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

function fromProto (r: ProtoRequest): ReceivedSpan[] {
  const out: ReceivedSpan[] = []
  for (const rs of r.resourceSpans) {
    const resource = protoAttrs(rs.resource?.attributes ?? [])
    for (const ss of rs.scopeSpans) {
      for (const s of ss.spans) {
        out.push({
          traceId: hex(s.traceId),
          spanId: hex(s.spanId),
          parentSpanId: hex(s.parentSpanId),
          traceState: s.traceState,
          name: s.name,
          kind: s.kind,
          startNs: BigInt(s.startTimeUnixNano),
          endNs: BigInt(s.endTimeUnixNano),
          attributes: protoAttrs(s.attributes),
          events: s.events.map((e) => ({ name: e.name, attributes: protoAttrs(e.attributes) })),
          status: { code: s.status?.code ?? 0, message: s.status?.message ?? '' },
          resource,
          scope: ss.scope?.name ?? ''
        })
      }
    }
  }
  return out
}

interface JsonValue { stringValue?: string, boolValue?: boolean, intValue?: string | number, doubleValue?: number }
interface JsonKv { key: string, value?: JsonValue }
interface JsonSpan {
  traceId: string, spanId: string, parentSpanId?: string, traceState?: string, name: string, kind: number
  startTimeUnixNano: string | number, endTimeUnixNano: string | number, attributes?: JsonKv[]
  events?: Array<{ name: string, attributes?: JsonKv[] }>, status?: { code?: number, message?: string }
}
interface JsonRequest { resourceSpans: Array<{ resource?: { attributes?: JsonKv[] }, scopeSpans: Array<{ scope?: { name?: string }, spans: JsonSpan[] }> }> }

function jsonAttrs (kvs: JsonKv[] | undefined): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = {}
  for (const kv of kvs ?? []) {
    const v = kv.value ?? {}
    out[kv.key] = v.stringValue ?? v.boolValue ?? (v.intValue !== undefined ? Number(v.intValue) : v.doubleValue ?? '')
  }
  return out
}

function fromJson (r: JsonRequest): ReceivedSpan[] {
  const out: ReceivedSpan[] = []
  for (const rs of r.resourceSpans) {
    const resource = jsonAttrs(rs.resource?.attributes)
    for (const ss of rs.scopeSpans) {
      for (const s of ss.spans) {
        out.push({
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId ?? '',
          traceState: s.traceState ?? '',
          name: s.name,
          kind: s.kind,
          startNs: BigInt(s.startTimeUnixNano),
          endNs: BigInt(s.endTimeUnixNano),
          attributes: jsonAttrs(s.attributes),
          events: (s.events ?? []).map((e) => ({ name: e.name, attributes: jsonAttrs(e.attributes) })),
          status: { code: s.status?.code ?? 0, message: s.status?.message ?? '' },
          resource,
          scope: ss.scope?.name ?? ''
        })
      }
    }
  }
  return out
}
