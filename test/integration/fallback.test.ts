/**
 * Spec §2.3: `fallback: NAME` serves a request from NAME when the chosen backend fails before
 * any response byte reached the client (connect error, breaker open, overload, timeout, reset,
 * 5xx after the primary's own retries), inside the same whole-request deadline. POST and
 * PATCH fall back only when the request provably never reached the backend, unless the route
 * sets `fallbackAnyMethod: true`; buffered bodies are replayed intact. The access line's
 * `fallback` names the fallback, `backend` the one that answered, and
 * figway_fallbacks_total{route,from,to,reason} counts each by its failure.
 */
import { randomBytes } from 'node:crypto'
import t, { type Test } from 'tap'
import { gatedServer, hangingServer, refusingUrl, resetBeforeHeadersServer, unansweredListener, type GatedServer } from '../helpers/faults.ts'
import { accessLine, eventually, req, scrape, startGateway, type TestGateway } from '../helpers/gateway.ts'

const ONE_ATTEMPT = 'defaults:\n  retry: { attempts: 1 }\n  breaker: { errorRate: 0.5, minRequests: 1000, window: 10s, openFor: 30s, consecutiveFailures: 1000 }\n'

/** Backend `svc` at `svcUrl` and `monolith`; route `api` to svc falling back to monolith, `routeKeys` added to it. */
function table (svcUrl: string, monoUrl: string, routeKeys = '', svcKeys = ''): Record<string, string> {
  return {
    'r.yaml': `backends:\n  svc: { url: "${svcUrl}"${svcKeys} }\n  monolith: { url: "${monoUrl}" }\nroutes:\n  - name: api\n    match: { path: /** }\n    to: svc\n    fallback: monolith\n${routeKeys}`
  }
}

async function fallbacks (g: TestGateway, reason: string): Promise<number | undefined> {
  return (await scrape(g)).get(`figway_fallbacks_total{route="api",from="svc",to="monolith",reason="${reason}"}`)
}

async function servedByMonolith (t: Test, g: TestGateway, mono: GatedServer, path: string, opts: Parameters<typeof req>[1] = {}): Promise<void> {
  const r = await req(`${g.url}${path}`, opts)
  t.equal(r.status, 200, `${path}: 200`)
  t.equal(r.headers['x-gated'], 'monolith', `${path}: served by the monolith`)
  t.match(await accessLine(g, path), { status: 200, route: 'api', backend: 'monolith', fallback: 'monolith', code: '' }, `${path}: access line`)
  t.ok(mono.received.some((x) => x.url === path), `${path}: the monolith received it`)
}

t.test('GET: connect refused → served by the fallback', async (t) => {
  const mono = await gatedServer(t, 'monolith')
  const g = await startGateway(t, table(await refusingUrl(), mono.url), ONE_ATTEMPT)
  await servedByMonolith(t, g, mono, '/orders/1')
  t.equal((await accessLine(g, '/orders/1')).attempts, 2, 'two attempts: the primary and the fallback')
  t.equal(await fallbacks(g, 'connect_error'), 1)
  const m = await scrape(g)
  t.equal(m.get('figway_upstream_attempts_total{backend="svc",outcome="connect_error"}'), 1)
  t.equal(m.get('figway_upstream_attempts_total{backend="monolith",outcome="ok"}'), 1)
})

t.test('GET: 5xx → the fallback (each status its own reason); the 5xx never reaches the client', async (t) => {
  const svc = await gatedServer(t, 'svc')
  const mono = await gatedServer(t, 'monolith')
  const g = await startGateway(t, table(svc.url, mono.url), ONE_ATTEMPT)
  for (const [status, reason] of [[500, 'status_5xx'], [502, 'status_502'], [503, 'status_503'], [504, 'status_504']] as const) {
    svc.status = status
    await servedByMonolith(t, g, mono, `/s/${status}`)
    t.equal(await fallbacks(g, reason), 1, `reason ${reason}`)
  }
  t.equal(svc.received.length, 4, 'each reached the primary once')
  t.equal(mono.received.length, 4)
})

t.test('GET: a reset before the response → the fallback', async (t) => {
  const svc = await resetBeforeHeadersServer(t)
  const mono = await gatedServer(t, 'monolith')
  const g = await startGateway(t, table(svc.url, mono.url), ONE_ATTEMPT)
  await servedByMonolith(t, g, mono, '/reset')
  t.equal(svc.heads.length, 1)
  t.equal(await fallbacks(g, 'reset'), 1)
})

t.test('GET: 5xx after the primary\'s own retries → the fallback', async (t) => {
  const svc = await gatedServer(t, 'svc', { status: 503 })
  const mono = await gatedServer(t, 'monolith')
  const g = await startGateway(t, table(svc.url, mono.url, '', ', retry: { attempts: 3, backoff: { base: 1ms, max: 5ms } }'), ONE_ATTEMPT)
  await servedByMonolith(t, g, mono, '/retried')
  t.equal(svc.received.length, 3, 'the primary had its 3 attempts first')
  t.equal((await accessLine(g, '/retried')).attempts, 4)
  t.equal(await fallbacks(g, 'status_503'), 1)
  t.equal((await scrape(g)).get('figway_retries_total{backend="svc",reason="status_503"}'), 2)
})

