/**
 * A real gRPC backend for transcoding tests: a @grpc/grpc-js server on 127.0.0.1 serving
 * echo.v1.EchoService (test/fixtures/protos/echo/v1/echo.proto). It answers each call with
 * the request's own bytes, untouched, so what a client gets back through the gateway is
 * exactly what the backend received; it also decodes every request on its own (protobufjs,
 * not the gateway's codec) into `calls`, for tests to check what arrived.
 *
 * Request metadata steers it (through the gateway, send them as `grpc-metadata-NAME` headers):
 * - `x-echo-status: N`, `x-echo-message: text` — fail with status N;
 * - `x-echo-details: bad-request` — with it, a google.rpc.Status in `grpc-status-details-bin`
 *   holding a BadRequest and an ErrorInfo (BAD_REQUEST_DETAILS below, as JSON);
 * - `x-echo-fail-times: N` — fail only the first N calls of the method (with `x-echo-status`,
 *   default UNAVAILABLE), counted per `x-echo-fail-key`, then answer: for retry tests;
 * - `x-echo-delay-ms: N` — answer after N ms, or never if the call is cancelled first (a
 *   stream waits N ms before each message);
 * - `x-echo-count: N`, `x-echo-fail-after: K` (server streaming) — send the request back N
 *   times (default 3) with `seq` 1..N; failing (x-echo-status) instead of sending message
 *   K+1, or before the first one without x-echo-fail-after.
 * Every request metadata key `x-*` returns as response initial metadata `x-echo-<key>`;
 * every answer, success or error, ends with trailing metadata `x-trailer: yes`.
 */
