/**
 * Local replies (spec §5): application/problem+json with a stable code; every one is
 * counted in figway_local_replies_total{code} and carried to the access log.
 */
import { LOCAL_REPLIES, problemBody, type LocalReplyCode } from '../errors.ts'
import type { PipelineDeps } from './deps.ts'
import type { Exchange } from './exchange.ts'
import { record } from './record.ts'
import { bodyPending } from './shape.ts'

export function localReply (deps: PipelineDeps, ex: Exchange, code: LocalReplyCode, detail?: string, extraHeaders?: Record<string, string>): void {
  const status = LOCAL_REPLIES[code].status
  ex.status = status
  ex.code = code
  deps.metrics.localReply(code)
  const res = ex.res
  if (!res.headersSent && !res.destroyed) {
    const body = problemBody(code, ex.route?.name ?? '', ex.traceId, detail)
    const headers: Record<string, string | number> = {
      'content-type': 'application/problem+json',
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
      'x-request-id': ex.reqId,
      ...extraHeaders
    }
    if (deps.state.draining || bodyPending(ex.req)) headers.connection = 'close'
    res.writeHead(status, headers)
    res.end(ex.method === 'HEAD' ? undefined : body)
  }
  record(deps, ex)
}

/**
 * The client broke its request after the head was parsed (bad chunking, or `requestTimeout`
 * while the body was still arriving): a local reply with `Connection: close` if nothing was
 * sent yet, else only the access line with the code; the caller cuts the connection. Either
 * way this exchange's one access line carries the reason, not the 499 its close would give.
 */
export function clientFailed (deps: PipelineDeps, ex: Exchange, code: LocalReplyCode, detail?: string): void {
  if (ex.done) return
  if (!ex.res.headersSent) {
    localReply(deps, ex, code, detail, { connection: 'close' })
    return
  }
  ex.code = code
  record(deps, ex)
}
