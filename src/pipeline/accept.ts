/**
 * Stage `accept`: request id, trace (the client's traceparent continued, or a new trace) and
 * the SERVER span, reserved `/__figway/*` paths (the ALB health check is answered here, never
 * routed and never traced).
 */
import { randomUUID } from 'node:crypto'
import type { PipelineDeps } from './deps.ts'
import type { Exchange } from './exchange.ts'
import { record } from './record.ts'
import { localReply } from './reply.ts'

export const READY_PATH = '/__figway/ready'
/** figway's own namespace on the data port: never routed, however the path is spelt. */
export const RESERVED_PREFIX = '/__figway/'
const MAX_REQUEST_ID = 200

/** Returns false when the request was answered here. */
export function accept (deps: PipelineDeps, ex: Exchange): boolean {
  const h = ex.req.headers
  const rid = h['x-request-id']
  ex.reqId = typeof rid === 'string' && rid !== '' && rid.length <= MAX_REQUEST_ID ? rid : randomUUID()
  const url = ex.req.url ?? '/'
  if (url.startsWith(RESERVED_PREFIX)) {
    if (url === READY_PATH || url.startsWith(READY_PATH + '?')) {
      const ready = isReady(deps)
      const body = ready ? '{"status":"ready"}' : deps.state.draining ? '{"status":"draining"}' : '{"status":"not_ready"}'
      ex.status = ready ? 200 : 503
      ex.code = 'health'
      ex.res.writeHead(ex.status, { 'content-type': 'application/json', 'content-length': body.length, 'cache-control': 'no-store', ...(deps.state.draining ? { connection: 'close' } : {}) })
      ex.res.end(ex.method === 'HEAD' ? undefined : body)
      record(deps, ex)
      return false
    }
    deps.tracing.startServer(ex)
    localReply(deps, ex, 'route_not_found')
    return false
  }
  deps.tracing.startServer(ex)
  return true
}

/** Routes loaded and not draining (spec §6). */
export function isReady (deps: Pick<PipelineDeps, 'store' | 'state'>): boolean {
  return deps.store.current !== undefined && !deps.state.draining
}
