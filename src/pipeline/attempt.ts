/**
 * One attempt on one backend: the undici dispatch handler. It reports to its Forwarding,
 * which decides what the attempt's outcome means (commit, retry, fall back, reply). Stale
 * callbacks of an attempt that was abandoned (retried, timed out, client gone) are ignored.
 */
import type { Dispatcher } from 'undici'
import type { AttemptSettler } from '../resilience/breaker.ts'
import type { BackendGuard } from '../resilience/guards.ts'
import type { FailureKind } from '../resilience/retry.ts'
import type { Backend } from '../routing/table.ts'
import type { AttemptSpan } from '../telemetry/tracing.ts'
import { classify, UpstreamTimeoutError } from '../upstream/errors.ts'

export type Controller = Dispatcher.DispatchController

/** One attempt on a backend, HTTP (this file) or gRPC (grpc-attempt.ts), as its Forwarding sees it. */
export interface UpstreamAttempt {
  readonly backend: Backend
  readonly guard: BackendGuard
  /** Headers were passed to the client. */
  readonly committed: boolean
  /** Nothing more of this attempt reaches the owner. */
  readonly done: boolean
  /** Settles the breaker once: success or failure. */
  settle (ok: boolean, err?: Error): void
  /** Settles the breaker once with no verdict: the client went away. */
  cancel (): void
  /** Abandons the attempt: no more callbacks reach the owner. */
  abort (reason: Error): void
  /** Backpressure from the client: stop and restart reading the response. */
  pause (): void
  resume (): void
}

/** What an attempt needs from the request-level orchestrator (forward.ts). */
export interface AttemptOwner {
  /** A 5xx arrived: true when the owner retried or fell back instead of passing it on. */
  divert (a: UpstreamAttempt, kind: FailureKind, headers: Record<string, string | string[] | undefined>): boolean
  commit (a: UpstreamAttempt, status: number, headers: Record<string, string | string[] | undefined>): void
  data (a: UpstreamAttempt, chunk: Buffer): void
  end (a: UpstreamAttempt): void
  failed (a: UpstreamAttempt, kind: FailureKind | 'cancelled', err: Error): void
  requestSent (): void
}

/**
 * What a finished attempt points at instead of its Forwarding. undici (and grpc-js) keep a
 * finished request's handler for a while; pointing it here lets the request it served (the
 * exchange, req and res, buffers) die young instead of being promoted by every scavenge.
 */
export const DETACHED: AttemptOwner = Object.freeze({
  divert: () => false,
  commit: () => {},
  data: () => {},
  end: () => {},
  failed: () => {},
  requestSent: () => {}
})

/**
 * What HTTP and gRPC attempts share: the owner link, the breaker verdict (given once), the
 * bulkhead slot (freed once, ending the CLIENT span) and letting go of the request at the end.
 */
export class AttemptCore {
  owner: AttemptOwner
  readonly backend: Backend
  readonly guard: BackendGuard
  readonly #settler: AttemptSettler
  /** The attempt's CLIENT span, set by the Forwarding that launched it; ends with the slot's release. */
  span: AttemptSpan | null = null
  /** Headers were passed to the client. */
  committed = false
  /** Nothing more of this attempt reaches the owner. */
  done = false
  #settled = false
  #released = false

  constructor (owner: AttemptOwner, backend: Backend, guard: BackendGuard, settler: AttemptSettler) {
    this.owner = owner
    this.backend = backend
    this.guard = guard
    this.#settler = settler
    guard.inflight++
  }