import { readFileSync, readdirSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'
import {
  Metadata, Server, ServerCredentials, status,
  type sendUnaryData, type ServerDuplexStream, type ServerErrorResponse, type ServerUnaryCall, type ServerWritableStream,
  type ServiceDefinition, type UntypedServiceImplementation
} from '@grpc/grpc-js'
import protobuf from 'protobufjs'

export const FIXTURE_PROTOS = fileURLToPath(new URL('../fixtures/protos/', import.meta.url))
export const SHIPPED_PROTOS = fileURLToPath(new URL('../../routes/protos/', import.meta.url))
export const ECHO_PROTO = 'echo/v1/echo.proto'
export const ECHO_SERVICE = 'echo.v1.EchoService'

/** One call the server received. */
export interface EchoCall {
  /** The method's name, e.g. `GetThing`. */
  readonly method: string
  /**
   * The request decoded on its own: proto field names, 64-bit integers and enums as
   * strings, bytes base64, Any as `{ '@type', ... }`, fields at their default left out.
   * A client stream's messages are in `requests`; this is the first of them.
   */
  request: Record<string, unknown>
  readonly requests: Array<Record<string, unknown>>
  /** Request metadata; a key sent more than once maps to every value, binary keys base64. */
  readonly metadata: Record<string, string | string[]>
  /** Milliseconds left until the call's deadline when it arrived; Infinity without one. */
  readonly deadline: number
  /** Set when the call is cancelled (the client went away or the deadline passed). */
  cancelled: boolean
}

export interface GrpcEcho {
  readonly port: number
  /** `127.0.0.1:PORT`, for a backend's `grpc:`. */
  readonly target: string
  readonly calls: EchoCall[]
  readonly server: Server
  /** Stops the server at once, dropping calls in flight. Runs at the test's end anyway. */
  close (): Promise<void>
}

export interface GrpcEchoOptions {
  /** Listen on this port (to bring a backend back where it was); default any free one. */
  port?: number
}

interface Teardown { teardown: (fn: () => unknown) => void }

/** What every kind of server call offers. */
interface SurfaceCall {
  readonly metadata: Metadata
  getDeadline (): Date | number
  on (event: 'cancelled', listener: () => void): unknown
}

// The details `x-echo-details: bad-request` attaches, as fields of the proto messages.
const FIELD_VIOLATION = { field: 'id', description: 'must be a number' }
const ERROR_INFO = { reason: 'BAD_ID', domain: 'echo.test', metadata: { hint: 'use digits' } }

/** The details `x-echo-details: bad-request` attaches, as the gateway should render them. */
export const BAD_REQUEST_DETAILS = [
  { '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [FIELD_VIOLATION] },
  { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', ...ERROR_INFO }
]

// Both the fixture and the shipped google/* protos, and the google/protobuf files protobufjs
// carries (descriptor.proto, which google/api/annotations.proto imports, is not bundled).
const PROTOBUFJS_DIR = join(createRequire(import.meta.url).resolve('protobufjs/package.json'), '..')
const INCLUDE = [FIXTURE_PROTOS, SHIPPED_PROTOS, PROTOBUFJS_DIR]

let cachedRoot: protobuf.Root | undefined

/** The echo proto and google.rpc's status and details, loaded once with protobufjs. */
function root (): protobuf.Root {
  if (cachedRoot !== undefined) return cachedRoot
  const r = new protobuf.Root()
  r.resolvePath = (_origin, target) => {
    for (const dir of INCLUDE) {
      const p = join(dir, target)
      try {
        readFileSync(p)
        return p
      } catch { /* next dir */ }
    }
    return target
  }
  r.loadSync([ECHO_PROTO, 'google/rpc/status.proto', 'google/rpc/error_details.proto'], { keepCase: true })
  r.resolveAll()
  cachedRoot = r
  return r
}

const TO_OBJECT: protobuf.IConversionOptions = { longs: String, enums: String, bytes: String, oneofs: true, json: true }

function decode (type: protobuf.Type, bytes: Buffer): Record<string, unknown> {
  return type.toObject(type.decode(bytes), TO_OBJECT)
}

function plainMetadata (md: Metadata): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  for (const [key, values] of Object.entries(md.toJSON())) {
    const strings = values.map((v) => Buffer.isBuffer(v) ? v.toString('base64') : String(v))
    out[key] = strings.length === 1 ? strings[0]! : strings
  }
  return out
}

function first (md: Metadata, key: string): string | undefined {
  const v = md.get(key)[0]
  return v === undefined ? undefined : String(v)
}

function intOf (md: Metadata, key: string): number | undefined {
  const v = first(md, key)
  return v === undefined ? undefined : Number.parseInt(v, 10)
}

/** `x-*` request metadata back as `x-echo-*` initial metadata. */
function echoedMetadata (md: Metadata): Metadata {
  const out = new Metadata()
  for (const [key, values] of Object.entries(md.toJSON())) {
    if (!key.startsWith('x-') || key.endsWith('-bin')) continue
    for (const v of values) out.add(`x-echo-${key}`, String(v))
  }
  return out
}

function trailer (): Metadata {
  const md = new Metadata()
  md.set('x-trailer', 'yes')
  return md
}

function anyOf (typeName: string, value: Record<string, unknown>): { type_url: string, value: Uint8Array } {
  const type = root().lookupType(typeName)
  return { type_url: `type.googleapis.com/${typeName}`, value: type.encode(type.fromObject(value)).finish() }
}

/** The error a call fails with, per its metadata; `code` may come from the caller. */
function failure (md: Metadata, code: number): ServerErrorResponse {
  const message = first(md, 'x-echo-message') ?? `echo failed with status ${code}`
  const trailing = trailer()
  if (first(md, 'x-echo-details') === 'bad-request') {
    const Status = root().lookupType('google.rpc.Status')
    const details = [anyOf('google.rpc.BadRequest', { field_violations: [FIELD_VIOLATION] }), anyOf('google.rpc.ErrorInfo', ERROR_INFO)]
    trailing.set('grpc-status-details-bin', Buffer.from(Status.encode(Status.fromObject({ code, message, details })).finish()))
  }
  return Object.assign(new Error(message), { code, details: message, metadata: trailing })
}

/** What a unary method answers when it does not fail: the request itself, or a fitting reply. */
function reply (method: protobuf.Method, raw: Buffer, request: Record<string, unknown>): Buffer {
  const out = method.resolvedResponseType!
  if (out === method.resolvedRequestType) return raw
  if (out.fullName === '.google.protobuf.Empty') return Buffer.alloc(0)
  if (out.fullName === '.google.api.HttpBody') {
    const body = { content_type: 'text/plain; charset=utf-8', data: Buffer.from(`blob ${String(request.id ?? '')}`) }
    return Buffer.from(out.encode(out.fromObject(body)).finish())
  }
  throw new Error(`no reply for ${method.name}`)
}

/** Starts the echo server; it closes when the test ends. */
export async function startGrpcEcho (t: Teardown, opts: GrpcEchoOptions = {}): Promise<GrpcEcho> {
  const service = root().lookupService(ECHO_SERVICE)
  const calls: EchoCall[] = []
  const failures = new Map<string, number>()
  const identity = (b: Buffer): Buffer => b
  const definition: Record<string, ServiceDefinition[string]> = {}
  const handlers: UntypedServiceImplementation = {}

  // Whether this call fails, and with which status: x-echo-status alone fails every call,
  // with x-echo-fail-times only the first N of them (per method and x-echo-fail-key).
  const failureCode = (method: string, md: Metadata): number | undefined => {
    const code = intOf(md, 'x-echo-status')
    const times = intOf(md, 'x-echo-fail-times')
    if (times === undefined) return code
    const key = `${method} ${first(md, 'x-echo-fail-key') ?? ''}`
    const n = (failures.get(key) ?? 0) + 1
    failures.set(key, n)
    return n <= times ? code ?? status.UNAVAILABLE : undefined
  }

  // grpc-js emits 'cancelled' whenever the stream closes, also after the answer went out:
  // only a close before `done()` is a cancellation.
  const record = (method: string, call: SurfaceCall, requests: Array<Record<string, unknown>>): { entry: EchoCall, done: () => void } => {
    const d = call.getDeadline()
    const at = d instanceof Date ? d.getTime() : d
    const entry: EchoCall = { method, request: requests[0] ?? {}, requests, metadata: plainMetadata(call.metadata), deadline: Number.isFinite(at) ? at - Date.now() : Infinity, cancelled: false }
    calls.push(entry)
    let finished = false
    call.on('cancelled', () => { if (!finished) entry.cancelled = true })
    return { entry, done: () => { finished = true } }
  }

  for (const m of service.methodsArray) {
    m.resolve()
    const input = m.resolvedRequestType!
    const output = m.resolvedResponseType!
    definition[m.name] = {
      path: `/${ECHO_SERVICE}/${m.name}`,
      requestStream: m.requestStream === true,
      responseStream: m.responseStream === true,
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity
    }
    if (m.requestStream !== true && m.responseStream !== true) {
      handlers[m.name] = (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
        const raw = call.request
        const { entry, done } = record(m.name, call, [decode(input, raw)])
        call.sendMetadata(echoedMetadata(call.metadata))
        const answer = (): void => {
          if (entry.cancelled) return
          done()
          const code = failureCode(m.name, call.metadata)
          if (code !== undefined) callback(failure(call.metadata, code))
          else callback(null, reply(m, raw, entry.request), trailer())
        }
        const delay = intOf(call.metadata, 'x-echo-delay-ms') ?? 0
        if (delay <= 0) { answer(); return }
        const timer = setTimeout(answer, delay)
        call.on('cancelled', () => clearTimeout(timer))
      }
    } else if (m.requestStream !== true) {
      handlers[m.name] = (call: ServerWritableStream<Buffer, Buffer>) => {
        const raw = call.request
        const { entry, done } = record(m.name, call, [decode(input, raw)])
        call.sendMetadata(echoedMetadata(call.metadata))
        const code = failureCode(m.name, call.metadata)
        const count = intOf(call.metadata, 'x-echo-count') ?? 3
        // Without x-echo-fail-after a failing stream fails before its first message.
        const failAfter = code === undefined ? Infinity : intOf(call.metadata, 'x-echo-fail-after') ?? 0
        const delay = intOf(call.metadata, 'x-echo-delay-ms') ?? 0
        // The messages are the request with `seq` set (StreamThings returns its request type).
        const message = input.decode(raw) as protobuf.Message & { seq?: number }
        let timer: NodeJS.Timeout | undefined
        call.on('cancelled', () => clearTimeout(timer))
        // Message `seq`, or the end; each one after `delay` when there is one.
        const send = (seq: number): void => {
          if (entry.cancelled) return
          if (seq > Math.min(count, failAfter)) {
            done()
            if (failAfter <= count) call.emit('error', failure(call.metadata, code!))
            else call.end(trailer())
            return
          }
          message.seq = seq
          call.write(Buffer.from(output.encode(message).finish()))
          next(seq + 1)
        }
        const next = (seq: number): void => {
          if (delay > 0) timer = setTimeout(() => send(seq), delay)
          else send(seq)
        }
        next(1)
      }
    } else {
      // Client and bidirectional streams: never reached through the gateway (such methods
      // are not bound), served anyway so the service is whole. Each message is echoed
      // (bidi), or the last one is the answer (client streaming).
      handlers[m.name] = (call: ServerDuplexStream<Buffer, Buffer>, callback?: sendUnaryData<Buffer>) => {
        const requests: Array<Record<string, unknown>> = []
        const { entry, done } = record(m.name, call, requests)
        let last: Buffer = Buffer.alloc(0)
        call.on('data', (b: Buffer) => {
          requests.push(decode(input, b))
          entry.request = requests[0]!
          last = b
          if (m.responseStream === true) call.write(b)
        })
        call.on('end', () => {
          done()
          if (callback === undefined) call.end(trailer())
          else callback(null, last, trailer())
        })
      }
    }
  }

  const server = new Server()
  server.addService(definition, handlers)
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`127.0.0.1:${opts.port ?? 0}`, ServerCredentials.createInsecure(), (err, p) => err === null ? resolve(p) : reject(err))
  })
  let closed = false
  const close = async (): Promise<void> => {
    if (closed) return
    closed = true
    server.forceShutdown()
  }
  t.teardown(close)
  return { port, target: `127.0.0.1:${port}`, calls, server, close }
}

