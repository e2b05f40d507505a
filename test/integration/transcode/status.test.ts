/**
 * REST → gRPC (spec §2.6): a gRPC status as the client sees it. Each of the 17 codes maps to
 * its HTTP status; the body is the google.rpc.Status JSON, `details` always there, decoded
 * from `grpc-status-details-bin` with an "@type" each.
 */
import t from 'tap'
import { status } from '@grpc/grpc-js'
import { BAD_REQUEST_DETAILS } from '../../helpers/grpc-echo.ts'
import { accessLine, localReplies } from '../../helpers/gateway.ts'
import { sharedEchoGateway, failWith, header, md } from './setup.ts'

const shared = sharedEchoGateway(t)

const HTTP_OF: Array<[name: string, code: number, http: number]> = [
  ['CANCELLED', status.CANCELLED, 499],
  ['UNKNOWN', status.UNKNOWN, 500],
  ['INVALID_ARGUMENT', status.INVALID_ARGUMENT, 400],
  ['DEADLINE_EXCEEDED', status.DEADLINE_EXCEEDED, 504],
  ['NOT_FOUND', status.NOT_FOUND, 404],
  ['ALREADY_EXISTS', status.ALREADY_EXISTS, 409],
  ['PERMISSION_DENIED', status.PERMISSION_DENIED, 403],
  ['RESOURCE_EXHAUSTED', status.RESOURCE_EXHAUSTED, 429],
  ['FAILED_PRECONDITION', status.FAILED_PRECONDITION, 400],
  ['ABORTED', status.ABORTED, 409],
  ['OUT_OF_RANGE', status.OUT_OF_RANGE, 400],
  ['UNIMPLEMENTED', status.UNIMPLEMENTED, 501],
  ['INTERNAL', status.INTERNAL, 500],
  ['UNAVAILABLE', status.UNAVAILABLE, 503],
  ['DATA_LOSS', status.DATA_LOSS, 500],
  ['UNAUTHENTICATED', status.UNAUTHENTICATED, 401]
]

t.test('OK → 200 with the message', async (t) => {
  const e = shared()
  const r = await e.send('GET', '/v1/things/1')
  t.equal(r.status, 200)
  t.equal(r.json().id, '1')
})

for (const [name, code, http] of HTTP_OF) {
  t.test(`${name} (${code}) → ${http} with the google.rpc.Status JSON`, async (t) => {
    const e = shared()
    const r = await e.send('GET', '/v1/things/1', { headers: failWith(code, `failed: ${name}`) })
    t.equal(r.status, http)
    t.match(header(r, 'content-type'), /^application\/json/)
    t.same(r.json(), { code, message: `failed: ${name}`, details: [] })
    t.equal(e.only().method, 'GetThing')
  })
}

t.test('a code outside the 17 → 500, the code kept in the Status', async (t) => {
  const e = shared()
  const r = await e.send('GET', '/v1/things/1', { headers: failWith(99, 'odd') })
  t.equal(r.status, 500)
  t.same(r.json(), { code: 99, message: 'odd', details: [] })
})

t.test('error details: google.rpc.Status from grpc-status-details-bin, each detail with "@type"', async (t) => {
  const e = shared()
  const r = await e.send('GET', '/v1/things/abc', { headers: failWith(status.INVALID_ARGUMENT, 'id must be a number', { 'x-echo-details': 'bad-request' }) })
  t.equal(r.status, 400)
  t.match(header(r, 'content-type'), /^application\/json/)
  t.same(r.json(), { code: 3, message: 'id must be a number', details: BAD_REQUEST_DETAILS })
  t.notOk('grpc-status-details-bin' in r.headers, 'the binary trailer is not passed on as such')
})

t.test('details come with any status, a 5xx as well as a 4xx', async (t) => {
  const e = shared()
  const r = await e.send('POST', '/v1/things', { body: {}, headers: failWith(status.DATA_LOSS, 'lost', { 'x-echo-details': 'bad-request' }) })
  t.equal(r.status, 500)
  t.same(r.json(), { code: 15, message: 'lost', details: BAD_REQUEST_DETAILS })
})

t.test('an error on a response_body binding is still the whole Status', async (t) => {
  const e = shared()
  const r = await e.send('GET', '/v1/things/7/tags', { headers: failWith(status.NOT_FOUND, 'no such thing') })
  t.equal(r.status, 404)
  t.same(r.json(), { code: 5, message: 'no such thing', details: [] })
})

t.test('an error on an HttpBody method is the Status JSON too', async (t) => {
  const e = shared()
  const r = await e.send('GET', '/v1/blobs/7', { headers: failWith(status.PERMISSION_DENIED, 'not yours') })
  t.equal(r.status, 403)
  t.match(header(r, 'content-type'), /^application\/json/)
  t.same(r.json(), { code: 7, message: 'not yours', details: [] })
})

t.test('an error message with spaces, punctuation and percent signs arrives intact', async (t) => {
  const e = shared()
  const message = 'shelf "s1" is 100% full; try again: later?'
  const r = await e.send('GET', '/v1/things/1', { headers: failWith(status.RESOURCE_EXHAUSTED, message) })
  t.equal(r.status, 429)
  t.equal(r.json().message, message)
})

t.test('response metadata comes back on an error too', async (t) => {
  const e = shared()
  const r = await e.send('GET', '/v1/things/1', { headers: { ...failWith(status.NOT_FOUND, 'gone'), ...md({ 'x-tenant': 'acme' }) } })
  t.equal(r.status, 404)
  t.equal(header(r, 'grpc-metadata-x-echo-x-tenant'), 'acme', 'initial metadata')
  t.equal(header(r, 'grpc-metadata-x-trailer'), 'yes', 'trailing metadata')
})

t.test('a gRPC error is the backend\'s answer, not a local reply: no problem+json, no local-reply count', async (t) => {
  const e = shared()
  const r = await e.send('GET', '/v1/things/gone', { headers: failWith(status.NOT_FOUND, 'gone') })
  t.notMatch(header(r, 'content-type'), /problem/)
  t.notOk('type' in r.json())
  t.same(await localReplies(e.g), [])
  t.match(await accessLine(e.g, '/v1/things/gone'), { status: 404, backend: 'echo', route: 'api' })
})
