/**
 * What the gateway would do with a request, without sending it (spec §6 /admin/explain and
 * the CLI's `explain`): matched route, candidates and weights, sticky bucket, chosen backend,
 * rewritten path (`chosen.path`, what the backend receives) and upstream URL; for a gRPC
 * backend, the bound method and the request message that would be sent (`chosen.grpc`,
 * from the path and query; a request body is not part of an explain).
 */
import type { IncomingHttpHeaders } from 'node:http'
import { normalizePath, splitTarget } from './normalize.ts'
import { pathSegments } from './pattern.ts'
import { chooseBackend, effectiveTargets, matchRoute, stickyKey, upstreamPath } from './select.ts'
import { stickyBucket } from './split.ts'
import { LOCAL_REPLIES } from '../errors.ts'
import { TranscodeError } from '../transcode/error.ts'
import { grpcSupport } from '../transcode/support.ts'
import { findGrpcCall } from './grpc.ts'
import type { Backend, Route, RouteTable } from './table.ts'
import type { WeightSource } from './weights.ts'

export interface ExplainRequest {
  method: string
  path: string
  headers: IncomingHttpHeaders
}

export function explain (table: RouteTable, weights: WeightSource | undefined, r: ExplainRequest): Record<string, unknown> {
  const { path: rawPath, query } = splitTarget(r.path)
  const path = normalizePath(rawPath)
  const method = r.method.toUpperCase()
  if (path === undefined) return { method, path: r.path, result: 'bad_request_path', status: 400 }
  const segs = pathSegments(path)
  const route = matchRoute(table, method, r.headers, segs)
  const candidates = table.matcher.candidates(segs).map((c) => ({ route: c.name, file: c.file, line: c.line, pattern: c.pattern.source, methods: c.methods === null ? null : [...c.methods], host: c.host }))
  if (route === undefined) return { method, path, normalizedFrom: rawPath !== path ? rawPath : undefined, result: 'route_not_found', status: 404, candidates }
  const { targets, from } = effectiveTargets(route, weights)
  const key = stickyKey(route, r.headers)
  // With a sticky key the choice is deterministic; without one it is random, so say so.
  const choice = chooseBackend(route, r.headers, weights)
  const backend = choice?.backend
  // The path the backend receives: the route's rewrite, then the backend URL's base path.
  const sent = backend === undefined ? '' : upstreamPath(route, backend, path, segs) + query
  return {
    method,
    path,
    normalizedFrom: rawPath !== path ? rawPath : undefined,
    result: backend === undefined ? 'no_backend' : 'routed',
    route: { name: route.name, file: route.file, line: route.line, pattern: route.pattern.source, priority: route.priority ?? null },
    candidates,
    weights: { from, backends: targets.backends.map((b, i) => ({ backend: b.name, weight: targets.weights[i], buckets: [i === 0 ? 0 : targets.ends[i - 1], targets.ends[i]] })) },
    sticky: route.sticky === null ? null : { ...route.sticky, key: key ?? null, bucket: key === undefined ? null : stickyBucket(route.seed, key) },
    chosen: backend === undefined
      ? null
      : {
          backend: backend.name,
          how: choice!.overridden ? 'override-header' : targets.backends.length === 1 ? 'single' : key !== undefined ? 'sticky' : 'random',
          path: sent,
          ...chosenTarget(route, backend, method, path, sent, query)
        },
    fallback: route.fallback?.name ?? null
  }
}

/** The upstream URL; for a gRPC backend, the call (`grpc://host:port/pkg.Service/Method`) and what it would carry. */
function chosenTarget (route: Route, backend: Backend, method: string, path: string, sent: string, query: string): Record<string, unknown> {
  if (backend.grpc === null) return { url: backend.origin + sent }
  const grpc = explainGrpc(route, backend, method, path, sent.slice(0, sent.length - query.length), query)
  return { url: typeof grpc.method === 'string' ? `${backend.origin}/${grpc.method}` : null, grpc }
}

function explainGrpc (route: Route, b: Backend, method: string, path: string, upstreamPath: string, query: string): Record<string, unknown> {
  const found = findGrpcCall(route, b, method, path, upstreamPath)
  if ('code' in found) return { result: found.code, status: LOCAL_REPLIES[found.code].status, detail: found.detail, allow: found.allow }
  const m = found.call.method
  const out = { method: m.fullName, binding: found.binding, requestType: m.input.typeName, responseType: m.output.typeName, serverStreaming: m.serverStreaming, body: found.call.body }
  try {
    const request = grpcSupport().requestJson(found.call, found.vars, query, null, undefined)
    // Through the codec and back: the message as the backend would see it, or the field at fault.
    const bytes = b.grpc!.codec.encodeRequest(m.input.typeName, request)
    return { ...out, request: b.grpc!.codec.decodeResponse(m.input.typeName, bytes, { emitDefaults: false }) }
  } catch (err) {
    if (!(err instanceof TranscodeError)) throw err
    return { ...out, result: 'bad_transcode_request', status: 400, detail: err.message }
  }
}
