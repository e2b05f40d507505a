/**
 * Spec §3: the retry budget per backend. Over a sliding window of 10 s (ten one-second
 * buckets), retries may add at most `ratio` × requests + `minPerSecond` × 10. Clocks are
 * explicit (nowMs), so window edges are exact.
 */
import t from 'tap'
import { BUDGET_WINDOW_S, RetryBudget } from '../../../src/resilience/budget.ts'

/** A second boundary, so `T0 + k·1000` starts bucket k. */
const T0 = 1_700_000_000_000

/** Takes retries at `nowMs` until the budget says no; how many it gave. */
function drain (b: RetryBudget, nowMs: number, max = 100_000): number {
  let n = 0
  while (n < max && b.tryRetry(nowMs)) n++
  return n
}

t.test('with no requests, the floor is minPerSecond × 10 retries', async (t) => {
  t.equal(BUDGET_WINDOW_S, 10)
  t.equal(drain(new RetryBudget(0.2, 10), T0), 100)
  t.equal(drain(new RetryBudget(0.2, 0), T0), 0, 'no floor, no requests: no retry')
  t.equal(drain(new RetryBudget(0, 0), T0), 0)
  t.equal(drain(new RetryBudget(0.2, 0.5), T0), 5, 'a fractional floor per second still adds up over the window')
})

t.test('each request adds `ratio` of a retry', async (t) => {
  const b = new RetryBudget(0.2, 10)
  for (let i = 0; i < 50; i++) b.request(T0 + i)
  t.equal(drain(b, T0 + 100), 110, '0.2 × 50 + 100')
  t.notOk(b.tryRetry(T0 + 200))
  for (let i = 0; i < 4; i++) b.request(T0 + 300)
  t.notOk(b.tryRetry(T0 + 300), '4 more requests are 0.8 of a retry: not yet one')
  b.request(T0 + 300)
  t.ok(b.tryRetry(T0 + 300), 'the fifth makes it a whole retry')
  t.notOk(b.tryRetry(T0 + 300))

  const half = new RetryBudget(0.5, 0)
  for (let i = 0; i < 10; i++) half.request(T0)
  t.equal(drain(half, T0), 5, 'ratio 0.5 with no floor: 5 retries for 10 requests')
  const all = new RetryBudget(1, 0)
  for (let i = 0; i < 7; i++) all.request(T0)
  t.equal(drain(all, T0), 7, 'ratio 1: one retry per request')
})

t.test('the budget is shared by all requests in the window, whatever second they came in', async (t) => {
  const b = new RetryBudget(0.5, 0)
  for (let s = 0; s < 10; s++) b.request(T0 + s * 1000 + 500)
  t.equal(drain(b, T0 + 9_900), 5, '10 requests spread over 10 s: 5 retries')
})

t.test('requests and retries leave the window after 10 s, a bucket at a time', async (t) => {
  const b = new RetryBudget(0.2, 10)
  t.equal(drain(b, T0), 100, 'the floor spent in second 0')
  t.notOk(b.tryRetry(T0 + 5_000), 'still spent 5 s later')
  t.notOk(b.tryRetry(T0 + 9_999), 'still spent at 9.999 s: second 0 is in the window')
  t.ok(b.tryRetry(T0 + 10_000), 'at 10 s second 0 has left the window')
  t.equal(drain(b, T0 + 10_000), 99, 'and its whole floor is back (one just taken)')

  const r = new RetryBudget(1, 0)
  for (let i = 0; i < 20; i++) r.request(T0 + 2_000)
  for (let i = 0; i < 5; i++) r.request(T0 + 6_000)
  t.equal(drain(r, T0 + 6_000), 25)
  t.equal(drain(r, T0 + 11_999), 0, 'second 2 is still in the window at 11.999 s')
  // At 12 s the 20 requests of second 2 leave; the 25 retries (all in second 6) stay.
  t.equal(drain(r, T0 + 12_000), 0, '5 requests left against 25 retries: nothing')
  for (let i = 0; i < 21; i++) r.request(T0 + 13_000)
  t.equal(drain(r, T0 + 13_000), 1, '26 requests against 25 retries: one')
  t.equal(drain(r, T0 + 16_000), 20, 'at 16 s the 25 retries and 5 requests of second 6 leave: 21 requests and 1 retry in the window')
})

t.test('after a long idle gap everything has left the window', async (t) => {
  const b = new RetryBudget(0.2, 10)
  for (let i = 0; i < 1_000; i++) b.request(T0)
  t.equal(drain(b, T0), 300)
  t.equal(drain(b, T0 + 3_600_000), 100, 'an hour later: just the floor')
  t.equal(drain(b, T0 + 3_610_000), 100, 'and again ten seconds after that')
})

t.test('the window slides: a steady stream keeps a steady budget', async (t) => {
  // 100 requests a second for 60 s, each asking for one retry; ratio 0.2 and a floor of 1/s.
  const b = new RetryBudget(0.2, 1)
  const perWindow: number[] = []
  const granted: number[] = []
  for (let ms = 0; ms < 60_000; ms += 10) {
    b.request(T0 + ms)
    granted.push(b.tryRetry(T0 + ms) ? ms : -1)
  }
  const times = granted.filter((ms) => ms >= 0)
  // In any 10 s (ten whole seconds), retries stay within 0.2 × 1000 requests + 10.
  for (let s = 0; s + 10 <= 60; s++) perWindow.push(times.filter((ms) => ms >= s * 1000 && ms < (s + 10) * 1000).length)
  t.ok(perWindow.every((n) => n <= 210), `at most 210 retries in any 10 s window: ${Math.max(...perWindow)}`)
  t.ok(perWindow.slice(1).every((n) => n >= 190), `and the budget is used, not starved: min ${Math.min(...perWindow.slice(1))}`)
})
