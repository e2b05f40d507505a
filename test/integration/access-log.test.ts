/**
 * Spec §9 logs: one JSON access line per request with reqId, traceId, method, path, route,
 * backend, status, durationMs, attempts, fallback and code, whichever way the request ended
 * (proxied, answered by figway, malformed before a request existed); the trace id in the
 * line is the one in the problem+json body; credentials never reach the log.
 */
import t from 'tap'
import { rawRequest, refusingUrl, routeAllTo } from '../helpers/faults.ts'
import { accessLine, accessLines, req, startGateway } from '../helpers/gateway.ts'
import { startOrigin } from '../helpers/origin.ts'

const FIELDS = ['reqId', 'traceId', 'method', 'path', 'route', 'backend', 'status', 'durationMs', 'attempts', 'fallback', 'code']
const TRACE_ID = /^[0-9a-f]{32}$/

t.test('a proxied request has one access line with every field, and a trace id though the client sent none', async (t) => {
  const origin = await startOrigin(t)
  const g = await startGateway(t, routeAllTo(origin.url))
  await req(`${g.url}/orders/7?x=1`, { headers: { 'x-request-id': 'req-7' } })
  const line = await accessLine(g, '/orders/7')
  for (const f of FIELDS) t.ok(f in line, `has ${f}`)
  t.match(line, { msg: 'access', reqId: 'req-7', method: 'GET', path: '/orders/7', route: 'all', backend: 'b', status: 200, attempts: 1, fallback: '', code: '' })
  t.match(line.traceId, TRACE_ID)
  t.equal(typeof line.durationMs, 'number')
  t.equal(accessLines(g).length, 1, 'exactly one line')
})

t.test('a local reply: its access line and its problem+json name the same trace', async (t) => {
  const g = await startGateway(t, routeAllTo(await refusingUrl()))
  const r = await req(`${g.url}/down`)
  const body = r.json<{ traceId: string, code: string }>()
  t.equal(body.code, 'upstream_unreachable')
  t.match(body.traceId, TRACE_ID)
  t.match(await accessLine(g, '/down'), { status: 502, code: 'upstream_unreachable', traceId: body.traceId })
})

t.test('a request too malformed to parse still gets a trace id, in its body and its line', async (t) => {
  const origin = await startOrigin(t)
  const g = await startGateway(t, routeAllTo(origin.url), 'limits: { headerBytes: 4096 }')
  const r = await rawRequest(g.url, `GET /big HTTP/1.1\r\nHost: a\r\nx-big: ${'a'.repeat(5000)}\r\n\r\n`)
  t.equal(r.status, 431)
  const body = JSON.parse(r.body) as { traceId: string }
  t.match(body.traceId, TRACE_ID)
  t.match(accessLines(g)[0], { status: 431, code: 'request_headers_too_large', traceId: body.traceId })
})

t.test('authorization and cookie values never reach the log', async (t) => {
  const origin = await startOrigin(t)
  const g = await startGateway(t, routeAllTo(origin.url))
  await req(`${g.url}/private`, { headers: { authorization: 'Bearer sekret-token', cookie: 'session=sekret-cookie' } })
  await accessLine(g, '/private')
  const all = JSON.stringify(g.logs)
  t.notMatch(all, /sekret/)
})
