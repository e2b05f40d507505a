/**
 * Spec §3: `maxInFlight` caps the requests in flight to one backend; past it figway answers
 * 503 `upstream_overloaded` at once (or serves from the route's fallback) without touching
 * the backend; a response counts until its body has ended. That refusal is not the backend's
 * failure, so it never moves the breaker. Each backend has its own cap and its own connection
 * pool: a slow backend, saturated, does not slow requests to the others through the same
 * gateway.
 */
import type { ServerResponse } from 'node:http'
import t from 'tap'
import { request } from 'undici'
import { gatedServer, percentile } from '../helpers/faults.ts'
import { accessLines, agent, eventually, req, scrape, startGateway, type Res } from '../helpers/gateway.ts'
import { startOrigin } from '../helpers/origin.ts'

/** A breaker that any single counted failure would open. */
const TOUCHY = 'defaults:\n  retry: { attempts: 1 }\n  breaker: { errorRate: 0.01, minRequests: 1, window: 10s, openFor: 30s, consecutiveFailures: 1 }\n'

t.test('maxInFlight 2: a third concurrent request is refused with 503 upstream_overloaded; after release traffic flows', async (t) => {
  const b = await gatedServer(t, 'b', { hold: true })
  const g = await startGateway(t, { 'r.yaml': `backends:\n  b: { url: "${b.url}", maxInFlight: 2 }\nroutes:\n  - name: all\n    match: { path: /** }\n    to: b\n` }, TOUCHY)
  const held = [req(`${g.url}/held/1`), req(`${g.url}/held/2`)]
  await b.waitHeld(2)
  const refused: Res[] = []
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now()
    refused.push(await req(`${g.url}/more/${i}`))
    if (i === 0) t.ok(performance.now() - t0 < 100, 'refused at once, not queued')
  }
  for (const r of refused) {
    t.equal(r.status, 503)
    t.equal(r.headers['content-type'], 'application/problem+json')
    t.equal(r.json().code, 'upstream_overloaded')
  }
  t.equal(b.received.length, 2, 'the refused requests never reached the backend')
  const lines = accessLines(g).filter((l) => String(l.path).startsWith('/more/'))
  t.equal(lines.length, 10)
  t.ok(lines.every((l) => l.status === 503 && l.code === 'upstream_overloaded' && l.backend === 'b'), 'logged as upstream_overloaded on b')
  let m = await scrape(g)
  t.equal(m.get('figway_upstream_attempts_total{backend="b",outcome="overloaded"}'), 10)
  t.equal(m.get('figway_local_replies_total{code="upstream_overloaded"}'), 10)
  t.equal(m.get('figway_circuit_state{backend="b"}'), 0, 'ten overload refusals did not open a breaker that one failure would open')

  b.hold = false
  b.release()
  t.same((await Promise.all(held)).map((r) => r.status), [200, 200], 'the two held requests complete')
  const after = await Promise.all(Array.from({ length: 2 }, async (_, i) => await req(`${g.url}/after/${i}`)))
  t.same(after.map((r) => r.status), [200, 200], 'traffic flows again')
  t.equal(b.received.length, 4)
  m = await scrape(g)
  t.equal(m.get('figway_circuit_state{backend="b"}'), 0, 'still closed')
  t.equal(g.logs.filter((l) => l.msg === 'circuit breaker opened').length, 0)
})

t.test('a response still streaming its body holds its slot: maxInFlight counts until the response ends', async (t) => {
  const streaming: ServerResponse[] = []
  // /stream/* answers its head and a first part, and the rest when the test says; others answer whole.
  const b = await startOrigin(t, (req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' })
    if (!req.url!.startsWith('/stream/')) { res.end('whole\n'); return }
    res.write('first part\n')
    streaming.push(res)
  })
  const g = await startGateway(t, { 'r.yaml': `backends:\n  b: { url: "${b.url}", maxInFlight: 2 }\nroutes:\n  - name: all\n    match: { path: /** }\n    to: b\n` }, TOUCHY)
  const first = await request(`${g.url}/stream/1`)
  const second = await request(`${g.url}/stream/2`)
  t.same([first.statusCode, second.statusCode], [200, 200], 'two responses under way, their bodies unfinished')
  const third = await req(`${g.url}/whole/3`)
  t.equal(third.status, 503)
  t.equal(third.json().code, 'upstream_overloaded', 'a third is refused while both bodies stream')
  t.equal(b.received.length, 2)
  streaming[0]!.end('rest\n')
  t.equal(await first.body.text(), 'first part\nrest\n')
  t.ok(await eventually(async () => (await req(`${g.url}/whole/4`)).status === 200, 1_000), 'once one response ended, its slot is free again')
  streaming[1]!.end('rest\n')
  t.equal(await second.body.text(), 'first part\nrest\n')
  t.equal((await scrape(g)).get('figway_circuit_state{backend="b"}'), 0)
})

t.test('a client that hangs up mid-body frees the slot', async (t) => {
  const streaming: ServerResponse[] = []
  const b = await startOrigin(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.write('first part\n')
    streaming.push(res)
  })
  t.teardown(() => { for (const r of streaming) r.destroy() })
  const g = await startGateway(t, { 'r.yaml': `backends:\n  b: { url: "${b.url}", maxInFlight: 1 }\nroutes:\n  - name: all\n    match: { path: /** }\n    to: b\n` }, TOUCHY)
  const ac = new AbortController()
  const first = await request(`${g.url}/stream/1`, { signal: ac.signal })
  t.equal(first.statusCode, 200)
  t.equal((await req(`${g.url}/stream/2`)).json().code, 'upstream_overloaded', 'the one slot is taken')
  first.body.on('error', () => {})
  ac.abort()
  t.ok(await eventually(async () => accessLines(g).some((l) => l.path === '/stream/1'), 1_000), 'the hang-up is logged')
  const next = await request(`${g.url}/stream/3`)
  t.equal(next.statusCode, 200, 'and the slot is free')
  next.body.on('error', () => {})
  next.body.destroy()
})

