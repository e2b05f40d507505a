/**
 * A gRPC backend compiled for transcoding (spec §2.6), once per (re)load: its protos loaded,
 * each bound method's `google.api.http` rules turned into calls whose field paths are
 * resolved against the message descriptors, so a request only looks things up.
 */
import path from 'node:path'
import type { DescField, DescMessage, Registry } from '@bufbuild/protobuf'
import { bindingsFromRule, buildBindingTable, type Binding, type BindingTable } from './bindings.ts'
import { createCodec, resolveFieldPath, type Codec } from './codec.ts'
import { loadProtos, ProtoLoadError, type MethodInfo } from './descriptors.ts'
import { resolveQueryPath } from './query.ts'

/**
 * The google/api and google/rpc protos figway ships (the package's own routes/protos/):
 * searched after the routes folder's, so a routes folder that lacks them still loads.
 */
export const BUILTIN_PROTOS = path.resolve(import.meta.dirname, '../../routes/protos')

/** Loaded with every backend's protos, to decode error details (`grpc-status-details-bin`). */
const STATUS_PROTOS = ['google/rpc/status.proto', 'google/rpc/error_details.proto']

export const HTTP_BODY = 'google.api.HttpBody'

export interface GrpcMethod {
  /** `pkg.Service/Method`. */
  readonly fullName: string
  /** `/pkg.Service/Method`, the HTTP/2 path. */
  readonly path: string
  readonly input: DescMessage
  readonly output: DescMessage
  readonly serverStreaming: boolean
}

/** A binding (or a route's explicit method) ready for requests. */
export interface GrpcCall {
  readonly method: GrpcMethod
  /** '' (no body), '*' or a field path. */
  readonly body: string
  /** The `body: field` path, resolved; null for '' and '*'. */
  readonly bodyPath: readonly DescField[] | null
  /** The body is raw bytes for a google.api.HttpBody (the whole request or the body field). */
  readonly bodyIsHttpBody: boolean
  /** The `response_body` field path, resolved; null for the whole message. */
  readonly responsePath: readonly DescField[] | null
  /** The response (or its response_body field) is a google.api.HttpBody: raw bytes out. */
  readonly responseIsHttpBody: boolean
  /** Path variable (dotted proto field path) → its fields. */
  readonly vars: ReadonlyMap<string, readonly DescField[]>
  /** Field paths the query must not set: path-bound ones and the body field. */
  readonly excluded: ReadonlySet<string>
}

export interface GrpcSpec {
  /** host:port */
  readonly target: string
  readonly tls: boolean
  readonly emitDefaults: boolean
  readonly registry: Registry
  readonly codec: Codec
  readonly bindings: BindingTable
  readonly callOf: ReadonlyMap<Binding, GrpcCall>
  /** Every method of the loaded protos by `pkg.Service/Method` (for a route's explicit `grpc.method`). */
  readonly methods: ReadonlyMap<string, GrpcMethod>
  readonly statusType: DescMessage
  /** Methods of `services` that are not bound, with the reason (logged at load). */
  readonly unbound: readonly string[]
}

/** A load problem: where (a proto file and line, or the backend entry when undefined) and what. */
export interface GrpcIssue {
  readonly file: string | undefined
  readonly line: number | undefined
  readonly message: string
}

export interface GrpcBackendInput {
  readonly target: string
  readonly tls: boolean
  readonly protos: readonly string[]
  readonly services: readonly string[]
  readonly omitDefaults: boolean
}

/**
 * Loads a backend's protos from the routes folder (`protos:` entries are relative to it;
 * imports resolve from routes/protos/, then the routes folder, then figway's own google/*
 * protos) and compiles its bindings. Returns the issues found instead when there are any.
 */
