/**
 * Spec §4: malformed message framing (Content-Length with Transfer-Encoding, duplicate
 * Content-Length, bad chunking) is refused with a 400 problem+json `bad_request` and the
 * connection closed; the backend is never handed the request. Request smuggling starts
 * where a proxy and its backend disagree on where a request ends, so none of these may be
 * forwarded. Sent as raw bytes: no HTTP client would produce them.
 */
import t from 'tap'
import { hangingServer, headerValues, rawRequest, routeAllTo } from '../helpers/faults.ts'
import { accessLines, metricsText, sleep, startGateway } from '../helpers/gateway.ts'
import { startOrigin } from '../helpers/origin.ts'

const MALFORMED: Array<[string, string]> = [
  ['Content-Length together with Transfer-Encoding',
    'POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'],
  ['two different Content-Length headers',
    'POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!'],
  ['two equal Content-Length headers',
    'POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello'],
  ['a Content-Length list',
    'POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello'],
  ['a Transfer-Encoding that does not end in chunked',
    'POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\nhello'],
  ['a bad chunk size',
    'POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n'],
  ['a chunk longer than its size',
    'POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n']
]

for (const [what, bytes] of MALFORMED) {
  t.test(`a request with ${what} is a 400 bad_request, the connection is closed and the backend receives nothing`, async (t) => {
    const backend = await hangingServer(t)
    const g = await startGateway(t, routeAllTo(backend.url))
    const r = await rawRequest(g.url, bytes)
    t.equal(r.status, 400)
    t.same(headerValues(r, 'content-type'), ['application/problem+json'])
    t.same(headerValues(r, 'connection'), ['close'])
    t.match(JSON.parse(r.body), { type: 'about:blank', status: 400, code: 'bad_request' })
    t.ok(r.closedByServer, 'the gateway closed the connection')
    // Give a forwarded request time to arrive, if one was wrongly sent.
    await sleep(50)
    t.equal(backend.heads.length, 0, 'no request reached the backend')
    const access = accessLines(g)
    t.equal(access.length, 1, 'one access line')
    t.match(access[0], { status: 400, code: 'bad_request' })
    t.match(await metricsText(g), /figway_local_replies_total\{code="bad_request"\} 1\n/)
  })
}

t.test('a bad chunk after the head was forwarded is a 400 and the backend request is aborted before it completes', async (t) => {
  const origin = await startOrigin(t)
  const g = await startGateway(t, routeAllTo(origin.url))
  const head = 'POST /late HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n'
  const r = await rawRequest(g.url, [head, 'zz\r\nworld\r\n0\r\n\r\n'], { gapMs: 100 })
  t.equal(r.status, 400)
  t.same(headerValues(r, 'connection'), ['close'])
  t.match(JSON.parse(r.body), { status: 400, code: 'bad_request', route: 'all' })
  t.ok(r.closedByServer, 'the gateway closed the connection')
  await sleep(50)
  t.equal(origin.received.length, 0, 'the backend never saw the request complete')
  const access = accessLines(g)
  t.equal(access.length, 1, 'one access line')
  t.match(access[0], { path: '/late', route: 'all', status: 400, code: 'bad_request' })
})

t.test('a well-framed chunked request is forwarded whole', async (t) => {
  const origin = await startOrigin(t)
  const g = await startGateway(t, routeAllTo(origin.url))
  const r = await rawRequest(g.url,
    'POST /ok HTTP/1.1\r\nHost: a\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n')
  t.equal(r.status, 200)
  t.equal(origin.received[0]!.body.toString(), 'hello world')
})
