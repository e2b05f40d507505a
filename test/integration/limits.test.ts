/**
 * Spec §4 limits on the data port: a header section over `limits.headerBytes` → 431; a
 * client too slow with its head (`headersTimeout`) or its whole request (`requestTimeout`)
 * → 408. Each is a problem+json local reply, the connection is closed, and the backend is
 * not handed a complete request. Node checks the two timeouts on a sweep of its
 * connections, so they are enforced to within the gateway's check interval (1 s).
 */
import t from 'tap'
import { headerValues, rawRequest, routeAllTo } from '../helpers/faults.ts'
import { accessLines, eventually, localReplies, startGateway } from '../helpers/gateway.ts'
import { startOrigin, type Handler } from '../helpers/origin.ts'

const CHECK_INTERVAL_MS = 1_000
const SLACK_MS = 500

t.test('a header section over limits.headerBytes is refused with 431 and the connection closed', async (t) => {
  const origin = await startOrigin(t)
  const g = await startGateway(t, routeAllTo(origin.url), 'limits: { headerBytes: 4096 }')
  const r = await rawRequest(g.url, `GET /big HTTP/1.1\r\nHost: a\r\nx-big: ${'a'.repeat(5000)}\r\n\r\n`)
  t.equal(r.status, 431)
  t.same(headerValues(r, 'content-type'), ['application/problem+json'])
  t.match(JSON.parse(r.body), { type: 'about:blank', status: 431, code: 'request_headers_too_large' })
  t.ok(r.closedByServer, 'the gateway closed the connection')
  t.equal(origin.received.length, 0, 'the backend received nothing')
  t.same(await localReplies(g), ['figway_local_replies_total{code="request_headers_too_large"} 1'])
  const access = accessLines(g)
  t.equal(access.length, 1)
  t.match(access[0], { status: 431, code: 'request_headers_too_large' })
})

t.test('a header section under limits.headerBytes is forwarded', async (t) => {
  const origin = await startOrigin(t)
  const g = await startGateway(t, routeAllTo(origin.url), 'limits: { headerBytes: 4096 }')
  const r = await rawRequest(g.url, `GET /fits HTTP/1.1\r\nHost: a\r\nConnection: close\r\nx-big: ${'a'.repeat(3500)}\r\n\r\n`)
  t.equal(r.status, 200)
  t.equal(origin.received[0]!.headers['x-big'], 'a'.repeat(3500))
})

t.test('a client that sends its headers too slowly gets a 408 after headersTimeout and the connection closed', async (t) => {
  const origin = await startOrigin(t)
  const g = await startGateway(t, routeAllTo(origin.url), 'limits: { headersTimeout: 500ms, requestTimeout: 1s }')
  const lines = ['GET /slow-head HTTP/1.1\r\n', 'Host: a\r\n', ...Array.from({ length: 20 }, (_, i) => `x-line-${i}: 1\r\n`)]
  const start = performance.now()
  const r = await rawRequest(g.url, lines, { gapMs: 150, waitMs: 5_000 })
  const elapsed = performance.now() - start
  t.equal(r.status, 408)
  t.match(JSON.parse(r.body), { status: 408, code: 'request_timeout' })
  t.ok(r.closedByServer, 'the gateway closed the connection')
  t.ok(elapsed >= 500 - 1, `not before headersTimeout (${elapsed.toFixed(0)} ms)`)
  t.ok(elapsed <= 500 + CHECK_INTERVAL_MS + SLACK_MS, `within the check interval of headersTimeout (${elapsed.toFixed(0)} ms)`)
  t.equal(origin.received.length, 0, 'the backend received nothing')
  t.same(await localReplies(g), ['figway_local_replies_total{code="request_timeout"} 1'])
})

t.test('a client whose body is still arriving at requestTimeout gets a 408, and the backend request is aborted', async (t) => {
  let backendAborted = false
  const origin = await startOrigin(t, (req) => { req.on('close', () => { backendAborted = !req.complete }); req.resume() }, { streaming: true })
  const g = await startGateway(t, routeAllTo(origin.url), 'limits: { headersTimeout: 500ms, requestTimeout: 1s }')
  const parts = ['POST /slow-body HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n', ...Array.from({ length: 9 }, () => 'aaaaaaaaaa')]
  const start = performance.now()
  const r = await rawRequest(g.url, parts, { gapMs: 300, waitMs: 5_000 })
  const elapsed = performance.now() - start
  t.equal(r.status, 408)
  t.same(headerValues(r, 'connection'), ['close'])
  t.match(JSON.parse(r.body), { status: 408, code: 'request_timeout', route: 'all' })
  t.ok(r.closedByServer, 'the gateway closed the connection')
  t.ok(elapsed >= 1_000 - 1 && elapsed <= 1_000 + CHECK_INTERVAL_MS + SLACK_MS, `408 after requestTimeout, within the check interval (${elapsed.toFixed(0)} ms)`)
  t.equal(origin.received.length, 1, 'the backend got the head (the body streams)…')
  await t.resolveMatch(eventually(() => backendAborted, 2_000), true, '…and its request was aborted before completing')
  const access = accessLines(g)
  t.equal(access.length, 1, 'one access line for the request…')
  t.match(access[0], { method: 'POST', path: '/slow-body', route: 'all', status: 408, code: 'request_timeout' }, '…with the reason')
})

t.test('a requestTimeout after the backend started answering cuts the response instead of writing a 408 into it', async (t) => {
  const early: Handler = (req, res) => { res.writeHead(200, { 'content-type': 'text/plain' }); res.write('early\n'); req.resume() }
  const origin = await startOrigin(t, early, { streaming: true })
  const g = await startGateway(t, routeAllTo(origin.url), 'limits: { headersTimeout: 500ms, requestTimeout: 1s }')
  const parts = ['POST /answered HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n', ...Array.from({ length: 9 }, () => 'aaaaaaaaaa')]
  const r = await rawRequest(g.url, parts, { gapMs: 300, waitMs: 5_000 })
  t.equal(r.status, 200)
  t.ok(r.closedByServer, 'the gateway closed the connection')
  t.equal(r.body, '6\r\nearly\n\r\n', 'the chunked body is cut short: no last chunk, and nothing else written into it')
  const access = accessLines(g)
  t.equal(access.length, 1, 'one access line for the request…')
  t.match(access[0], { path: '/answered', status: 200, code: 'request_timeout' }, '…with the reason')
})
