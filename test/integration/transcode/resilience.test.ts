/**
 * REST → gRPC with the resilience of §2.3 and §3: UNAVAILABLE retried (idempotent methods
 * only), a backend that is down, fallback from the gRPC backend to an HTTP one, and a route
 * split between an HTTP origin and the gRPC backend with the `x-figway-backend` override.
 */
import t, { type Test } from 'tap'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { status } from '@grpc/grpc-js'
import { echo, startOrigin, type Origin } from '../../helpers/origin.ts'
import { req, startGateway } from '../../helpers/gateway.ts'
import { echoRoutes } from '../../helpers/grpc-echo.ts'
import { echoGateway, failWith, header, type EchoGateway } from './setup.ts'

const RETRIES = [
  'defaults:',
  '  retry: { attempts: 3, backoff: { base: 1ms, max: 5ms }, budget: { ratio: 1, minPerSecond: 1000 } }',
  '  breaker: { errorRate: 1, minRequests: 100000 }'
].join('\n')

/** A 127.0.0.1 port with nothing listening on it. */
async function deadPort (): Promise<number> {
  const s = createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  const port = (s.address() as AddressInfo).port
  await new Promise<void>((resolve) => s.close(() => resolve()))
  return port
}

/** Fails the first `times` calls with `code`, then answers. */
const flaky = (times: number, code = status.UNAVAILABLE): Record<string, string> => failWith(code, 'flaky', { 'x-echo-fail-times': times })

t.test('UNAVAILABLE is retried: one failure, then 200; the backend saw two calls', async (t) => {
  const e = await echoGateway(t, { gatewayYaml: RETRIES })
  const r = await e.send('GET', '/v1/things/7', { headers: flaky(1) })
  t.equal(r.status, 200)
  t.equal(r.json().id, '7')
  t.equal(e.echo.calls.length, 2)
  t.same(e.echo.calls.map((c) => c.request), [{ id: '7' }, { id: '7' }], 'the same request each time')
})

t.test('UNAVAILABLE on every attempt: 503 with the last Status after `attempts` calls', async (t) => {
  const e = await echoGateway(t, { gatewayYaml: RETRIES })
  const r = await e.send('GET', '/v1/things/7', { headers: flaky(5) })
  t.equal(r.status, 503)
  t.same(r.json(), { code: 14, message: 'flaky', details: [] })
  t.equal(e.echo.calls.length, 3)
})

t.test('other codes are not retried', async (t) => {
  const e = await echoGateway(t, { gatewayYaml: RETRIES })
  for (const [code, http] of [[status.INTERNAL, 500], [status.NOT_FOUND, 404], [status.DEADLINE_EXCEEDED, 504], [status.RESOURCE_EXHAUSTED, 429]]) {
    e.reset()
    const r = await e.send('GET', '/v1/things/7', { headers: { ...flaky(1, code), 'grpc-metadata-x-echo-fail-key': String(code) } })
    t.equal(r.status, http, `code ${code}`)
    t.equal(e.echo.calls.length, 1, `code ${code}: one call`)
  }
})

t.test('POST is not retried on UNAVAILABLE unless it carries an Idempotency-Key', async (t) => {
  const e = await echoGateway(t, { gatewayYaml: RETRIES })
  const plain = await e.send('POST', '/v1/things', { body: { id: '1' }, headers: { ...flaky(1), 'grpc-metadata-x-echo-fail-key': 'a' } })
  t.equal(plain.status, 503)
  t.equal(e.echo.calls.length, 1)
  e.reset()
  const keyed = await e.send('POST', '/v1/things', { body: { id: '1' }, headers: { ...flaky(1), 'grpc-metadata-x-echo-fail-key': 'b', 'idempotency-key': 'k1' } })
  t.equal(keyed.status, 200)
  t.equal(e.echo.calls.length, 2)
  t.same(e.echo.calls[1]!.request, { id: '1' }, 'the body replayed')
})

t.test('a gRPC backend that is down → 502/503, as a local problem+json reply', async (t) => {
  const port = await deadPort()
  const g = await startGateway(t, echoRoutes({ target: `127.0.0.1:${port}` }), RETRIES)
  const start = performance.now()
  const r = await req(`${g.url}/v1/things/7`)
  t.ok(r.status === 502 || r.status === 503, `status ${r.status}`)
  t.match(header(r, 'content-type'), /^application\/problem\+json/)
  t.match(r.json(), { code: /^upstream_(unreachable|reset|circuit_open)$/ })
  t.ok(performance.now() - start < 3_000, 'promptly')
})

t.test('fallback: a gRPC backend that is down → the route\'s HTTP fallback serves the request', async (t) => {
  const port = await deadPort()
  const mono = await startOrigin(t, echo('monolith'))
  const g = await startGateway(t, echoRoutes({ target: `127.0.0.1:${port}` }, {
    backends: { monolith: `{ url: "${mono.url}" }` },
    routes: ['  - name: api', '    match: { path: /** }', '    to: echo', '    fallback: monolith']
  }))
  const r = await req(`${g.url}/v1/things/7?x=1`)
  t.equal(r.status, 200)
  t.match(r.json(), { origin: 'monolith', method: 'GET', url: '/v1/things/7?x=1' })
  t.equal(mono.received.length, 1)
})