t.test('breaker open → the fallback, without touching the primary', async (t) => {
  const svc = await gatedServer(t, 'svc', { status: 503 })
  const mono = await gatedServer(t, 'monolith')
  const g = await startGateway(t, table(svc.url, mono.url), 'defaults:\n  retry: { attempts: 1 }\n  breaker: { errorRate: 0.5, minRequests: 100, window: 10s, openFor: 30s, consecutiveFailures: 3 }\n')
  // Each 503 is served by the monolith, and still counts against the primary's breaker.
  for (let i = 0; i < 3; i++) await servedByMonolith(t, g, mono, `/fail/${i}`)
  t.ok(await eventually(async () => (await scrape(g)).get('figway_circuit_state{backend="svc"}') === 2, 1_000), 'the primary\'s breaker opened')
  for (let i = 0; i < 5; i++) await servedByMonolith(t, g, mono, `/open/${i}`)
  t.equal(svc.received.length, 3, 'the open breaker kept the primary untouched')
  t.equal(await fallbacks(g, 'status_503'), 3)
  t.equal(await fallbacks(g, 'circuit_open'), 5)
  const body = Buffer.from('{"a":1}')
  const post = await req(`${g.url}/open-post`, { method: 'POST', body })
  t.equal(post.headers['x-gated'], 'monolith', 'a POST falls back too: it never reached the primary')
  t.same(mono.received.at(-1), { method: 'POST', url: '/open-post', body })
  t.equal((await scrape(g)).get('figway_local_replies_total{code="upstream_circuit_open"}'), undefined, 'no circuit-open reply reached a client')
})

t.test('POST: connect refused → the fallback gets the body intact', async (t) => {
  const mono = await gatedServer(t, 'monolith')
  const g = await startGateway(t, table(await refusingUrl(), mono.url), ONE_ATTEMPT)
  const body = randomBytes(256 * 1024)
  const r = await req(`${g.url}/upload`, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } })
  t.equal(r.status, 200)
  t.equal(r.headers['x-gated'], 'monolith')
  t.equal(mono.received.length, 1)
  t.equal(mono.received[0]!.method, 'POST')
  t.ok(mono.received[0]!.body.equals(body), '256 KiB body arrived byte for byte')
  t.match(await accessLine(g, '/upload'), { method: 'POST', backend: 'monolith', fallback: 'monolith', status: 200 })
  t.equal(await fallbacks(g, 'connect_error'), 1)
})

t.test('POST: a connect timeout (no SYN answered) → the fallback after connectTimeout, body intact', async (t) => {
  const svc = await unansweredListener(t)
  const mono = await gatedServer(t, 'monolith')
  const g = await startGateway(t, table(svc.url, mono.url, '', ', connectTimeout: 150ms, perTryTimeout: 2s'), ONE_ATTEMPT)
  const body = randomBytes(1024)
  const t0 = performance.now()
  const r = await req(`${g.url}/slow-connect`, { method: 'POST', body })
  const ms = performance.now() - t0
  t.equal(r.headers['x-gated'], 'monolith')
  t.ok(mono.received[0]!.body.equals(body))
  t.ok(ms >= 145 && ms < 400, `served after the connect timeout (${ms.toFixed(0)} ms)`)
  t.equal(await fallbacks(g, 'connect_error'), 1, 'a connect timeout never reached the backend')
})

t.test('POST that got a 503 from the primary: the client gets that 503, not the fallback', async (t) => {
  const svc = await gatedServer(t, 'svc', { status: 503 })
  const mono = await gatedServer(t, 'monolith')
  const g = await startGateway(t, table(svc.url, mono.url), ONE_ATTEMPT)
  const body = Buffer.from('{"order":7}')
  const r = await req(`${g.url}/orders`, { method: 'POST', body })
  t.equal(r.status, 503)
  t.equal(r.headers['x-gated'], 'svc', 'the primary\'s own response, passed through')
  t.same(r.json(), { origin: 'svc', status: 503, url: '/orders' })
  t.equal(mono.received.length, 0, 'the monolith never saw it')
  t.same(svc.received, [{ method: 'POST', url: '/orders', body }])
  t.match(await accessLine(g, '/orders'), { status: 503, backend: 'svc', fallback: '' })
  t.equal(await fallbacks(g, 'status_503'), undefined)
  const patch = await req(`${g.url}/orders/7`, { method: 'PATCH', body })
  t.equal(patch.status, 503, 'PATCH likewise')
  t.equal(mono.received.length, 0)
})

