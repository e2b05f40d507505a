/**
 * Spec §3: the retry budget per backend. Over a sliding 10 s window, retries may add at most
 * `ratio` × requests + `minPerSecond` × 10; past it a failure is not retried and
 * figway_retry_budget_exhausted_total{backend} counts. Checked at the backend, which counts
 * every request it receives, against a backend that always fails.
 *
 * Every test here runs well inside 9 s, so no second of its traffic leaves the budget's
 * window (ten one-second buckets: the oldest leaves only once the clock is ten buckets on)
 * and the bounds hold exactly, with no slack for bucket edges; each test asserts its run
 * time to keep that premise true.
 */
import t from 'tap'
import { routeAllTo, scriptedBackend } from '../helpers/faults.ts'
import { agent, req, scrape, startGateway, type TestGateway } from '../helpers/gateway.ts'

/** Retries on, quick backoff, the given budget; a breaker that never opens (every attempt fails on purpose). */
function defaults (budget: string, attempts = 3): string {
  return [
    'defaults:',
    '  timeout: 5s',
    '  perTryTimeout: 1s',
    `  retry: { attempts: ${attempts}, backoff: { base: 1ms, max: 4ms }, budget: ${budget} }`,
    '  breaker: { errorRate: 1, minRequests: 100000, consecutiveFailures: 100000 }',
    ''
  ].join('\n')
}

/** Sum of the samples of `name` whose labels include `labels`. */
async function total (g: TestGateway, name: string, labels: string): Promise<number> {
  let sum = 0
  for (const [k, v] of await scrape(g)) if (k.startsWith(name + '{') && k.includes(labels)) sum += v
  return sum
}

/** Sends `n` GETs to `path-i`, `lanes` at a time; the statuses, in order of i. */
async function load (t: Parameters<typeof agent>[0], url: string, n: number, lanes: number): Promise<number[]> {
  const dispatcher = agent(t, lanes)
  const statuses: number[] = new Array<number>(n)
  await Promise.all(Array.from({ length: lanes }, async (_, lane) => {
    for (let i = lane; i < n; i += lanes) statuses[i] = (await req(`${url}-${i}`, { dispatcher })).status
  }))
  return statuses
}

t.test('under a sustained total outage, retries stay within ratio × requests + minPerSecond × 10', async (t) => {
  // About a second of traffic, so it spans a bucket boundary or two of the window.
  const REQUESTS = 600
  const RATIO = 0.2
  const MIN_PER_SECOND = 10
  const backend = await scriptedBackend(t, () => 503)
  const g = await startGateway(t, routeAllTo(backend.url), defaults(`{ ratio: ${RATIO}, minPerSecond: ${MIN_PER_SECOND} }`))
  const started = performance.now()
  const statuses = await load(t, `${g.url}/outage`, REQUESTS, 10)
  const seconds = (performance.now() - started) / 1000
  t.ok(seconds < 9, `the run took ${seconds.toFixed(2)} s: all of it inside one budget window`)
  t.ok(statuses.every((s) => s === 503), 'every request ends with the backend\'s 503')

  const arrivals = backend.count()
  const retries = arrivals - REQUESTS
  const ceiling = REQUESTS * RATIO + MIN_PER_SECOND * 10
  t.ok(arrivals <= REQUESTS * (1 + RATIO) + MIN_PER_SECOND * 10, `the backend saw ${arrivals} requests ≤ ${REQUESTS} × ${1 + RATIO} + ${MIN_PER_SECOND * 10}`)
  // Without a budget, 3 attempts each would be 900. Every request wants two retries, so the
  // budget is spent as fast as it accrues: all of it, bar the last request's share.
  t.ok(retries >= ceiling - 2, `and the budget was used, not starved: ${retries} retries of ${ceiling} allowed`)
  t.equal(await total(g, 'figway_retries_total', 'backend="b"'), retries, 'figway_retries_total counts exactly the extra arrivals')
  t.equal(await total(g, 'figway_retries_total', 'reason="status_503"'), retries, 'all with reason status_503')
  const exhausted = await total(g, 'figway_retry_budget_exhausted_total', 'backend="b"')
  t.ok(exhausted > 0, `figway_retry_budget_exhausted_total{backend="b"} = ${exhausted}`)
  // A request is refused a retry at most once (then its 503 goes out), and every request that
  // did not get both of its retries was refused one.
  const perRequest = new Map<string, number>()
  for (const a of backend.arrivals) perRequest.set(a.path, (perRequest.get(a.path) ?? 0) + 1)
  t.equal(perRequest.size, REQUESTS)
  t.equal(exhausted, [...perRequest.values()].filter((n) => n < 3).length, 'one refusal per request that was not retried in full')
  t.equal(await total(g, 'figway_upstream_attempts_total', 'outcome="5xx"'), arrivals, 'every arrival is a 5xx attempt')
  t.comment(`${REQUESTS} requests in ${seconds.toFixed(2)} s: ${arrivals} backend requests (${retries} retries, bound ${ceiling}); budget refused ${exhausted} requests`)
})