t.test('fallback: POST falls back too when the gRPC backend was never reached', async (t) => {
  const port = await deadPort()
  const mono = await startOrigin(t, echo('monolith'))
  const g = await startGateway(t, echoRoutes({ target: `127.0.0.1:${port}` }, {
    backends: { monolith: `{ url: "${mono.url}" }` },
    routes: ['  - name: api', '    match: { path: /** }', '    to: echo', '    fallback: monolith']
  }))
  const r = await req(`${g.url}/v1/things`, { method: 'POST', body: '{"id":"1"}', headers: { 'content-type': 'application/json' } })
  t.equal(r.status, 200)
  t.match(r.json(), { origin: 'monolith', method: 'POST', url: '/v1/things', bodyBytes: 10 })
})

/** The echo backend behind route `api`, with an HTTP origin `monolith` as its fallback. */
async function withFallback (t: Test): Promise<{ e: EchoGateway, mono: Origin }> {
  const mono = await startOrigin(t, echo('monolith'))
  const e = await echoGateway(t, {
    backends: { monolith: `{ url: "${mono.url}" }` },
    routes: ['  - name: api', '    match: { path: /** }', '    to: echo', '    fallback: monolith']
  })
  return { e, mono }
}

t.test('fallback: gRPC UNAVAILABLE and INTERNAL on a GET → the HTTP fallback', async (t) => {
  const { e, mono } = await withFallback(t)
  for (const code of [status.UNAVAILABLE, status.INTERNAL]) {
    const r = await e.send('GET', '/v1/things/7', { headers: failWith(code) })
    t.equal(r.status, 200, `code ${code}`)
    t.match(r.json(), { origin: 'monolith', url: '/v1/things/7' })
  }
  t.equal(e.echo.calls.length, 2, 'the gRPC backend was tried first')
  t.equal(mono.received.length, 2)
  t.equal(mono.received[0]!.headers['grpc-metadata-x-echo-status'], String(status.UNAVAILABLE), 'the fallback gets the client\'s request as it came')
})

t.test('fallback: a gRPC 4xx-class status is the answer, not a reason to fall back', async (t) => {
  const { e, mono } = await withFallback(t)
  for (const [code, http] of [[status.NOT_FOUND, 404], [status.INVALID_ARGUMENT, 400], [status.PERMISSION_DENIED, 403]]) {
    const r = await e.send('GET', '/v1/things/7', { headers: failWith(code, 'no') })
    t.equal(r.status, http)
    t.same(r.json(), { code, message: 'no', details: [] })
  }
  t.equal(mono.received.length, 0)
})

t.test('fallback: a POST that reached the gRPC backend is not replayed elsewhere', async (t) => {
  const { e, mono } = await withFallback(t)
  const r = await e.send('POST', '/v1/things', { body: { id: '1' }, headers: failWith(status.UNAVAILABLE, 'busy') })
  t.equal(r.status, 503)
  t.same(r.json(), { code: 14, message: 'busy', details: [] })
  t.equal(mono.received.length, 0)
})

t.test('split between an HTTP origin and the gRPC backend; x-figway-backend picks either', async (t) => {
  const mono = await startOrigin(t, echo('monolith'))
  const e = await echoGateway(t, {
    backends: { monolith: `{ url: "${mono.url}" }` },
    routes: ['  - name: api', '    match: { path: /v1/** }', '    split: { echo: 0, monolith: 1 }', '    allowOverride: true']
  })
  const http = await e.send('GET', '/v1/things/7')
  t.equal(http.status, 200)
  t.match(http.json(), { origin: 'monolith', url: '/v1/things/7' })
  const grpc = await e.send('GET', '/v1/things/7', { headers: { 'x-figway-backend': 'echo' } })
  t.equal(grpc.status, 200)
  t.match(header(grpc, 'content-type'), /^application\/json/)
  t.same(grpc.json().id, '7')
  t.equal(e.only().method, 'GetThing')
  t.notOk('x-figway-backend' in e.only().metadata)
  const back = await e.send('GET', '/v1/things/7', { headers: { 'x-figway-backend': 'monolith' } })
  t.match(back.json(), { origin: 'monolith' })
  t.equal(mono.received.length, 2)
})

t.test('a path only the HTTP side knows: 404 route_not_found from the gRPC side, served by the origin otherwise', async (t) => {
  const mono = await startOrigin(t, echo('monolith'))
  const e = await echoGateway(t, {
    backends: { monolith: `{ url: "${mono.url}" }` },
    routes: ['  - name: api', '    match: { path: /** }', '    split: { echo: 1, monolith: 0 }', '    allowOverride: true']
  })
  const viaGrpc = await e.send('GET', '/legacy/report')
  t.equal(viaGrpc.status, 404)
  t.match(viaGrpc.json(), { code: 'route_not_found' })
  const viaHttp = await e.send('GET', '/legacy/report', { headers: { 'x-figway-backend': 'monolith' } })
  t.equal(viaHttp.status, 200)
  t.match(viaHttp.json(), { origin: 'monolith', url: '/legacy/report' })
})