t.test('POST that got a 503 goes to the fallback when the route sets fallbackAnyMethod: true', async (t) => {
  const svc = await gatedServer(t, 'svc', { status: 503 })
  const mono = await gatedServer(t, 'monolith')
  const g = await startGateway(t, table(svc.url, mono.url, '    fallbackAnyMethod: true\n'), ONE_ATTEMPT)
  const body = randomBytes(4096)
  const r = await req(`${g.url}/orders`, { method: 'POST', body })
  t.equal(r.status, 200)
  t.equal(r.headers['x-gated'], 'monolith')
  t.ok(svc.received[0]!.body.equals(body), 'the primary got the body')
  t.ok(mono.received[0]!.body.equals(body), 'and so did the fallback, intact')
  t.match(await accessLine(g, '/orders'), { method: 'POST', backend: 'monolith', fallback: 'monolith', status: 200 })
  t.equal(await fallbacks(g, 'status_503'), 1)
})

t.test('fallback inside the same deadline: the primary hangs past perTryTimeout, the fallback answers', async (t) => {
  const svc = await hangingServer(t)
  const mono = await gatedServer(t, 'monolith', { hold: true })
  const g = await startGateway(t, table(svc.url, mono.url, '    perTryTimeout: 200ms\n    timeout: 2s\n'), ONE_ATTEMPT)
  const t0 = performance.now()
  const pending = req(`${g.url}/slow`)
  await mono.waitHeld(1)
  const reachedFallback = performance.now() - t0
  setTimeout(() => mono.release(), 100)
  const r = await pending
  const total = performance.now() - t0
  t.equal(r.status, 200)
  t.equal(r.headers['x-gated'], 'monolith')
  t.ok(reachedFallback >= 195 && reachedFallback < 350, `the fallback was asked once perTryTimeout passed (${reachedFallback.toFixed(0)} ms)`)
  t.ok(total >= 295 && total < 500, `total ${total.toFixed(0)} ms ≈ perTryTimeout 200 ms + the fallback's 100 ms`)
  t.equal(svc.heads.length, 1)
  const line = await accessLine(g, '/slow')
  t.match(line, { status: 200, backend: 'monolith', fallback: 'monolith', attempts: 2 })
  t.ok((line.durationMs as number) >= 295, `the gateway's own duration ${String(line.durationMs)} ms`)
  t.equal(await fallbacks(g, 'timeout'), 1)
  t.equal((await scrape(g)).get('figway_upstream_attempts_total{backend="svc",outcome="timeout"}'), 1)
})

t.test('the fallback gets only what is left of the deadline', async (t) => {
  const svc = await hangingServer(t)
  const mono = await gatedServer(t, 'monolith', { hold: true })
  const g = await startGateway(t, table(svc.url, mono.url, '    perTryTimeout: 150ms\n    timeout: 300ms\n'), ONE_ATTEMPT)
  const t0 = performance.now()
  const r = await req(`${g.url}/late`)
  const total = performance.now() - t0
  t.equal(r.status, 504)
  t.equal(r.json().code, 'upstream_timeout')
  t.ok(total >= 295 && total < 400, `504 when the whole timeout passed (${total.toFixed(0)} ms), not perTryTimeout + a fresh deadline`)
  t.equal(mono.received.length, 1, 'the fallback was tried')
  t.match(await accessLine(g, '/late'), { status: 504, code: 'upstream_timeout', backend: 'monolith', fallback: 'monolith' })
  mono.release()
})

t.test('a whole timeout that expires during the primary gives 504, without a fallback', async (t) => {
  const svc = await hangingServer(t)
  const mono = await gatedServer(t, 'monolith')
  const g = await startGateway(t, table(svc.url, mono.url, '    perTryTimeout: 1s\n    timeout: 200ms\n'), ONE_ATTEMPT)
  const t0 = performance.now()
  const r = await req(`${g.url}/deadline`)
  const total = performance.now() - t0
  t.equal(r.status, 504)
  t.equal(r.json().code, 'upstream_timeout')
  t.ok(total >= 195 && total < 300, `at the whole timeout (${total.toFixed(0)} ms)`)
  t.equal(mono.received.length, 0, 'the fallback was not tried: no time was left')
  t.match(await accessLine(g, '/deadline'), { status: 504, backend: 'svc', fallback: '', code: 'upstream_timeout' })
  t.equal(await fallbacks(g, 'timeout'), undefined)
})

t.test('when the fallback fails too, the client gets the fallback\'s failure', async (t) => {
  const g = await startGateway(t, table(await refusingUrl(), await refusingUrl()), ONE_ATTEMPT)
  const r = await req(`${g.url}/both-down`)
  t.equal(r.status, 502)
  t.equal(r.json().code, 'upstream_unreachable')
  t.match(await accessLine(g, '/both-down'), { status: 502, backend: 'monolith', fallback: 'monolith', attempts: 2 })
  t.equal(await fallbacks(g, 'connect_error'), 1)
})

t.test('a 4xx from the primary is its answer: no fallback', async (t) => {
  const svc = await gatedServer(t, 'svc', { status: 404 })
  const mono = await gatedServer(t, 'monolith')
  const g = await startGateway(t, table(svc.url, mono.url), ONE_ATTEMPT)
  const r = await req(`${g.url}/missing`)
  t.equal(r.status, 404)
  t.equal(r.headers['x-gated'], 'svc')
  t.equal(mono.received.length, 0)
  t.match(await accessLine(g, '/missing'), { status: 404, backend: 'svc', fallback: '' })
})