t.test('minPerSecond alone: exactly minPerSecond × 10 retries in the window', async (t) => {
  const backend = await scriptedBackend(t, () => 503)
  const g = await startGateway(t, routeAllTo(backend.url), defaults('{ ratio: 0, minPerSecond: 2 }', 2))
  const started = performance.now()
  const statuses = await load(t, `${g.url}/floor`, 30, 1)
  t.ok(performance.now() - started < 9_000)
  t.ok(statuses.every((s) => s === 503))
  t.equal(backend.count(), 30 + 20, '20 retries, then none')
  // Sequential: the first 20 requests got their retry, the last 10 did not.
  t.same(Array.from({ length: 30 }, (_, i) => backend.count(`/floor-${i}`)), Array.from({ length: 30 }, (_, i) => i < 20 ? 2 : 1))
  t.equal(await total(g, 'figway_retry_budget_exhausted_total', 'backend="b"'), 10)
  t.equal(await total(g, 'figway_retries_total', 'backend="b"'), 20)
})

t.test('ratio alone: one retry per 1/ratio requests', async (t) => {
  const backend = await scriptedBackend(t, () => 503)
  const g = await startGateway(t, routeAllTo(backend.url), defaults('{ ratio: 0.5, minPerSecond: 0 }', 2))
  const started = performance.now()
  await load(t, `${g.url}/ratio`, 40, 1)
  t.ok(performance.now() - started < 9_000)
  t.equal(backend.count(), 40 + 20, 'ratio 0.5 of 40 requests: 20 retries')
  // Request k may retry once 0.5 × k covers one more retry: every second request.
  t.same(Array.from({ length: 40 }, (_, i) => backend.count(`/ratio-${i}`)), Array.from({ length: 40 }, (_, i) => i % 2 === 1 ? 2 : 1))
  t.equal(await total(g, 'figway_retry_budget_exhausted_total', 'backend="b"'), 20)
})

t.test('the budget is per backend: one spent on a failing backend leaves another its own', async (t) => {
  const sick = await scriptedBackend(t, () => 503)
  const flaky = await scriptedBackend(t, (a) => a.n === 1 ? 503 : 200)
  const g = await startGateway(t, {
    'r.yaml': `backends:\n  sick: { url: "${sick.url}" }\n  flaky: { url: "${flaky.url}" }\nroutes:\n` +
      '  - name: sick\n    match: { path: /sick/** }\n    to: sick\n' +
      '  - name: flaky\n    match: { path: /flaky/** }\n    to: flaky\n'
  }, defaults('{ ratio: 0, minPerSecond: 1 }', 2))
  await load(t, `${g.url}/sick/x`, 15, 1)
  t.equal(sick.count(), 15 + 10, "sick spent its 10 retries and was refused more")
  t.equal(await total(g, 'figway_retry_budget_exhausted_total', 'backend="sick"'), 5)
  const statuses = await load(t, `${g.url}/flaky/x`, 10, 1)
  t.same(statuses, new Array(10).fill(200), "flaky's own budget of 10 retried each of its 503s")
  t.equal(flaky.count(), 20)
  t.equal(await total(g, 'figway_retry_budget_exhausted_total', 'backend="flaky"'), 0)
})