t.test('with a fallback, requests over maxInFlight are served by the fallback (POST too: it never reached the backend)', async (t) => {
  const b = await gatedServer(t, 'b', { hold: true })
  const mono = await gatedServer(t, 'monolith')
  const routes = {
    'r.yaml': `backends:\n  b: { url: "${b.url}", maxInFlight: 2 }\n  monolith: { url: "${mono.url}" }\nroutes:\n  - name: api\n    match: { path: /** }\n    to: b\n    fallback: monolith\n`
  }
  const g = await startGateway(t, routes, TOUCHY)
  const held = [req(`${g.url}/held/1`), req(`${g.url}/held/2`)]
  await b.waitHeld(2)
  const get = await req(`${g.url}/over`)
  t.equal(get.status, 200)
  t.equal(get.headers['x-gated'], 'monolith', 'GET served by the fallback')
  const body = Buffer.from(JSON.stringify({ order: 42, items: ['a', 'b'] }))
  const post = await req(`${g.url}/orders`, { method: 'POST', body, headers: { 'content-type': 'application/json' } })
  t.equal(post.headers['x-gated'], 'monolith', 'POST served by the fallback')
  t.equal(mono.received.length, 2)
  t.same(mono.received[1], { method: 'POST', url: '/orders', body }, 'with its body intact')
  t.equal(b.received.length, 2)
  for (const path of ['/over', '/orders']) {
    const line = accessLines(g).find((l) => l.path === path)
    t.match(line, { status: 200, backend: 'monolith', fallback: 'monolith', route: 'api' }, `${path}: access line names the fallback`)
  }
  const m = await scrape(g)
  t.equal(m.get('figway_fallbacks_total{route="api",from="b",to="monolith",reason="overloaded"}'), 2)
  t.equal(m.get('figway_circuit_state{backend="b"}'), 0)
  b.hold = false
  b.release()
  t.same((await Promise.all(held)).map((r) => r.headers['x-gated']), ['b', 'b'])
  t.equal((await req(`${g.url}/again`)).headers['x-gated'], 'b', 'the primary serves again once below its cap')
})

t.test('a saturated slow backend does not slow requests to another backend (bulkhead)', async (t) => {
  const slow = await gatedServer(t, 'slow', { hold: true })
  const fast = await gatedServer(t, 'fast')
  const routes = {
    'r.yaml': `backends:\n  slow: { url: "${slow.url}", maxInFlight: 64 }\n  fast: { url: "${fast.url}" }\nroutes:\n  - name: slow\n    match: { path: /slow/** }\n    to: slow\n  - name: fast\n    match: { path: /fast/** }\n    to: fast\n`
  }
  const g = await startGateway(t, routes, 'defaults:\n  retry: { attempts: 1 }\n  perTryTimeout: 20s\n  timeout: 30s\n')
  const ka = agent(t, 1)
  const measure = async (label: string, n: number): Promise<number[]> => {
    const out: number[] = []
    for (let i = 0; i < n; i++) {
      const t0 = performance.now()
      const r = await req(`${g.url}/fast/${label}/${i}`, { dispatcher: ka })
      out.push(performance.now() - t0)
      if (r.status !== 200) throw new Error(`fast request ${i}: ${r.status}`)
    }
    return out
  }
  await measure('warm', 200)
  const baseline = await measure('baseline', 400)

  // Saturate the slow backend: 64 requests held there, and 36 more refused as overloaded.
  const clients = agent(t, 128)
  const held = Array.from({ length: 100 }, async (_, i) => await req(`${g.url}/slow/${i}`, { dispatcher: clients }))
  await slow.waitHeld(64)
  const loaded = await measure('loaded', 400)
  t.equal(slow.waiting, 64, 'the slow backend still holds 64 requests while the fast route is measured')
  t.equal(slow.received.length, 64, 'and has seen no more than its maxInFlight')

  const p = (xs: number[], q: number): number => percentile(xs, q)
  t.comment(`fast route alone: p50 ${p(baseline, 50).toFixed(3)} ms p99 ${p(baseline, 99).toFixed(3)} ms; next to a saturated slow backend: p50 ${p(loaded, 50).toFixed(3)} ms p99 ${p(loaded, 99).toFixed(3)} ms`)
  t.ok(p(loaded, 50) < p(baseline, 50) + 1, `median within 1 ms of the baseline (${p(loaded, 50).toFixed(3)} vs ${p(baseline, 50).toFixed(3)} ms)`)
  t.ok(p(loaded, 99) < Math.max(50, p(baseline, 99) + 5), `p99 ${p(loaded, 99).toFixed(3)} ms: within 5 ms of the baseline's ${p(baseline, 99).toFixed(3)} ms, or under 50 ms`)

  slow.hold = false
  slow.release()
  const statuses = (await Promise.all(held)).map((r) => r.status)
  t.equal(statuses.filter((s) => s === 200).length, 64, '64 slow requests complete once released')
  t.equal(statuses.filter((s) => s === 503).length, 36, 'the other 36 were refused as overloaded')
  const m = await scrape(g)
  t.equal(m.get('figway_upstream_attempts_total{backend="slow",outcome="overloaded"}'), 36)
  t.equal(m.get('figway_upstream_attempts_total{backend="fast",outcome="ok"}'), 1000)
})
