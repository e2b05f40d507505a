/** Per-backend policy, resolved: gateway `defaults:`, then the backend's keys, then the route's. */
import {
  DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_MAX_IN_FLIGHT, DEFAULT_PER_TRY_TIMEOUT_MS, DEFAULT_RETRY_ATTEMPTS,
  DEFAULT_RETRY_BASE_MS, DEFAULT_RETRY_MAX_MS, DEFAULT_TIMEOUT_MS, DEFAULT_CONSECUTIVE_FAILURES, type PolicyFile
} from './schema.ts'

export interface Policy {
  /** Whole request, all attempts included; 0 = none. */
  readonly timeoutMs: number
  /** One attempt, until the response headers arrive; 0 = none. */
  readonly perTryTimeoutMs: number
  readonly connectTimeoutMs: number
  readonly retry: { readonly attempts: number, readonly baseMs: number, readonly maxMs: number, readonly budgetRatio: number, readonly budgetMinPerSecond: number }
  readonly breaker: { readonly errorRate: number, readonly minRequests: number, readonly windowMs: number, readonly openForMs: number, readonly consecutiveFailures: number }
  readonly maxInFlight: number
}

export const BUILTIN_POLICY: Policy = Object.freeze({
  timeoutMs: DEFAULT_TIMEOUT_MS,
  perTryTimeoutMs: DEFAULT_PER_TRY_TIMEOUT_MS,
  connectTimeoutMs: DEFAULT_CONNECT_TIMEOUT_MS,
  retry: Object.freeze({ attempts: DEFAULT_RETRY_ATTEMPTS, baseMs: DEFAULT_RETRY_BASE_MS, maxMs: DEFAULT_RETRY_MAX_MS, budgetRatio: 0.2, budgetMinPerSecond: 10 }),
  breaker: Object.freeze({ errorRate: 0.5, minRequests: 20, windowMs: 10_000, openForMs: 30_000, consecutiveFailures: DEFAULT_CONSECUTIVE_FAILURES }),
  maxInFlight: DEFAULT_MAX_IN_FLIGHT
})

export function mergePolicy (base: Policy, o: PolicyFile | undefined): Policy {
  if (o === undefined) return base
  return Object.freeze({
    timeoutMs: o.timeout ?? base.timeoutMs,
    perTryTimeoutMs: o.perTryTimeout ?? base.perTryTimeoutMs,
    connectTimeoutMs: o.connectTimeout ?? base.connectTimeoutMs,
    retry: Object.freeze({
      attempts: o.retry?.attempts ?? base.retry.attempts,
      baseMs: o.retry?.backoff?.base ?? base.retry.baseMs,
      maxMs: o.retry?.backoff?.max ?? base.retry.maxMs,
      budgetRatio: o.retry?.budget?.ratio ?? base.retry.budgetRatio,
      budgetMinPerSecond: o.retry?.budget?.minPerSecond ?? base.retry.budgetMinPerSecond
    }),
    breaker: Object.freeze({
      errorRate: o.breaker?.errorRate ?? base.breaker.errorRate,
      minRequests: o.breaker?.minRequests ?? base.breaker.minRequests,
      windowMs: o.breaker?.window ?? base.breaker.windowMs,
      openForMs: o.breaker?.openFor ?? base.breaker.openForMs,
      consecutiveFailures: o.breaker?.consecutiveFailures ?? base.breaker.consecutiveFailures
    }),
    maxInFlight: o.maxInFlight ?? base.maxInFlight
  })
}
