/**
 * Stage `forward` (with `recover`) for HTTP and gRPC backends. Per request, a Forwarding runs attempts
 * on the route's chosen backend and, when they fail before any response byte reached the
 * client, retries them or serves from the route's fallback (spec §2.3, §3):
 *
 *   attempt  bulkhead (maxInFlight) → breaker admission → undici dispatch under perTryTimeout
 *   failure  retry (method rules, budget, full-jitter backoff or Retry-After, inside `timeout`)
 *            → else fallback backend (same deadline) → else a local reply
 *   success  headers to the client: from then on nothing is retried; bytes stream with
 *            backpressure; a failure cuts the connection
 *
 * `perTryTimeout` counts the backend's time: while a request body is still being sent it is
 * an idle timeout re-armed by every chunk sent. `timeout` covers all attempts and backoffs,
 * counted from when the request can be sent whole (at once for a buffered or empty body,
 * else once it was sent), as Envoy's route timeout counts from the end of the request.
 *
 * A gRPC backend (spec §2.6) gets the request transcoded first: the body read whole (413
 * beyond limits.bodyBytes), the binding found (404/405), the message built (400); then its
 * attempts run on the backend's channel (grpc-attempt.ts) under the same policy, with the
 * deadline the smaller of figway's and the client's `grpc-timeout`.
 */
import type { Policy } from '../config/policy.ts'
import type { LocalReplyCode } from '../errors.ts'
import { fullJitterMs, retryAfterMs } from '../resilience/backoff.ts'
import { methodMayFallBack, methodMayRetry, retryableKind, type FailureKind } from '../resilience/retry.ts'
import type { Backend, Route } from '../routing/table.ts'
import { ClientClosedError, UpstreamTimeoutError } from '../upstream/errors.ts'
import type { Metadata } from '@grpc/grpc-js'
import { TranscodeError } from '../transcode/error.ts'
import { grpcSupport } from '../transcode/support.ts'
import type { GrpcCall } from '../transcode/backend.ts'
import { findGrpcCall } from '../routing/grpc.ts'
import { Attempt, type AttemptOwner, type UpstreamAttempt } from './attempt.ts'
import { NO_BODY, readBody, type Body } from './body.ts'
import type { PipelineDeps } from './deps.ts'
import type { CloseWatcher, Exchange } from './exchange.ts'
import { record } from './record.ts'
import { localReply } from './reply.ts'
import { bodyPending, downstreamHeaders, peerAddress, requestHasBody, setTraceContext, upstreamHeaders } from './shape.ts'
import { upstreamPath } from '../routing/select.ts'

const REPLY_FOR: Record<FailureKind, LocalReplyCode> = {
  connect_error: 'upstream_unreachable',
  circuit_open: 'upstream_circuit_open',
  overloaded: 'upstream_overloaded',
  reset: 'upstream_reset',
  timeout: 'upstream_timeout',
  status_502: 'upstream_reset',
  status_503: 'upstream_reset',
  status_504: 'upstream_timeout',
  status_5xx: 'upstream_reset',
  unavailable: 'upstream_reset'
}

/** Attempt outcomes as `figway_upstream_attempts_total{outcome}` names them. */
function outcomeOf (kind: FailureKind | 'cancelled'): string {
  return kind.startsWith('status_') || kind === 'unavailable' ? '5xx' : kind
}

/** A request transcoded for one gRPC backend: sent again as is by retries. */
interface GrpcRequest {
  readonly call: GrpcCall
  readonly message: Buffer
  readonly metadata: Metadata
}

// grpc-timeout (gRPC over HTTP/2): up to 8 digits and a unit.
const GRPC_TIMEOUT = /^(\d{1,8})([HMSmun])$/
const GRPC_TIMEOUT_UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1_000, m: 1, u: 0.001, n: 0.000_001 }

type Headers = Record<string, string | string[] | undefined>