export function compileGrpcBackend (input: GrpcBackendInput, routesDir: string): GrpcSpec | GrpcIssue[] {
  const includeDirs = [path.join(routesDir, 'protos'), routesDir, BUILTIN_PROTOS]
  const files = input.protos.map((p) => path.resolve(routesDir, p))
  let loaded
  try {
    loaded = loadProtos([...files, ...STATUS_PROTOS], includeDirs)
  } catch (err) {
    if (err instanceof ProtoLoadError) return [{ file: err.file, line: err.line, message: `cannot load protos: ${err.message.slice(err.message.indexOf(': ') + 2)}` }]
    return [{ file: undefined, line: undefined, message: `cannot load protos: ${(err as Error).message}` }]
  }
  const codec = createCodec(loaded.registry)
  const issues: GrpcIssue[] = []
  const methods = new Map<string, GrpcMethod>()
  const infoOf = new Map<string, MethodInfo>()
  for (const svc of loaded.services.values()) {
    for (const m of svc.methods) {
      infoOf.set(m.fullName, m)
      methods.set(m.fullName, Object.freeze({
        fullName: m.fullName,
        path: '/' + m.fullName,
        input: codec.schema(m.inputType),
        output: codec.schema(m.outputType),
        serverStreaming: m.serverStreaming
      }))
    }
  }
  const bindings: Binding[] = []
  const callOf = new Map<Binding, GrpcCall>()
  const unbound: string[] = []
  for (const name of input.services) {
    const svc = loaded.services.get(name)
    if (svc === undefined) {
      const known = [...loaded.services.keys()].filter((s) => !s.startsWith('google.'))
      issues.push({ file: undefined, line: undefined, message: `service "${name}" is not in the loaded protos${known.length > 0 ? ` (they define ${known.join(', ')})` : ''}` })
      continue
    }
    for (const m of svc.methods) {
      if (m.clientStreaming) { unbound.push(`${m.fullName}: ${m.serverStreaming ? 'bidirectional' : 'client'} streaming is not transcoded`); continue }
      if (m.httpRule === undefined) { unbound.push(`${m.fullName}: no google.api.http rule`); continue }
      const bs = bindingsFromRule(m.httpRule, m.fullName)
      if ('errors' in bs) { for (const e of bs.errors) issues.push({ file: m.file, line: m.line, message: e }); continue }
      const method = methods.get(m.fullName)!
      for (const b of bs) {
        const call = compileCall(method, b.body, b.responseBody, b.template.variables.map((v) => v.fieldPath))
        if (typeof call === 'string') { issues.push({ file: m.file, line: m.line, message: `${m.fullName} (${b.httpMethod} ${b.template.source}): ${call}` }); continue }
        bindings.push(b)
        callOf.set(b, call)
      }
    }
  }
  const table = buildBindingTable(bindings)
  if ('errors' in table) for (const e of table.errors) issues.push({ file: undefined, line: undefined, message: e })
  if (issues.length > 0) return issues
  return Object.freeze({
    target: input.target,
    tls: input.tls,
    emitDefaults: !input.omitDefaults,
    registry: loaded.registry,
    codec,
    bindings: table as BindingTable,
    callOf,
    methods,
    statusType: codec.schema('google.rpc.Status'),
    unbound
  })
}

/**
 * Compiles one call: `body`, `responseBody` and the path variables resolved against the
 * method's messages. Returns what is wrong as a message.
 */
export function compileCall (method: GrpcMethod, body: string, responseBody: string, varPaths: readonly string[]): GrpcCall | string {
  const vars = new Map<string, readonly DescField[]>()
  for (const v of varPaths) {
    const fields = resolveQueryPath(method.input, v)
    if (fields === undefined || fields.map((f) => f.name).join('.') !== v) {
      return `path variable {${v}} names no field of ${method.input.typeName} that a path segment can set`
    }
    vars.set(v, fields)
  }
  let bodyPath: DescField[] | null = null
  if (body !== '' && body !== '*') {
    try {
      bodyPath = resolveFieldPath(method.input, body)
    } catch {
      return `body "${body}" names no field of ${method.input.typeName}`
    }
    if (vars.has(body)) return `body "${body}" is also bound by the path`
  }
  let responsePath: DescField[] | null = null
  if (responseBody !== '') {
    try {
      responsePath = resolveFieldPath(method.output, responseBody)
    } catch {
      return `response_body "${responseBody}" names no field of ${method.output.typeName}`
    }
  }
  const last = (p: readonly DescField[]): DescField => p[p.length - 1]!
  const isHttpBody = (f: DescField): boolean => f.fieldKind === 'message' && f.message.typeName === HTTP_BODY
  const excluded = new Set(vars.keys())
  if (bodyPath !== null) excluded.add(body)
  return Object.freeze({
    method,
    body,
    bodyPath,
    bodyIsHttpBody: body === '*' ? method.input.typeName === HTTP_BODY : bodyPath !== null && isHttpBody(last(bodyPath)),
    responsePath,
    responseIsHttpBody: responsePath === null ? method.output.typeName === HTTP_BODY : isHttpBody(last(responsePath)),
    vars,
    excluded
  })
}
