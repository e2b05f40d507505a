/**
 * Local replies (spec §5): application/problem+json with a stable code; every one is
 * counted in figway_local_replies_total{code} and carried to the access log.
 */
import { LOCAL_REPLIES, problemBody, type LocalReplyCode } from '../errors.ts'
import type { PipelineDeps } from './deps.ts'
import type { Exchange } from './exchange.ts'
import { record } from './record.ts'

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
    if (deps.state.draining) headers.connection = 'close'
    res.writeHead(status, headers)
    res.end(ex.method === 'HEAD' ? undefined : body)
  }
  record(deps, ex)
}
