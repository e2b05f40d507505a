/**
 * Spec §3: retry delays. fullJitterMs draws from [0, min(max, base·2^n)) for the n-th retry;
 * retryAfterMs reads a backend's Retry-After (delay-seconds or an HTTP-date, RFC 9110
 * §10.2.3) and ignores anything else.
 */
import t from 'tap'
import { fullJitterMs, retryAfterMs } from '../../../src/resilience/backoff.ts'

t.test('fullJitterMs: the ceiling doubles from base per retry and stops at max', async (t) => {
  const top = (): number => 1 - Number.EPSILON
  const cases: Array<[number, number, number, number]> = [
    // retry, base, max, ceiling
    [0, 25, 250, 25],
    [1, 25, 250, 50],
    [2, 25, 250, 100],
    [3, 25, 250, 200],
    [4, 25, 250, 250],
    [9, 25, 250, 250],
    [60, 25, 250, 250],
    [0, 300, 250, 250]
  ]
  for (const [n, base, max, ceiling] of cases) {
    t.equal(fullJitterMs(n, base, max, () => 0), 0, `retry ${n}: the floor is 0`)
    const hi = fullJitterMs(n, base, max, top)
    t.ok(hi < ceiling && hi > ceiling - 1e-9, `retry ${n} (base ${base}, max ${max}): just under ${ceiling} (${hi})`)
    t.equal(fullJitterMs(n, base, max, () => 0.5), ceiling / 2, `retry ${n}: scales the random draw`)
  }
  t.equal(fullJitterMs(3, 0, 250, top), 0, 'a zero base never waits')
  t.equal(fullJitterMs(3, 25, 0, top), 0, 'a zero max never waits')
})

t.test('fullJitterMs with Math.random: every draw inside the bounds, spread over them, mean about half', async (t) => {
  for (const [n, ceiling] of [[0, 20], [1, 40], [2, 80], [5, 100]] as const) {
    const draws = Array.from({ length: 20_000 }, () => fullJitterMs(n, 20, 100))
    t.ok(draws.every((d) => d >= 0 && d < ceiling), `retry ${n}: all draws in [0, ${ceiling})`)
    const mean = draws.reduce((a, b) => a + b, 0) / draws.length
    // Uniform on [0, c): the mean of 20,000 draws is c/2 ± 0.002·c (one standard error).
    t.ok(Math.abs(mean - ceiling / 2) < ceiling * 0.02, `retry ${n}: mean ${mean.toFixed(2)} ≈ ${ceiling / 2}`)
    // Each tenth of the range gets its share (10% ± a few points): not a fixed ladder.
    const deciles = new Array<number>(10).fill(0)
    for (const d of draws) deciles[Math.floor((d / ceiling) * 10)]!++
    t.ok(deciles.every((c) => c > draws.length * 0.08 && c < draws.length * 0.12), `retry ${n}: deciles ${deciles.join(' ')}`)
  }
})

t.test('retryAfterMs: delay-seconds', async (t) => {
  t.equal(retryAfterMs('0'), 0)
  t.equal(retryAfterMs('1'), 1_000)
  t.equal(retryAfterMs('120'), 120_000)
  t.equal(retryAfterMs(' 3 '), 3_000, 'surrounding whitespace is allowed')
  t.equal(retryAfterMs('007'), 7_000)
  t.equal(retryAfterMs(['2', '9']), 2_000, 'of repeated headers the first counts')
})

t.test('retryAfterMs: an HTTP-date is the time left until then, never negative', async (t) => {
  // HTTP-dates are GMT; the asctime form carries no zone, so run where local time is not GMT.
  const tz = process.env.TZ
  process.env.TZ = 'America/New_York'
  t.teardown(() => { if (tz === undefined) delete process.env.TZ; else process.env.TZ = tz })
  t.not(new Date(0).getTimezoneOffset(), 0, 'local time is not GMT here')
  const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT')
  t.equal(retryAfterMs('Wed, 21 Oct 2015 07:28:00 GMT', now), 0, 'now')
  t.equal(retryAfterMs('Wed, 21 Oct 2015 07:28:05 GMT', now), 5_000, 'IMF-fixdate')
  t.equal(retryAfterMs('Wednesday, 21-Oct-15 07:28:02 GMT', now), 2_000, 'obsolete RFC 850 date')
  t.equal(retryAfterMs('Wed Oct 21 07:28:03 2015', now), 3_000, 'obsolete asctime date, read as GMT whatever the local time zone')
  t.equal(retryAfterMs('Sun Nov  6 08:49:37 1994', Date.parse('Sun, 06 Nov 1994 08:49:30 GMT')), 7_000, 'asctime with a one-digit day')
  t.equal(retryAfterMs('Wed, 21 Oct 2015 07:27:00 GMT', now), 0, 'a date in the past means now')
  t.equal(retryAfterMs('Thu, 22 Oct 2015 07:28:00 GMT', now), 86_400_000, 'a day ahead')
})

t.test('retryAfterMs: absent or junk is undefined, not "retry at once"', async (t) => {
  const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT')
  t.equal(retryAfterMs(undefined, now), undefined)
  t.equal(retryAfterMs([], now), undefined)
  for (const junk of ['', ' ', 'soon', '5s', '1.5', '-1', '+5', '1e3', '0x10', 'Infinity', 'abc 12', 'tomorrow 3', 'May 5', '5 7', '2015-10-21', 'Wed, 21 Oct 2015']) {
    t.equal(retryAfterMs(junk, now), undefined, `${JSON.stringify(junk)} is not a Retry-After value`)
  }
})
