/** Stage `match`: path normalisation and route lookup on the table current at arrival. */
import { normalizePath, splitTarget } from '../routing/normalize.ts'
import { pathSegments } from '../routing/pattern.ts'
import { matchRoute } from '../routing/select.ts'
import { RESERVED_PREFIX } from './accept.ts'
import type { PipelineDeps } from './deps.ts'
import type { Exchange } from './exchange.ts'
import { localReply } from './reply.ts'

/** Returns the path segments, or null when the request was answered here. */
export function match (deps: PipelineDeps, ex: Exchange): string[] | null {
  const { path: rawPath, query } = splitTarget(ex.req.url ?? '/')
  const path = normalizePath(rawPath)
  if (path === undefined) {
    localReply(deps, ex, 'bad_request_path')
    return null
  }
  ex.path = path
  ex.query = query
  // accept() saw the raw target; `//__figway/…`, `/x/../__figway/…` or `/%5F_figway/…` only
  // reach the reserved namespace after normalisation, and must not be routed either.
  if (path.startsWith(RESERVED_PREFIX)) {
    localReply(deps, ex, 'route_not_found')
    return null
  }
  const table = deps.store.current
  const segs = pathSegments(path)
  const route = table === undefined ? undefined : matchRoute(table, ex.method, ex.req.headers, segs)
  if (route === undefined) {
    localReply(deps, ex, 'route_not_found')
    return null
  }
  ex.route = route
  return segs
}