  /** Settles the breaker once: success for < 500, failure otherwise. */
  settle (ok: boolean, err?: Error): void {
    if (this.#settled) return
    this.#settled = true
    if (ok) this.#settler.success()
    else this.#settler.failure(err ?? new Error('attempt failed'))
  }

  /** Settles the breaker once with no verdict: the client went away. */
  cancel (): void {
    if (this.#settled) return
    this.#settled = true
    this.#settler.cancel()
  }

  /**
   * Frees the attempt's bulkhead slot once, when nothing more of it is in flight: its response
   * ended or failed, or it was abandoned. A response still streaming its body holds the slot.
   * The CLIENT span ends with `status` (HTTP status or gRPC code).
   */
  protected releaseSlot (status: number, err?: Error): void {
    if (this.#released) return
    this.#released = true
    this.guard.inflight--
    this.span?.end(status, err)
  }

  /** Nothing more reaches the owner: drop the references to the request (see DETACHED). */
  protected detach (): void {
    this.owner = DETACHED
    this.span = null
  }
}

export class Attempt extends AttemptCore implements Dispatcher.DispatchHandler, UpstreamAttempt {
  controller: Controller | null = null
  /** The response status, once it arrived. */
  #status = 0
  #abortReason: Error | null = null
  #perTry: NodeJS.Timeout | null = null

  constructor (owner: AttemptOwner, backend: Backend, guard: BackendGuard, settler: AttemptSettler, perTryMs: number) {
    super(owner, backend, guard, settler)
    if (perTryMs > 0) {
      this.#perTry = setTimeout(() => {
        if (this.done || this.committed) return
        const err = new UpstreamTimeoutError('perTry', perTryMs)
        const owner = this.owner
        this.abort(err)
        owner.failed(this, 'timeout', err)
      }, perTryMs)
    }
  }

  #release (err?: Error): void { this.releaseSlot(this.#status, err) }

  /** Abandons the attempt: no more callbacks reach the owner; the dispatch is aborted. */
  abort (reason: Error): void {
    this.done = true
    this.#release(reason)
    this.#clearPerTry()
    if (this.controller !== null) {
      if (!this.controller.aborted) this.controller.abort(reason)
    } else {
      this.#abortReason = reason
    }
    this.detach()
  }

  pause (): void { this.controller?.pause() }
  resume (): void { this.controller?.resume() }

  #clearPerTry (): void {
    if (this.#perTry !== null) { clearTimeout(this.#perTry); this.#perTry = null }
  }

  onRequestStart (controller: Controller): void {
    this.controller = controller
    if (this.#abortReason !== null) controller.abort(this.#abortReason)
  }

  onBodySent (): void {
    // Upload progress: the backend is reading, so its per-try clock starts again.
    if (this.#perTry !== null) this.#perTry.refresh()
  }

  onRequestSent (): void {
    if (this.#perTry !== null) this.#perTry.refresh()
    if (!this.done) this.owner.requestSent()
  }

  onResponseStart (controller: Controller, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    if (this.done) { if (!controller.aborted) controller.abort(this.#abortReason ?? new Error('attempt abandoned')); return }
    if (statusCode < 200) return // 1xx: Node's server sends its own 100-continue
    this.#status = statusCode
    this.#clearPerTry()
    if (statusCode >= 500) {
      const kind: FailureKind = statusCode === 502 ? 'status_502' : statusCode === 503 ? 'status_503' : statusCode === 504 ? 'status_504' : 'status_5xx'
      if (this.owner.divert(this, kind, headers)) return
    }
    this.committed = true
    this.owner.commit(this, statusCode, headers)
  }

  onResponseData (_controller: Controller, chunk: Buffer): void {
    if (this.done || !this.committed) return
    this.owner.data(this, chunk)
  }

  onResponseEnd (): void {
    if (this.done) return
    this.done = true
    this.#release()
    this.owner.end(this)
    this.detach()
  }

  protected override detach (): void {
    super.detach()
    // undici's controller leads back to its request state, which the handler must not keep.
    this.controller = null
  }


  onResponseError (_controller: Controller, err: Error): void {
    if (this.done) return
    this.done = true
    this.#release(err)
    this.#clearPerTry()
    const outcome = classify(err)
    const kind: FailureKind | 'cancelled' = outcome === 'upstream_unreachable'
      ? 'connect_error'
      : outcome === 'upstream_timeout' ? 'timeout' : outcome === 'client_closed' ? 'cancelled' : 'reset'
    this.owner.failed(this, kind, err)
    this.detach()
  }
}
