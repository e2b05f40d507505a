/**
 * Which gRPC call a request makes on a gRPC backend (spec §2.6): the route's explicit
 * `grpc.method` with the route's path parameters, else the backend's binding that matches
 * the method and the path the backend would receive. Shared by the pipeline and explain.
 */
import type { GrpcCall } from '../transcode/backend.ts'
import type { RequestVars } from '../transcode/request.ts'
import { captureParams, pathSegments } from './pattern.ts'
import type { Backend, Route } from './table.ts'

export type GrpcCallLookup =
  | { readonly call: GrpcCall, readonly vars: RequestVars, readonly binding: string }
  | { readonly code: 'route_not_found' | 'method_not_allowed' | 'bad_request_path', readonly detail: string, readonly allow?: readonly string[] }

export function findGrpcCall (route: Route, b: Backend, method: string, path: string, upstreamPath: string): GrpcCallLookup {
  const explicit = route.grpcCalls?.get(b.name)
  if (explicit !== undefined) {
    const raw = captureParams(route.pattern, pathSegments(path))
    const vars: Record<string, string> = {}
    for (const k in raw) {
      try {
        vars[k] = decodeURIComponent(raw[k]!)
      } catch {
        return { code: 'bad_request_path', detail: `path parameter :${k} is not valid percent-encoding` }
      }
    }
    return { call: explicit, vars, binding: `route ${route.name} grpc.method` }
  }
  let found = b.grpc!.bindings.find(method, upstreamPath)
  // A HEAD is a GET without the body (RFC 9110 §9.3.2), as routes treat it: the GET binding serves it.
  if (method === 'HEAD' && (found === null || 'methodNotAllowed' in found)) {
    const get = b.grpc!.bindings.find('GET', upstreamPath)
    if (get !== null && !('methodNotAllowed' in get)) found = get
  }
  if (found === null) {
    // A bound variable must decode to UTF-8: a path that does not is the client's mistake, not a missing route.
    if (upstreamPath.includes('%') && !validUtf8(upstreamPath)) return { code: 'bad_request_path', detail: 'the path\'s percent-encoding is not valid UTF-8' }
    return { code: 'route_not_found', detail: `no gRPC method of backend ${b.name} is bound to ${method} ${upstreamPath}` }
  }
  if ('methodNotAllowed' in found) return { code: 'method_not_allowed', detail: `${upstreamPath} is bound to ${found.allow.join(', ')} only`, allow: found.allow }
  return { call: b.grpc!.callOf.get(found.binding)!, vars: found.vars, binding: `${found.binding.httpMethod} ${found.binding.template.source}` }
}

function validUtf8 (path: string): boolean {
  try {
    decodeURIComponent(path)
    return true
  } catch {
    return false
  }
}
