/**
 * REST → gRPC (spec §2.6): server streaming as NDJSON, one message per line; an error
 * after the first message ends the stream with an `{"error": Status}` line, one before it
 * is an ordinary error response.
 */
import t from 'tap'
import { status } from '@grpc/grpc-js'
import { BAD_REQUEST_DETAILS } from '../../helpers/grpc-echo.ts'
import { sharedEchoGateway, failWith, header, md, THING_DEFAULTS } from './setup.ts'

const shared = sharedEchoGateway(t)
/** Another, whose backend sets `omitDefaults: true`. */
const lean = sharedEchoGateway(t, { backend: ['omitDefaults: true'] })

const lines = (text: string): unknown[] => text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l))

t.test('server streaming → 200 application/x-ndjson, one JSON message per line', async (t) => {
  const e = shared()
  const r = await e.send('GET', '/v1/things/7:stream?tags=a', { headers: md({ 'x-echo-count': 3 }) })
  t.equal(r.status, 200)
  t.match(header(r, 'content-type'), /^application\/x-ndjson/)
  t.ok(r.text.endsWith('\n'), 'each line ends with a newline')
  t.same(lines(r.text), [1, 2, 3].map((seq) => ({ ...THING_DEFAULTS, id: '7', tags: ['a'], seq })))
  t.equal(e.only().method, 'StreamThings')
  t.same(e.only().request, { id: '7', tags: ['a'] })
})

t.test('a stream of no messages → 200 with an empty body', async (t) => {
  const e = shared()
  const r = await e.send('GET', '/v1/things/7:stream', { headers: md({ 'x-echo-count': 0 }) })
  t.equal(r.status, 200)
  t.match(header(r, 'content-type'), /^application\/x-ndjson/)
  t.equal(r.text, '')
})

t.test('a longer stream arrives whole and in order', async (t) => {
  const e = lean()
  const r = await e.send('GET', '/v1/things/x:stream', { headers: md({ 'x-echo-count': 200 }) })
  t.equal(r.status, 200)
  const got = lines(r.text) as Array<{ seq: number }>
  t.equal(got.length, 200)
  t.ok(got.every((m, i) => m.seq === i + 1))
})

t.test('an error after the first message → the messages, then an {"error": Status} line', async (t) => {
  const e = lean()
  const r = await e.send('GET', '/v1/things/7:stream', {
    headers: failWith(status.INTERNAL, 'broke mid-stream', { 'x-echo-count': 3, 'x-echo-fail-after': 2, 'x-echo-details': 'bad-request' })
  })
  t.equal(r.status, 200, 'the status line went out with the first message')
  t.match(header(r, 'content-type'), /^application\/x-ndjson/)
  t.same(lines(r.text), [
    { id: '7', seq: 1 },
    { id: '7', seq: 2 },
    { error: { code: 13, message: 'broke mid-stream', details: BAD_REQUEST_DETAILS } }
  ])
})

t.test('a mid-stream error without details still carries details: []', async (t) => {
  const e = lean()
  const r = await e.send('GET', '/v1/things/7:stream', { headers: failWith(status.UNAVAILABLE, 'went away', { 'x-echo-fail-after': 1 }) })
  t.equal(r.status, 200)
  t.same(lines(r.text), [{ id: '7', seq: 1 }, { error: { code: 14, message: 'went away', details: [] } }])
  t.equal(e.echo.calls.length, 1, 'not retried: a response byte reached the client')
})

t.test('an error before the first message → an ordinary error response', async (t) => {
  const e = shared()
  const r = await e.send('GET', '/v1/things/7:stream', { headers: failWith(status.NOT_FOUND, 'no such thing', { 'x-echo-fail-after': 0, 'x-echo-details': 'bad-request' }) })
  t.equal(r.status, 404)
  t.match(header(r, 'content-type'), /^application\/json/)
  t.same(r.json(), { code: 5, message: 'no such thing', details: BAD_REQUEST_DETAILS })
})

t.test('a stream\'s response headers carry the initial metadata', async (t) => {
  const e = shared()
  const r = await e.send('GET', '/v1/things/7:stream', { headers: md({ 'x-tenant': 'acme', 'x-echo-count': 1 }) })
  t.equal(r.status, 200)
  t.equal(header(r, 'grpc-metadata-x-echo-x-tenant'), 'acme')
})

t.test('a streaming binding maps path and query like a unary one; a bad query → 400 before any call', async (t) => {
  const e = shared()
  const r = await e.send('GET', '/v1/things/7:stream?kind=HUGE')
  t.equal(r.status, 400)
  t.match(r.json(), { code: 'bad_transcode_request' })
  t.equal(e.echo.calls.length, 0)
})
