/**
 * Spec §3: `connectTimeout`, `perTryTimeout` and `timeout` (whole request) are enforced to
 * within 10 ms. The lower bound (never early, allowing 1 ms of timer rounding) is checked
 * on every try, by the client and by the gateway's own access-log `durationMs`; the upper
 * bound by `durationMs` too, best of up to three tries, so that a CI machine descheduling
 * the test process cannot fail it while a gateway that is really late always does.
 */
import t, { type Test } from 'tap'
import { request } from 'undici'
import { hangingServer, partialBodyServer, routeAllTo, unansweredListener } from '../helpers/faults.ts'
import { accessLine, metricsText, req, startGateway, type TestGateway } from '../helpers/gateway.ts'

const PRECISION_MS = 10
const TRIES = 3

interface Try { elapsedMs: number, durationMs: number }

/**
 * Runs `once` up to three times (path `/try-N` each), asserting on every try that the client
 * waited at least `ms`, and that at least one try's access-log durationMs is within
 * PRECISION_MS of `ms`. Returns the tries, for the report.
 */
async function precise (t: Test, g: TestGateway, ms: number, once: (path: string) => Promise<void>): Promise<Try[]> {
  const tries: Try[] = []
  for (let i = 0; i < TRIES; i++) {
    const path = `/try-${i}`
    const start = performance.now()
    await once(path)
    const elapsedMs = performance.now() - start
    t.ok(elapsedMs >= ms - 1, `try ${i}: not before the deadline (${elapsedMs.toFixed(1)} ms ≥ ${ms} ms)`)
    const access = await accessLine(g, path, 1_000)
    t.ok((access.durationMs as number) >= ms - 1, `try ${i}: the gateway did not give up early (durationMs ${String(access.durationMs)})`)
    tries.push({ elapsedMs, durationMs: access.durationMs as number })
    if ((access.durationMs as number) <= ms + PRECISION_MS) break
  }
  const best = Math.min(...tries.map((x) => x.durationMs))
  t.ok(best <= ms + PRECISION_MS, `within ${PRECISION_MS} ms of ${ms} ms: best durationMs ${best} over ${tries.length} tries`)
  t.comment(`deadline ${ms} ms: durationMs ${tries.map((x) => x.durationMs).join(', ')}; client ${tries.map((x) => x.elapsedMs.toFixed(1)).join(', ')}`)
  return tries
}

t.test('a backend that accepts but never answers gets a 504 upstream_timeout when perTryTimeout passes', async (t) => {
  const backend = await hangingServer(t)
  const g = await startGateway(t, routeAllTo(backend.url, ', perTryTimeout: 300ms, timeout: 5s'))
  await precise(t, g, 300, async (path) => {
    const r = await req(g.url + path)
    t.equal(r.status, 504)
    t.equal(r.headers['content-type'], 'application/problem+json')
    t.match(r.json(), { status: 504, code: 'upstream_timeout', route: 'all' })
  })
  t.match(await accessLine(g, '/try-0'), { status: 504, code: 'upstream_timeout', backend: 'b' })
  await backend.waitClosed(1)
  t.pass('the gateway closed its connection to the backend that timed out')
})

t.test('the whole-request timeout, when smaller than perTryTimeout, gives a 504 upstream_timeout when it passes', async (t) => {
  const backend = await hangingServer(t)
  // Route keys override the backend's.
  const g = await startGateway(t, routeAllTo(backend.url, ', timeout: 5s', '    timeout: 200ms\n    perTryTimeout: 2s\n'))
  await precise(t, g, 200, async (path) => {
    const r = await req(g.url + path)
    t.equal(r.status, 504)
    t.match(r.json(), { code: 'upstream_timeout' })
  })
  t.match(await metricsText(g), /figway_local_replies_total\{code="upstream_timeout"\} [1-3]\n/)
})

t.test('a backend that sends headers and then stalls its body past the timeout has the client connection cut', async (t) => {
  const backend = await partialBodyServer(t, { length: 100_000, sent: 1_000, reset: false })
  const g = await startGateway(t, routeAllTo(backend.url, ', timeout: 250ms, perTryTimeout: 200ms'))
  await precise(t, g, 250, async (path) => {
    const r = await request(g.url + path)
    t.equal(r.statusCode, 200, 'the headers went out before the stall')
    await t.rejects(r.body.arrayBuffer(), 'the response cannot be completed')
  })
  t.match(await accessLine(g, '/try-0'), { status: 200, code: 'upstream_timeout' })
})

t.test('a backend that never completes the TCP handshake gets a 502 upstream_unreachable when connectTimeout passes', async (t) => {
  const backend = await unansweredListener(t)
  const g = await startGateway(t, routeAllTo(backend.url, ', connectTimeout: 200ms, perTryTimeout: 2s, timeout: 3s'))
  await precise(t, g, 200, async (path) => {
    const r = await req(g.url + path)
    t.equal(r.status, 502)
    t.match(r.json(), { status: 502, code: 'upstream_unreachable' })
  })
})
