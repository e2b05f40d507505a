/**
 * REST → gRPC (spec §2.6): metadata both ways and deadlines. Which request headers become
 * metadata, response metadata as `grpc-metadata-*` headers, the deadline the backend gets
 * (route/backend timeout against an incoming `grpc-timeout`), what a passed deadline or a
 * client that goes away does to the call.
 */
import t from 'tap'
import { request } from 'undici'
import { eventually, sleep } from '../../helpers/gateway.ts'
import { echoGateway, sharedEchoGateway, header, md } from './setup.ts'

const shared = sharedEchoGateway(t)

const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'

t.test('authorization, x-request-id, traceparent, tracestate, baggage and grpc-metadata-* reach the backend', async (t) => {
  const e = shared()
  const r = await e.send('GET', '/v1/things/1', {
    headers: {
      authorization: 'Bearer abc',
      'x-request-id': 'req-42',
      traceparent: TRACEPARENT,
      tracestate: 'vendor=value',
      baggage: 'user=alice',
      'grpc-metadata-x-tenant': 'acme',
      'grpc-metadata-x-flags': 'a,b'
    }
  })
  t.equal(r.status, 200)
  const got = e.only().metadata
  t.equal(got.authorization, 'Bearer abc')
  t.equal(got['x-request-id'], 'req-42')
  t.match(got.traceparent, /^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-0[01]$/, 'the same trace')
  t.match(got.tracestate, /vendor=value/)
  t.equal(got.baggage, 'user=alice')
  t.equal(got['x-tenant'], 'acme', 'grpc-metadata- removed from the name')
  t.equal(got['x-flags'], 'a,b')
  t.notOk('grpc-metadata-x-tenant' in got)
})

t.test('a grpc-metadata-NAME-bin header is base64 and arrives as binary metadata', async (t) => {
  const e = shared()
  const bytes = Buffer.from([0, 1, 254, 255])
  t.equal((await e.send('GET', '/v1/things/1', { headers: { 'grpc-metadata-x-blob-bin': bytes.toString('base64') } })).status, 200)
  t.equal(e.only().metadata['x-blob-bin'], bytes.toString('base64'), 'the helper shows binary values base64 again: the bytes arrived')
})

t.test('other request headers do not become metadata', async (t) => {
  const e = shared()
  await e.send('GET', '/v1/things/1', {
    headers: { cookie: 'session=s', 'x-other': '1', 'accept-language': 'fr', 'x-forwarded-for': '10.0.0.1', 'x-figway-backend': 'echo', 'content-type': 'application/json' }
  })
  const got = e.only().metadata
  for (const name of ['cookie', 'x-other', 'accept-language', 'x-forwarded-for', 'x-figway-backend', 'host']) t.notOk(name in got, name)
})

t.test('a request without traceparent still sends one: every call is traced', async (t) => {
  const e = shared()
  await e.send('GET', '/v1/things/1')
  t.match(e.only().metadata.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/)
})

t.test('response initial and trailing metadata → grpc-metadata-NAME headers', async (t) => {
  const e = shared()
  const r = await e.send('GET', '/v1/things/1', { headers: md({ 'x-tenant': 'acme', 'x-user': 'u1' }) })
  t.equal(r.status, 200)
  t.equal(header(r, 'grpc-metadata-x-echo-x-tenant'), 'acme')
  t.equal(header(r, 'grpc-metadata-x-echo-x-user'), 'u1')
  t.equal(header(r, 'grpc-metadata-x-trailer'), 'yes', 'trailing metadata')
  t.notOk('x-trailer' in r.headers, 'only under the prefix')
  t.notOk('grpc-status' in r.headers || 'grpc-message' in r.headers, 'the gRPC status itself is not a header')
})

t.test('the deadline is the backend\'s timeout', async (t) => {
  const e = await echoGateway(t, { backend: ['timeout: 2s'] })
  await e.send('GET', '/v1/things/1')
  const d = e.only().deadline
  t.ok(d <= 2_000 && d > 1_500, `deadline ${d} ms`)
})

t.test('a route timeout applies to the call the same way', async (t) => {
  const e = await echoGateway(t, { routes: ['  - name: api', '    match: { path: /** }', '    to: echo', '    timeout: 700ms'] })
  await e.send('GET', '/v1/things/1')
  const d = e.only().deadline
  t.ok(d <= 700 && d > 400, `deadline ${d} ms`)
})

