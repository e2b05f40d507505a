/**
 * Which failures may be retried or fall back, and for which methods (spec §2.3, §3). Pure.
 */
import type { IncomingHttpHeaders } from 'node:http'

/** How an attempt ended, before any response byte reached the client. */
export type FailureKind =
  | 'connect_error' // no connection could be made: the request never reached the backend
  | 'circuit_open' // the breaker refused it: never reached the backend
  | 'overloaded' // maxInFlight reached: never reached the backend
  | 'reset' // the connection closed or reset before a response
  | 'timeout' // perTryTimeout passed before the response headers
  | 'status_502' | 'status_503' | 'status_504' // the backend answered with a retryable 5xx
  | 'status_5xx' // any other 5xx: no retry, but a fallback may serve
  | 'unavailable' // a gRPC backend answered UNAVAILABLE

/** Methods RFC 9110 §9.2.2 calls idempotent (TRACE aside): safe to send twice. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'])

export function neverReached (kind: FailureKind): boolean {
  return kind === 'connect_error' || kind === 'circuit_open' || kind === 'overloaded'
}

/** Spec §3: connect failures, resets before a response, 502/503/504, gRPC UNAVAILABLE and per-try timeouts. */
export function retryableKind (kind: FailureKind): boolean {
  return kind === 'connect_error' || kind === 'reset' || kind === 'timeout' ||
    kind === 'status_502' || kind === 'status_503' || kind === 'status_504' || kind === 'unavailable'
}

/**
 * GET/HEAD/OPTIONS/PUT/DELETE; POST/PATCH carrying an Idempotency-Key; any method when the
 * request provably never reached the backend.
 */
export function methodMayRetry (method: string, headers: IncomingHttpHeaders, kind: FailureKind): boolean {
  if (neverReached(kind) || IDEMPOTENT.has(method)) return true
  return headers['idempotency-key'] !== undefined
}

/**
 * Spec §2.3: a fallback serves on connect error, breaker open, overload, timeout, reset or
 * 5xx; for POST and PATCH only when the request provably never reached the backend, unless
 * the route says `fallbackAnyMethod: true`.
 */
export function methodMayFallBack (method: string, kind: FailureKind, anyMethod: boolean): boolean {
  if (anyMethod || neverReached(kind)) return true
  return method !== 'POST' && method !== 'PATCH'
}

export function kindOfStatus (status: number): FailureKind | null {
  if (status < 500) return null
  if (status === 502) return 'status_502'
  if (status === 503) return 'status_503'
  if (status === 504) return 'status_504'
  return 'status_5xx'
}
