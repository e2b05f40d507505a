/**
 * Spec §2.3 and §3: which failures are retried, and which methods may be retried or served
 * from a fallback after which failure. Tables, checked whole.
 */
import t from 'tap'
import { kindOfStatus, methodMayFallBack, methodMayRetry, neverReached, retryableKind, type FailureKind } from '../../../src/resilience/retry.ts'

const KINDS: FailureKind[] = ['connect_error', 'circuit_open', 'overloaded', 'reset', 'timeout', 'status_502', 'status_503', 'status_504', 'status_5xx', 'unavailable']
const REACHED: FailureKind[] = ['reset', 'timeout', 'status_502', 'status_503', 'status_504', 'status_5xx']
const METHODS = ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'POST', 'PATCH']

t.test('retryableKind: connect failures, resets, per-try timeouts, 502/503/504, gRPC UNAVAILABLE', async (t) => {
  const want: Record<FailureKind, boolean> = {
    connect_error: true,
    unavailable: true,
    reset: true,
    timeout: true,
    status_502: true,
    status_503: true,
    status_504: true,
    status_5xx: false,
    // Retrying into an open breaker or a full bulkhead would only add load to it.
    circuit_open: false,
    overloaded: false
  }
  t.same(Object.fromEntries(KINDS.map((k) => [k, retryableKind(k)])), want)
})

t.test('neverReached: only failures where no request was sent', async (t) => {
  t.same(KINDS.filter(neverReached), ['connect_error', 'circuit_open', 'overloaded'])
})

t.test('methodMayRetry: idempotent methods always; POST/PATCH with an Idempotency-Key or when never reached', async (t) => {
  for (const m of METHODS) {
    const idempotent = !['POST', 'PATCH'].includes(m)
    for (const k of KINDS) {
      t.equal(methodMayRetry(m, {}, k), idempotent || neverReached(k), `${m} after ${k}, no key`)
      t.equal(methodMayRetry(m, { 'idempotency-key': 'k-1' }, k), true, `${m} after ${k}, with a key`)
    }
  }
  t.notOk(methodMayRetry('POST', { 'x-idempotency-key': 'k' }, 'reset'), 'only the Idempotency-Key header counts')
  t.notOk(methodMayRetry('POST', {}, 'status_503'))
  t.ok(methodMayRetry('POST', {}, 'connect_error'))
  t.notOk(methodMayRetry('CONNECT', {}, 'timeout'))
  t.notOk(methodMayRetry('TRACE', {}, 'timeout'), 'TRACE is not in the list')
})

t.test('methodMayFallBack: any failure for idempotent methods; POST/PATCH only never reached, or with fallbackAnyMethod', async (t) => {
  for (const m of METHODS) {
    const idempotent = !['POST', 'PATCH'].includes(m)
    for (const k of KINDS) {
      t.equal(methodMayFallBack(m, k, false), idempotent || neverReached(k), `${m} after ${k}`)
      t.equal(methodMayFallBack(m, k, true), true, `${m} after ${k}, fallbackAnyMethod`)
    }
  }
  for (const k of REACHED) t.notOk(methodMayFallBack('POST', k, false), `POST after ${k} reached the backend: no fallback`)
})

t.test('kindOfStatus', async (t) => {
  t.same([200, 204, 304, 400, 404, 429, 499].map(kindOfStatus), [null, null, null, null, null, null, null])
  t.same([500, 501, 502, 503, 504, 505, 599].map(kindOfStatus), ['status_5xx', 'status_5xx', 'status_502', 'status_503', 'status_504', 'status_5xx', 'status_5xx'])
})