t.test('an incoming grpc-timeout shorter than the timeout becomes the deadline', async (t) => {
  const e = await echoGateway(t, { backend: ['timeout: 5s'] })
  for (const [value, ms] of [['200m', 200], ['1S', 1_000], ['300000u', 300], ['90000000n', 90]] as const) {
    e.reset()
    const r = await e.send('GET', '/v1/things/1', { headers: { 'grpc-timeout': value } })
    t.equal(r.status, 200, value)
    const d = e.only().deadline
    t.ok(d <= ms && d > ms * 0.5, `grpc-timeout ${value}: deadline ${d} ms`)
  }
})

t.test('an incoming grpc-timeout longer than the timeout does not extend it', async (t) => {
  const e = await echoGateway(t, { backend: ['timeout: 500ms'] })
  for (const value of ['10S', '1M', '1H']) {
    e.reset()
    await e.send('GET', '/v1/things/1', { headers: { 'grpc-timeout': value } })
    const d = e.only().deadline
    t.ok(d <= 500 && d > 250, `grpc-timeout ${value}: deadline ${d} ms`)
  }
})

t.test('an invalid grpc-timeout → 400, nothing sent to the backend', async (t) => {
  const e = shared()
  for (const value of ['abc', '10', '1x', '-1S', '123456789m', '1.5S', ' ', 'S']) {
    const r = await e.send('GET', '/v1/things/1', { headers: { 'grpc-timeout': value } })
    t.equal(r.status, 400, JSON.stringify(value))
    t.match(header(r, 'content-type'), /^application\/problem\+json/)
    t.match(r.json(), { status: 400 })
  }
  t.equal(e.echo.calls.length, 0)
})

t.test('figway\'s own deadline passing → 504 upstream_timeout; the backend sees the call cancelled', async (t) => {
  const e = await echoGateway(t, { backend: ['timeout: 200ms'] })
  const start = performance.now()
  const r = await e.send('GET', '/v1/things/1', { headers: md({ 'x-echo-delay-ms': 3_000 }) })
  const took = performance.now() - start
  t.equal(r.status, 504)
  t.match(header(r, 'content-type'), /^application\/problem\+json/)
  t.match(r.json(), { type: 'about:blank', status: 504, code: 'upstream_timeout', route: 'api' })
  t.ok(took >= 190 && took < 1_000, `answered after ${took.toFixed(0)} ms`)
  t.ok(await eventually(() => e.only().cancelled, 1_000), 'the backend call was cancelled')
})

t.test('the client\'s grpc-timeout passing → 504 with the DEADLINE_EXCEEDED status, and the call is cancelled', async (t) => {
  const e = await echoGateway(t, { backend: ['timeout: 5s'] })
  const start = performance.now()
  const r = await e.send('GET', '/v1/things/1', { headers: { 'grpc-timeout': '150m', ...md({ 'x-echo-delay-ms': 3_000 }) } })
  const took = performance.now() - start
  t.equal(r.status, 504)
  // The gRPC status, with a message that does not give away the backend's address.
  t.same(r.json(), { code: 4, message: 'Deadline exceeded', details: [] })
  t.ok(took >= 140 && took < 1_000, `answered after ${took.toFixed(0)} ms`)
  t.ok(await eventually(() => e.only().cancelled, 1_000), 'the backend call was cancelled')
})

t.test('a client that disconnects mid-call cancels the gRPC call', async (t) => {
  const e = shared()
  const ac = new AbortController()
  const pending = request(`${e.g.url}/v1/things/1`, { headers: md({ 'x-echo-delay-ms': 5_000 }), signal: ac.signal }).catch((err: Error) => err)
  t.ok(await eventually(() => e.echo.calls.length === 1, 2_000), 'the call reached the backend')
  await sleep(20)
  ac.abort()
  t.ok((await pending) instanceof Error, 'the client gave up')
  t.ok(await eventually(() => e.only().cancelled, 2_000), 'the backend saw the call cancelled')
})

t.test('a client that disconnects mid-stream cancels the stream', async (t) => {
  const e = shared()
  const ac = new AbortController()
  const r = await request(`${e.g.url}/v1/things/1:stream`, { headers: md({ 'x-echo-delay-ms': 100, 'x-echo-count': 50 }), signal: ac.signal })
  t.equal(r.statusCode, 200)
  const first = await new Promise<string>((resolve) => r.body.once('data', (b: Buffer) => resolve(b.toString())))
  t.match(JSON.parse(first.split('\n')[0]!), { id: '1', seq: 1 })
  r.body.on('error', () => {})
  ac.abort()
  t.ok(await eventually(() => e.only().cancelled, 2_000), 'the backend saw the stream cancelled')
})
