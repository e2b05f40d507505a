/**
 * Stage `record`: the last thing each request does, exactly once: metrics, SERVER span end,
 * access log line, in-flight accounting.
 */
import { writeAccessLine } from '../telemetry/logger.ts'
import type { PipelineDeps } from './deps.ts'
import type { Exchange } from './exchange.ts'

export function record (deps: PipelineDeps, ex: Exchange): void {
  if (ex.done) return
  ex.done = true
  const state = deps.state
  if (ex.code === 'health') {
    // The load balancer's health checks (/__figway/ready) stay out of request metrics and logs.
    state.inflight--
    if (state.inflight === 0 && state.onIdle !== null) state.onIdle()
    return
  }
  const seconds = (performance.now() - ex.start) / 1000
  const route = ex.route?.name ?? ''
  const backend = ex.backend?.name ?? ''
  deps.metrics.request(route, backend, ex.method, ex.status, seconds)
  deps.tracing.endServer(ex)
  // The line is built only when it will be written (logLevel warn and above skip it).
  if (deps.logger.isLevelEnabled('info')) {
    writeAccessLine(deps.logger, {
      reqId: ex.reqId,
      traceId: ex.traceId,
      method: ex.method,
      path: ex.path === '' ? ex.req.url ?? '' : ex.path,
      route,
      backend,
      status: ex.status,
      durationUs: Math.round(seconds * 1e6),
      attempts: ex.attempts,
      fallback: ex.fallback,
      code: ex.code
    })
  }
  state.inflight--
  if (state.inflight === 0 && state.onIdle !== null) state.onIdle()
}
