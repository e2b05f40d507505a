/** Stage `choose`: override header, runtime weights, sticky bucket; then the upstream path. */
import { chooseBackend, upstreamPath } from '../routing/select.ts'
import type { PipelineDeps } from './deps.ts'
import type { Exchange } from './exchange.ts'
import { localReply } from './reply.ts'

export function choose (deps: PipelineDeps, ex: Exchange, segs: readonly string[]): boolean {
  const route = ex.route!
  const choice = chooseBackend(route, ex.req.headers, deps.weights)
  if (choice === undefined) {
    // Every weight is 0 (possible only through a runtime override): nothing can serve it.
    localReply(deps, ex, 'upstream_unreachable', 'every backend of this route has weight 0')
    return false
  }
  ex.backend = choice.backend
  ex.upstreamPath = upstreamPath(route, choice.backend, ex.path, segs)
  return true
}
