/**
 * The request pipeline, in order:
 *
 *   accept   request id, trace (continued or new) and SERVER span, reserved /__figway/* paths
 *   match    path normalisation, route lookup on the current table   → 404 route_not_found
 *   choose   override header, runtime weights, sticky bucket          → backend + upstream path
 *   shape    hop-by-hop strip, X-Forwarded-*, Host
 *   forward  per attempt: bulkhead, breaker admission, CLIENT span and its traceparent, pooled
 *            undici dispatch, per-try deadline;
 *            streaming both ways once the response is committed to the client
 *   recover  retry (budget, jittered backoff) or the route's fallback, inside the whole deadline
 *   record   metrics, SERVER span end, access log (exactly once, from whichever stage ended
 *            the request)
 *
 * Each stage either continues or ends the request with a local reply carrying a code.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { accept } from './accept.ts'
import { choose } from './choose.ts'
import type { PipelineDeps } from './deps.ts'
import { Exchange } from './exchange.ts'
import { forwardHttp } from './forward.ts'
import { match } from './match.ts'
import { peerAddress, upstreamHeaders } from './shape.ts'

const NO_HEADERS: string[] = []

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void

export function createPipeline (deps: PipelineDeps): RequestHandler {
  return function handle (req, res) {
    deps.state.inflight++
    const ex = new Exchange(req, res, performance.now())
    if (!accept(deps, ex)) return
    const segs = match(deps, ex)
    if (segs === null) return
    if (!choose(deps, ex, segs)) return
    const backend = ex.backend!
    // A gRPC backend gets metadata, built when the request is transcoded.
    const headers = backend.kind === 'http' ? upstreamHeaders(req, backend, deps.trustedPeer(peerAddress(req)), ex.reqId) : NO_HEADERS
    forwardHttp(deps, ex, headers)
  }
}
