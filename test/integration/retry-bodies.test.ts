/**
 * Spec §2.3, §3 and §4: request bodies and retries. A body of at most `limits.bodyBytes` is
 * buffered and sent again byte for byte on every retry (the backend hashes each arrival);
 * a larger one, announced by Content-Length or outgrowing the limit while chunked, streams
 * through whole and is never retried, so the backend's answer or failure reaches the client.
 */
import { createHash, randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import t from 'tap'
import { request } from 'undici'
import { routeAllTo, scriptedBackend, type Arrival } from '../helpers/faults.ts'
import { accessLine, scrape, sleep, startGateway } from '../helpers/gateway.ts'

function defaults (extra = ''): string {
  return [
    'defaults:',
    '  timeout: 5s',
    '  perTryTimeout: 300ms',
    '  retry: { attempts: 3, backoff: { base: 5ms, max: 20ms }, budget: { ratio: 1, minPerSecond: 1000 } }',
    '  breaker: { errorRate: 1, minRequests: 100000, consecutiveFailures: 100000 }',
    extra
  ].join('\n')
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

/** A chunked (no Content-Length) request body: `data` in `parts` pieces, `gapMs` apart. */
function chunked (data: Buffer, parts: number, gapMs = 5): Readable {
  const size = Math.ceil(data.length / parts)
  return Readable.from((async function * () {
    for (let i = 0; i < data.length; i += size) {
      yield data.subarray(i, i + size)
      await sleep(gapMs)
    }
  })())
}

async function send (url: string, method: 'POST' | 'PUT' | 'PATCH', body: Buffer | Readable, headers: Record<string, string> = {}): Promise<{ status: number, text: string }> {
  const r = await request(url, { method, body, headers: { 'content-type': 'application/octet-stream', ...headers } })
  return { status: r.statusCode, text: await r.body.text() }
}

function seen (arrivals: Arrival[], path: string): Arrival[] {
  return arrivals.filter((a) => a.path === path)
}

t.test('a buffered body is replayed byte-identical on every retry (5xx, reset, per-try timeout)', async (t) => {
  const backend = await scriptedBackend(t, (a) => {
    if (a.n === 3) return 200
    if (a.path.startsWith('/reset')) return 'reset'
    if (a.path.startsWith('/hang')) return a.n === 1 ? 'hang' : 200
    return a.n === 1 ? 502 : 503
  })
  const g = await startGateway(t, routeAllTo(backend.url), defaults())
  const cases: Array<{ path: string, method: 'POST' | 'PUT' | 'PATCH', data: Buffer, headers?: Record<string, string>, attempts: number }> = [
    { path: '/5xx-put', method: 'PUT', data: randomBytes(256 * 1024), attempts: 3 },
    { path: '/5xx-post-key', method: 'POST', data: randomBytes(100_000), headers: { 'idempotency-key': 'a1' }, attempts: 3 },
    { path: '/reset-patch-key', method: 'PATCH', data: randomBytes(4_096), headers: { 'idempotency-key': 'a2' }, attempts: 3 },
    { path: '/hang-put', method: 'PUT', data: randomBytes(10_000), attempts: 2 },
    { path: '/5xx-empty', method: 'PUT', data: Buffer.alloc(0), attempts: 3 },
    // Every byte value, so any re-encoding on replay would show.
    { path: '/5xx-bytes', method: 'PUT', data: Buffer.from(Array.from({ length: 512 }, (_, i) => i % 256)), attempts: 3 }
  ]
  for (const c of cases) {
    const r = await send(g.url + c.path, c.method, c.data, c.headers)
    t.equal(r.status, 200, `${c.path}: answered after ${c.attempts} attempts`)
    const arrivals = seen(backend.arrivals, c.path)
    t.equal(arrivals.length, c.attempts, `${c.path}: the backend saw ${c.attempts} requests`)
    t.same(arrivals.map((a) => a.sha256), arrivals.map(() => sha256(c.data)), `${c.path}: ${c.data.length} bytes, the same on each attempt`)
    t.same(arrivals.map((a) => a.headers['content-length']), arrivals.map(() => String(c.data.length)), `${c.path}: each with the body's Content-Length`)
    t.match(await accessLine(g, c.path), { status: 200, attempts: c.attempts })
  }
})

t.test('a chunked body within the limit is buffered too, and replayed whole', async (t) => {
  const backend = await scriptedBackend(t, (a) => a.n === 1 ? 503 : 200)
  const g = await startGateway(t, routeAllTo(backend.url), defaults())
  const data = randomBytes(50_000)
  const r = await send(`${g.url}/chunked`, 'PUT', chunked(data, 10))
  t.equal(r.status, 200)
  const arrivals = seen(backend.arrivals, '/chunked')
  t.equal(arrivals.length, 2)
  t.same(arrivals.map((a) => a.sha256), [sha256(data), sha256(data)])
})

t.test('limits.bodyBytes: up to the limit is retried; over it streams through and is not retried', async (t) => {
  const LIMIT = 1024
  const backend = await scriptedBackend(t, (a) => {
    if (a.path.startsWith('/reset')) return a.n === 1 ? 'reset' : 200
    if (a.path.startsWith('/hang')) return a.n === 1 ? 'hang' : 200
    return a.n === 1 ? 503 : 200
  })
  const g = await startGateway(t, routeAllTo(backend.url), defaults(`limits: { bodyBytes: ${LIMIT} }\n`))

  const atLimit = randomBytes(LIMIT)
  const r1 = await send(`${g.url}/at-limit`, 'PUT', atLimit)
  t.equal(r1.status, 200, `${LIMIT} bytes: buffered, retried`)
  t.same(seen(backend.arrivals, '/at-limit').map((a) => a.sha256), [sha256(atLimit), sha256(atLimit)])

  const small = randomBytes(600)
  const r2 = await send(`${g.url}/small-chunked`, 'PUT', chunked(small, 3))
  t.equal(r2.status, 200, '600 bytes chunked: buffered, retried')
  t.same(seen(backend.arrivals, '/small-chunked').map((a) => a.sha256), [sha256(small), sha256(small)])

  const over = randomBytes(LIMIT + 1)
  const r3 = await send(`${g.url}/over-limit`, 'PUT', over)
  t.equal(r3.status, 503, `${LIMIT + 1} bytes: streamed; the backend's 503 goes to the client`)
  t.equal(r3.text, '503 /over-limit #1')
  t.same(seen(backend.arrivals, '/over-limit').map((a) => a.sha256), [sha256(over)], 'the backend got it whole, once')

  const big = randomBytes(256 * 1024)
  const r4 = await send(`${g.url}/reset-big`, 'POST', big, { 'idempotency-key': 'b1' })
  t.equal(r4.status, 502, 'a streamed body reset before the response is not retried, Idempotency-Key or not')
  t.equal(seen(backend.arrivals, '/reset-big').length, 1)
  t.equal(seen(backend.arrivals, '/reset-big')[0]!.sha256, sha256(big))

  // Chunked, no Content-Length: the gateway starts buffering and switches to streaming when
  // the body outgrows the limit, sending the bytes it already read first.
  const grows = randomBytes(8 * LIMIT)
  const r5 = await send(`${g.url}/grows-chunked`, 'PUT', chunked(grows, 16))
  t.equal(r5.status, 503, 'a chunked body that outgrew the limit is not retried')
  t.same(seen(backend.arrivals, '/grows-chunked').map((a) => a.sha256), [sha256(grows)], 'and reached the backend whole, in order')

  const slow = randomBytes(4 * LIMIT)
  const r6 = await send(`${g.url}/hang-big`, 'PUT', slow)
  t.equal(r6.status, 504, 'a streamed body whose attempt timed out is not retried')
  t.equal(seen(backend.arrivals, '/hang-big').length, 1)

  await sleep(50)
  for (const path of ['/over-limit', '/reset-big', '/grows-chunked', '/hang-big']) {
    t.equal(seen(backend.arrivals, path).length, 1, `${path}: one request in the end`)
    t.match(await accessLine(g, path), { attempts: 1 })
  }
  const m = await scrape(g)
  t.equal(m.get('figway_retries_total{backend="b",reason="status_503"}'), 2, 'only the two buffered bodies were retried')
  t.equal(m.get('figway_retries_total{backend="b",reason="reset"}'), undefined)
  t.equal(m.get('figway_retries_total{backend="b",reason="timeout"}'), undefined)
  t.equal(m.get('figway_retry_budget_exhausted_total{backend="b"}'), undefined, 'a body that cannot be replayed does not touch the budget')
})

t.test('a streamed body that cannot be replayed does not go to the fallback either', async (t) => {
  const b = await scriptedBackend(t, () => 503)
  const fb = await scriptedBackend(t, () => 200)
  const g = await startGateway(t, {
    'r.yaml': `backends:\n  b: { url: "${b.url}" }\n  fb: { url: "${fb.url}" }\nroutes:\n  - name: all\n    match: { path: /** }\n    to: b\n    fallback: fb\n`
  }, defaults('limits: { bodyBytes: 1024 }\n'))
  const small = randomBytes(1000)
  const r1 = await send(`${g.url}/small`, 'PUT', small)
  t.equal(r1.status, 200, 'a buffered body: retried on b, then served by the fallback')
  t.equal(b.count('/small'), 3)
  t.same(fb.arrivals.map((a) => a.sha256), [sha256(small)], 'the fallback got the same bytes')
  const big = randomBytes(5000)
  const r2 = await send(`${g.url}/big`, 'PUT', big)
  t.equal(r2.status, 503, 'a streamed body: the 503 goes to the client')
  t.equal(b.count('/big'), 1)
  t.equal(fb.count('/big'), 0)
})