export class Forwarding implements AttemptOwner, CloseWatcher {
  readonly #deps: PipelineDeps
  readonly #ex: Exchange
  readonly #route: Route
  #headers: string[]
  #body: Body = NO_BODY
  #backend: Backend
  #policy: Policy
  #onFallback = false
  /** Attempts on the current backend. */
  #tries = 0
  #attempt: UpstreamAttempt | null = null
  #grpc: GrpcRequest | null = null
  /** performance.now() when the client's grpc-timeout passes. */
  #clientDeadlineAt = Infinity
  #deadline: NodeJS.Timeout | null = null
  #deadlineAt = Infinity
  #retryTimer: NodeJS.Timeout | null = null
  #finished = false
  #onDrain: (() => void) | null = null

  constructor (deps: PipelineDeps, ex: Exchange, headers: string[]) {
    this.#deps = deps
    this.#ex = ex
    this.#route = ex.route!
    this.#headers = headers
    this.#backend = ex.backend!
    this.#policy = this.#route.policyFor.get(this.#backend.name)!
    ex.watchClose(this)
  }

  start (): void {
    const req = this.#ex.req
    if (this.#backend.kind === 'grpc') { this.#startGrpc(); return }
    if (!requestHasBody(req)) { this.#armDeadline(); this.#launch(); return }
    const route = this.#route
    const cl = req.headers['content-length']
    if (route.bodyBytes !== null && cl !== undefined && Number(cl) > route.bodyBytes) {
      localReply(this.#deps, this.#ex, 'request_too_large', `this route accepts bodies up to ${route.bodyBytes} bytes`)
      this.#finished = true
      return
    }
    // A body is read whole only when something may need to send it again.
    const replay = route.fallback !== null || this.#policy.retry.attempts > 1
    if (!replay) { this.#body = { kind: 'stream', stream: req }; this.#launch(); return }
    readBody(req, this.#deps.config.limits.bodyBytes, (body) => {
      if (this.#finished) return
      if (body.kind === 'aborted') { this.#clientGone(); return }
      this.#body = body
      if (body.kind === 'buffer') this.#armDeadline()
      this.#launch()
    })
  }

  /** Transcoding needs the whole body: read it (413 beyond the limit), then build the call. */
  #startGrpc (): void {
    const ex = this.#ex
    const req = ex.req
    const gt = req.headers['grpc-timeout']
    if (gt !== undefined) {
      const m = GRPC_TIMEOUT.exec(gt as string)
      if (m === null) { this.#reply('bad_transcode_request', `invalid grpc-timeout ${JSON.stringify(gt)}: up to 8 digits and one of H M S m u n`); return }
      this.#clientDeadlineAt = ex.start + Number(m[1]) * GRPC_TIMEOUT_UNIT_MS[m[2]!]!
    }
    if (!requestHasBody(req)) { this.#sendGrpc(); return }
    const limit = Math.min(this.#route.bodyBytes ?? Infinity, this.#deps.config.limits.bodyBytes)
    readBody(req, limit, (body) => {
      if (this.#finished) return
      if (body.kind === 'aborted') { this.#clientGone(); return }
      if (body.kind === 'stream') { this.#reply('request_too_large', `requests to a gRPC backend are transcoded whole: up to ${limit} bytes`); return }
      this.#body = body
      this.#sendGrpc()
    })
  }

  #sendGrpc (): void {
    if (!this.#prepareGrpc(this.#backend)) return
    this.#armDeadline()
    this.#launch()
  }

  /**
   * Finds the call for a gRPC backend (the route's explicit method, else the binding that
   * matches the method and path) and builds its message and metadata. On bad input, replies
   * (404, 405, 400) and returns false.
   */
  #prepareGrpc (b: Backend): boolean {
    const ex = this.#ex
    const spec = b.grpc!
    const found = findGrpcCall(this.#route, b, ex.method, ex.path, ex.upstreamPath)
    if ('code' in found) {
      this.#reply(found.code, found.detail, found.allow === undefined ? undefined : { allow: found.allow.join(', ') })
      return false
    }
    const call = found.call
    const body = this.#body.kind === 'buffer' ? this.#body.data : null
    let message: Buffer
    try {
      const json = grpcSupport().requestJson(call, found.vars, ex.query, body, ex.req.headers['content-type'])
      const bytes = spec.codec.encodeRequest(call.method.input.typeName, json)
      message = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    } catch (err) {
      if (!(err instanceof TranscodeError)) throw err
      this.#reply('bad_transcode_request', err.message)
      return false
    }
    const metadata = this.#metadata()
    if (metadata === null) return false
    this.#grpc = { call, message, metadata }
    return true
  }

  /** Request metadata (spec §2.6): the forwarded headers, x-request-id, grpc-metadata-* with the prefix removed. */
  #metadata (): Metadata | null {
    const headers = this.#ex.req.headers
    const grpc = grpcSupport()
    const md = new grpc.Metadata()
    try {
      for (const name of grpc.METADATA_HEADERS) {
        const v = headers[name]
        if (typeof v === 'string') md.set(name, v)
      }
      md.set('x-request-id', this.#ex.reqId)
      for (const name in headers) {
        if (!name.startsWith('grpc-metadata-')) continue
        const key = name.slice(14)
        const v = headers[name]
        for (const one of Array.isArray(v) ? v : [v ?? '']) md.add(key, key.endsWith('-bin') ? Buffer.from(one, 'base64') : one)
      }
    } catch (err) {
      this.#reply('bad_transcode_request', `request metadata: ${(err as Error).message}`)
      return null
    }
    return md
  }

  #reply (code: LocalReplyCode, detail?: string, headers?: Record<string, string>): void {
    this.#finish()
    this.#ex.backend = this.#backend
    localReply(this.#deps, this.#ex, code, detail, headers)
  }

  #armDeadline (): void {
    const ms = this.#policy.timeoutMs
    if (ms <= 0 || this.#deadline !== null || this.#finished) return
    this.#deadlineAt = performance.now() + ms
    this.#deadline = setTimeout(() => this.#deadlineExpired(ms), ms)
  }

  requestSent (): void { this.#armDeadline() }

  /** The response closed: before it ended, the client went away. */
  responseClosed (): void {
    if (!this.#finished) this.#clientGone()
  }

  #launch (): void {
    const deps = this.#deps
    const ex = this.#ex
    const b = this.#backend
    const guard = deps.guards.get(b)
    this.#tries++
    ex.attempts++
    if (guard.inflight >= guard.maxInFlight) {
      deps.metrics.attempt(b.name, 'overloaded')
      this.#failedBefore('overloaded', null)
      return
    }
    const settler = guard.breaker.admit()
    if (settler === null) {
      deps.metrics.attempt(b.name, 'circuit_open')
      this.#failedBefore('circuit_open', null)
      return
    }
    if (this.#tries === 1) guard.budget.request(Date.now())
    if (b.kind === 'grpc') {
      const g = this.#grpc!
      const a = new (grpcSupport().GrpcAttempt)(this, b, guard, settler, g.call)
      this.#attempt = a
      const span = deps.tracing.startClient(ex, b, ex.attempts, g.call.method.fullName)
      a.span = span
      const md = g.metadata.clone()
      md.set('traceparent', span.traceparent)
      if (ex.tracestate !== '') md.set('tracestate', ex.tracestate)
      else md.remove('tracestate')
      const now = performance.now()
      const perTry = this.#policy.perTryTimeoutMs > 0 ? this.#policy.perTryTimeoutMs : Infinity
      a.start(deps.grpc.channel(b), g.message, md, Math.min(perTry, this.#deadlineAt - now), this.#clientDeadlineAt - now)
      return
    }
    const attempt = new Attempt(this, b, guard, settler, this.#policy.perTryTimeoutMs)
    this.#attempt = attempt
    attempt.span = deps.tracing.startClient(ex, b, ex.attempts)
    setTraceContext(this.#headers, attempt.span.traceparent, ex.tracestate)
    const body = this.#body
    deps.upstreams.pool(b).dispatch({
      method: ex.method,
      path: ex.upstreamPath + ex.query,
      headers: this.#headers,
      body: body.kind === 'buffer' ? body.data : body.kind === 'stream' ? body.stream : null,
      // Only figway decides about sending a request twice.
      idempotent: false,
      headersTimeout: 0,
      bodyTimeout: 0
    }, attempt)
  }

  divert (a: UpstreamAttempt, kind: FailureKind, headers: Headers): boolean {
    const next = this.#decide(kind, headers['retry-after'])
    if (next === null) return false
    a.settle(false)
    this.#deps.metrics.attempt(a.backend.name, outcomeOf(kind))
    a.abort(new Error(`diverted after ${kind}`))
    next()
    return true
  }

  commit (a: UpstreamAttempt, status: number, headers: Headers): void {
    const deps = this.#deps
    const ex = this.#ex
    a.settle(status < 500)
    deps.metrics.attempt(a.backend.name, status < 500 ? 'ok' : '5xx')
    // An answer that came before the request body was all sent still gets the whole deadline.
    this.#armDeadline()
    ex.status = status
    ex.backend = a.backend
    const out = downstreamHeaders(headers)
    if (deps.state.draining || bodyPending(ex.req)) out.connection = 'close'
    if (deps.config.debugHeaders) {
      out['x-figway-route'] = this.#route.name
      out['x-figway-backend'] = a.backend.name
    }
    try {
      ex.res.writeHead(status, out)
    } catch (err) {
      a.abort(err as Error)
      this.#cut('upstream_reset', err as Error)
      return
    }
    this.#onDrain = () => a.resume()
  }

  data (a: UpstreamAttempt, chunk: Buffer): void {
    if (this.#finished) return
    if (!this.#ex.res.write(chunk)) {
      a.pause()
      this.#ex.res.once('drain', this.#onDrain!)
    }
  }

  end (_a: UpstreamAttempt): void {
    if (this.#finished) return
    this.#finish()
    this.#ex.res.end()
    record(this.#deps, this.#ex)
  }

  failed (a: UpstreamAttempt, kind: FailureKind | 'cancelled', err: Error): void {
    this.#deps.metrics.attempt(a.backend.name, outcomeOf(kind))
    // A client that went away is neither the backend's failure nor its success.
    if (kind === 'cancelled') a.cancel()
    else a.settle(false, err)
    if (this.#finished) return
    if (a.committed) { this.#cut(kind === 'cancelled' ? 'upstream_reset' : REPLY_FOR[kind as FailureKind], err); return }
    if (kind === 'cancelled') { this.#clientGone(); return }
    this.#failedBefore(kind, err)
  }

  /** An attempt failed before any response byte: retry, fall back, or reply. */
  #failedBefore (kind: FailureKind, err: Error | null): void {
    const next = this.#decide(kind, undefined)
    if (next !== null) { next(); return }
    this.#finish()
    const extra = kind === 'circuit_open' ? { 'retry-after': String(this.#deps.guards.get(this.#backend).breaker.retryAfterSeconds()) } : undefined
    if (err !== null) this.#deps.logger.debug({ reqId: this.#ex.reqId, backend: this.#backend.name, err }, 'upstream attempt failed')
    this.#ex.backend = this.#backend
    localReply(this.#deps, this.#ex, REPLY_FOR[kind], undefined, extra)
  }

  /**
   * What to do after a failure before any response byte: a retry on the same backend, the
   * fallback backend, or nothing (null). Takes a retry from the budget when it decides to retry.
   */
  #decide (kind: FailureKind, retryAfter: string | string[] | undefined): (() => void) | null {
    const deps = this.#deps
    const ex = this.#ex
    const route = this.#route
    const replayable = this.#body.kind !== 'stream'
    const remaining = this.#deadlineAt - performance.now()
    const retry = this.#policy.retry
    if (replayable && retryableKind(kind) && this.#tries < retry.attempts && methodMayRetry(ex.method, ex.req.headers, kind)) {
      const asked = kind === 'status_503' ? retryAfterMs(retryAfter) : undefined
      // A Retry-After beyond the backoff cap is the backend asking for more than we may wait.
      const delay = asked === undefined ? fullJitterMs(this.#tries - 1, retry.baseMs, retry.maxMs) : asked <= retry.maxMs ? asked : -1
      if (delay >= 0 && delay < remaining) {
        const guard = deps.guards.get(this.#backend)
        if (guard.budget.tryRetry(Date.now())) {
          deps.metrics.retry(this.#backend.name, kind)
          return () => this.#retryAfter(delay)
        }
        deps.metrics.budgetExhausted(this.#backend.name)
      }
    }
    const fb = route.fallback
    if (fb !== null && !this.#onFallback && fb !== this.#backend && replayable && remaining > 0 &&
      methodMayFallBack(ex.method, kind, route.fallbackAnyMethod)) {
      return () => {
        deps.metrics.fallback(route.name, this.#backend.name, fb.name, kind)
        ex.fallback = fb.name
        this.#onFallback = true
        this.#backend = fb
        // The fallback gets its own Host and base path (the route's rewrite still applies).
        ex.upstreamPath = upstreamPath(route, fb, ex.path, null)
        if (fb.kind === 'grpc') {
          if (!this.#prepareGrpc(fb)) return
        } else {
          this.#headers = upstreamHeaders(ex.req, fb, deps.trustedPeer(peerAddress(ex.req)), ex.reqId)
        }
        this.#policy = route.policyFor.get(fb.name)!
        this.#tries = 0
        this.#launch()
      }
    }
    return null
  }

  #retryAfter (delayMs: number): void {
    this.#attempt = null
    if (delayMs < 1) { this.#launch(); return }
    this.#retryTimer = setTimeout(() => { this.#retryTimer = null; if (!this.#finished) this.#launch() }, delayMs)
  }

  #deadlineExpired (ms: number): void {
    this.#deadline = null
    if (this.#finished) return
    const err = new UpstreamTimeoutError('total', ms)
    const a = this.#attempt
    if (a !== null && !a.done) {
      a.abort(err)
      a.settle(false, err)
      this.#deps.metrics.attempt(a.backend.name, 'timeout')
    }
    if (a !== null && a.committed) { this.#cut('upstream_timeout', err); return }
    this.#finish()
    this.#ex.backend = this.#backend
    localReply(this.#deps, this.#ex, 'upstream_timeout')
  }

  #clientGone (): void {
    const a = this.#attempt
    if (a !== null && !a.done) {
      a.abort(new ClientClosedError())
      a.cancel()
      this.#deps.metrics.attempt(a.backend.name, 'cancelled')
    }
    this.#finish()
    const ex = this.#ex
    ex.code = 'client_closed'
    if (ex.status === 0 || !ex.res.headersSent) ex.status = 499
    record(this.#deps, ex)
  }

  /** Bytes already went out: the only honest signal left is to cut the connection. */
  #cut (code: string, err: Error): void {
    this.#finish()
    this.#ex.code = code
    this.#ex.res.destroy(err)
    record(this.#deps, this.#ex)
  }

  #finish (): void {
    this.#finished = true
    if (this.#deadline !== null) { clearTimeout(this.#deadline); this.#deadline = null }
    if (this.#retryTimer !== null) { clearTimeout(this.#retryTimer); this.#retryTimer = null }
  }
}

export function forwardHttp (deps: PipelineDeps, ex: Exchange, headers: string[]): void {
  new Forwarding(deps, ex, headers).start()
}
