/**
 * Stage `forward` for HTTP backends: one undici dispatch on the backend's pool, streaming the
 * request body up and the response body down with backpressure, under two deadlines:
 * - `perTryTimeout`: how long the backend may take to answer once it has the request. While
 *   a request body is still being sent, it is an idle timeout that every chunk sent re-arms,
 *   so a large upload that keeps moving never times out because it is large.
 * - `timeout`: the whole exchange, counted from when the request has been sent (at once for a
 *   request without a body), as Envoy's route timeout counts from the end of the request.
 * Timers reply on their own schedule, not undici's: a deadline that expires while the
 * request still waits for a connection is answered at once, and the pending dispatch is
 * aborted as soon as undici hands it a controller.
 */
import type { Dispatcher } from 'undici'
import type { Policy } from '../config/policy.ts'
import { classify, ClientClosedError, UpstreamTimeoutError } from '../upstream/errors.ts'
import type { PipelineDeps } from './deps.ts'
import type { Exchange } from './exchange.ts'
import { record } from './record.ts'
import { localReply } from './reply.ts'
import { bodyPending, downstreamHeaders, requestHasBody } from './shape.ts'

type Controller = Dispatcher.DispatchController

export class ForwardHandler implements Dispatcher.DispatchHandler {
  readonly #deps: PipelineDeps
  readonly #ex: Exchange
  #controller: Controller | null = null
  #abortReason: Error | null = null
  #responded = false
  #finished = false
  #perTry: NodeJS.Timeout | null = null
  #total: NodeJS.Timeout | null = null
  readonly #totalMs: number
  #onDrain: (() => void) | null = null

  constructor (deps: PipelineDeps, ex: Exchange, policy: Policy, hasBody: boolean) {
    this.#deps = deps
    this.#ex = ex
    this.#totalMs = policy.timeoutMs
    const perTry = policy.perTryTimeoutMs
    if (perTry > 0) this.#perTry = setTimeout(() => this.#fail(new UpstreamTimeoutError('perTry', perTry)), perTry)
    if (!hasBody) this.#armTotal()
    ex.res.once('close', () => { if (!this.#finished) this.#fail(new ClientClosedError()) })
  }

  #armTotal (): void {
    const total = this.#totalMs
    if (total > 0 && this.#total === null && !this.#finished) this.#total = setTimeout(() => this.#fail(new UpstreamTimeoutError('total', total)), total)
  }

  onRequestStart (controller: Controller): void {
    this.#controller = controller
    if (this.#abortReason !== null) controller.abort(this.#abortReason)
  }

  onBodySent (): void {
    // Upload progress: the backend is reading, so its per-try clock starts again.
    if (this.#perTry !== null && !this.#responded) this.#perTry.refresh()
  }

  onRequestSent (): void {
    if (this.#perTry !== null && !this.#responded) this.#perTry.refresh()
    this.#armTotal()
  }

  onResponseStart (controller: Controller, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    if (this.#finished) { controller.abort(this.#abortReason ?? new Error('exchange finished')); return }
    if (statusCode < 200) return // 1xx: Node's server sends its own 100-continue
    if (this.#perTry !== null) { clearTimeout(this.#perTry); this.#perTry = null }
    // An early answer (before the whole request body was sent) still gets the whole deadline.
    this.#armTotal()
    const ex = this.#ex
    const res = ex.res
    ex.status = statusCode
    const out = downstreamHeaders(headers)
    if (this.#deps.state.draining || bodyPending(ex.req)) out.connection = 'close'
    if (this.#deps.config.debugHeaders) {
      out['x-figway-route'] = ex.route!.name
      out['x-figway-backend'] = ex.backend!.name
    }
    try {
      res.writeHead(statusCode, out)
      this.#responded = true
    } catch (err) {
      controller.abort(err as Error)
      this.#fail(err as Error)
      return
    }
    if (this.#onDrain === null) this.#onDrain = () => controller.resume()
  }

  onResponseData (controller: Controller, chunk: Buffer): void {
    if (this.#finished) return
    if (!this.#ex.res.write(chunk)) {
      controller.pause()
      this.#ex.res.once('drain', this.#onDrain!)
    }
  }

  onResponseEnd (): void {
    if (this.#finished) return
    this.#finished = true
    this.#clearTimers()
    this.#ex.res.end()
    record(this.#deps, this.#ex)
  }

  onResponseError (_controller: Controller, err: Error): void {
    if (this.#finished) return
    this.#fail(err)
  }

  /** Ends the exchange on an error: a local reply if nothing was sent yet, else a reset. */
  #fail (err: Error): void {
    if (this.#finished) return
    this.#finished = true
    this.#abortReason = err
    this.#clearTimers()
    if (this.#controller !== null && !this.#controller.aborted) this.#controller.abort(err)
    const ex = this.#ex
    const outcome = classify(err)
    if (outcome === 'client_closed') {
      ex.code = 'client_closed'
      if (ex.status === 0 || !this.#responded) ex.status = 499
      record(this.#deps, ex)
      return
    }
    if (this.#responded) {
      // Bytes already went out: the only honest signal left is to cut the connection.
      ex.code = outcome
      ex.res.destroy(err)
      record(this.#deps, ex)
      return
    }
    this.#deps.logger.debug({ reqId: ex.reqId, backend: ex.backend?.name, err }, 'upstream attempt failed')
    localReply(this.#deps, ex, outcome)
  }

  #clearTimers (): void {
    if (this.#perTry !== null) { clearTimeout(this.#perTry); this.#perTry = null }
    if (this.#total !== null) { clearTimeout(this.#total); this.#total = null }
  }
}

export function forwardHttp (deps: PipelineDeps, ex: Exchange, headers: string[], policy: Policy): void {
  const req = ex.req
  const backend = ex.backend!
  const hasBody = requestHasBody(req)
  ex.attempts = 1
  const handler = new ForwardHandler(deps, ex, policy, hasBody)
  deps.upstreams.pool(backend).dispatch({
    method: ex.method,
    path: ex.upstreamPath + ex.query,
    headers,
    body: hasBody ? req : null,
    // POST and friends are never replayed by undici on a dead keep-alive socket.
    idempotent: ex.method === 'GET' || ex.method === 'HEAD' || ex.method === 'OPTIONS',
    headersTimeout: 0,
    bodyTimeout: 0
  }, handler)
}