/**
 * Every .proto file a gateway serving the echo service needs, keyed as startGateway takes
 * route files (`protos/echo/v1/echo.proto`, `protos/google/api/http.proto`, ...): the echo
 * proto and the google/api and google/rpc files shipped in routes/protos/.
 */
export function echoProtoFiles (): Record<string, string> {
  const out: Record<string, string> = {}
  out[`protos/${ECHO_PROTO}`] = readFileSync(join(FIXTURE_PROTOS, ECHO_PROTO), 'utf8')
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name)
      if (e.isDirectory()) walk(p)
      else if (e.name.endsWith('.proto')) out[`protos/${relative(SHIPPED_PROTOS, p).split('\\').join('/')}`] = readFileSync(p, 'utf8')
    }
  }
  walk(join(SHIPPED_PROTOS, 'google'))
  return out
}

export interface EchoRoutesOptions {
  /** Extra keys of the `echo` backend, one per line: `omitDefaults: true`, `timeout: 300ms`. */
  backend?: string[]
  /** More backends: name → YAML flow map, e.g. `{ url: "http://127.0.0.1:8080" }`. */
  backends?: Record<string, string>
  /** The `routes:` list, one line each; by default route `api` takes every path to `echo`. */
  routes?: string[]
}

/** The default route list: `api`, every path, to the echo backend. */
export const ALL_TO_ECHO = ['  - name: api', '    match: { path: /** }', '    to: echo']

/**
 * Route files for startGateway: `echo.yaml`, with backend `echo` (gRPC, at `echo.target`, the
 * echo proto and service) and the routes, plus every proto it needs (echoProtoFiles).
 */
export function echoRoutes (echo: { readonly target: string }, opts: EchoRoutesOptions = {}): Record<string, string> {
  const lines = [
    'backends:',
    '  echo:',
    `    grpc: ${echo.target}`,
    `    protos: [protos/${ECHO_PROTO}]`,
    `    services: [${ECHO_SERVICE}]`,
    ...(opts.backend ?? []).map((l) => `    ${l}`),
    ...Object.entries(opts.backends ?? {}).map(([name, yaml]) => `  ${name}: ${yaml}`),
    'routes:',
    ...(opts.routes ?? ALL_TO_ECHO),
    ''
  ]
  return { 'echo.yaml': lines.join('\n'), ...echoProtoFiles() }
}
