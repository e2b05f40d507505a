/**
 * REST → gRPC (spec §2.6): the proto3 JSON a client gets back. lowerCamelCase names, 64-bit
 * integers as strings, enums as names, bytes base64, the well-known types in their JSON
 * forms, default values emitted unless `omitDefaults: true`, response_body, Empty, HttpBody.
 * The echo backend answers with the request's own bytes, so each case sends JSON in and
 * checks both what the backend decoded and the JSON that came back.
 */
import t from 'tap'
import { request } from 'undici'
import { sharedEchoGateway, header } from './setup.ts'

const shared = sharedEchoGateway(t)
/** Another, whose backend sets `omitDefaults: true`. */
const lean = sharedEchoGateway(t, { backend: ['omitDefaults: true'] })

const SCALAR_DEFAULTS = {
  doubleValue: 0,
  floatValue: 0,
  int32Value: 0,
  int64Value: '0',
  uint32Value: 0,
  uint64Value: '0',
  sint32Value: 0,
  sint64Value: '0',
  fixed32Value: 0,
  fixed64Value: '0',
  sfixed32Value: 0,
  sfixed64Value: '0',
  boolValue: false,
  stringValue: '',
  bytesValue: '',
  kind: 'KIND_UNSPECIFIED',
  doubles: [],
  floats: [],
  int32s: [],
  int64s: [],
  uint32s: [],
  uint64s: [],
  sint32s: [],
  sint64s: [],
  fixed32s: [],
  fixed64s: [],
  sfixed32s: [],
  sfixed64s: [],
  bools: [],
  strings: [],
  bytesList: [],
  kinds: [],
  counts: {},
  byNumber: {}
}

t.test('default values are emitted: 0, "0", false, "", [], {} and the zero enum', async (t) => {
  const e = shared()
  const r = await e.send('POST', '/v1/scalars', { body: {} })
  t.equal(r.status, 200)
  t.same(r.json(), SCALAR_DEFAULTS, 'explicit-presence fields (proto3 optional, messages) stay absent')
  t.same(e.only().request, {})
})

t.test('omitDefaults: true leaves default values out', async (t) => {
  const e = lean()
  t.same((await e.send('POST', '/v1/scalars', { body: {} })).json(), {})
  t.same((await e.send('GET', '/v1/things/7?nested.level=0')).json(), { id: '7', nested: {} })
  t.same((await e.send('POST', '/v1/scalars', { body: { int32Value: 0, maybe: 0, strings: ['', ''] } })).json(), { maybe: 0, strings: ['', ''] },
    'a proto3 optional field set to 0 and repeated zero values are still there')
})

t.test('every scalar type in the proto3 JSON form; names lowerCamelCase', async (t) => {
  const e = lean()
  const r = await e.send('POST', '/v1/scalars', {
    body: {
      double_value: 1.25,
      float_value: 0.5,
      int32_value: -1,
      int64_value: 1234567890123456789,
      uint32_value: 4000000000,
      uint64_value: '18446744073709551615',
      sint32_value: -2147483648,
      sint64_value: '-9223372036854775808',
      fixed32_value: 1,
      fixed64_value: '2',
      sfixed32_value: -3,
      sfixed64_value: '-4',
      bool_value: true,
      string_value: 'snow ☃',
      bytes_value: Buffer.from([0, 1, 254, 255]).toString('base64'),
      kind: 'SMALL'
    }
  })
  t.equal(r.status, 200)
  t.same(r.json(), {
    doubleValue: 1.25,
    floatValue: 0.5,
    int32Value: -1,
    int64Value: '1234567890123456768', // the JSON number as given, rounded by JSON itself
    uint32Value: 4000000000,
    uint64Value: '18446744073709551615',
    sint32Value: -2147483648,
    sint64Value: '-9223372036854775808',
    fixed32Value: 1,
    fixed64Value: '2',
    sfixed32Value: -3,
    sfixed64Value: '-4',
    boolValue: true,
    stringValue: 'snow ☃',
    bytesValue: 'AAH+/w==',
    kind: 'SMALL'
  })
  t.match(e.only().request, { int64_value: '1234567890123456768', uint64_value: '18446744073709551615', sint64_value: '-9223372036854775808', bytes_value: 'AAH+/w==' })
})

t.test('input forms proto3 JSON allows: numbers as strings, exponents, URL-safe base64, enum numbers', async (t) => {
  const e = lean()
  const r = await e.send('POST', '/v1/scalars', {
    body: { int32Value: '42', doubleValue: '1e3', floatValue: 1e2, int64Value: '-7', uint32Value: 1.0, bytesValue: '-_8', kind: 2, kinds: [1, 'LARGE'] }
  })
  t.equal(r.status, 200)
  t.same(r.json(), { int32Value: 42, doubleValue: 1000, floatValue: 100, int64Value: '-7', uint32Value: 1, bytesValue: '+/8=', kind: 'LARGE', kinds: ['SMALL', 'LARGE'] })
  t.match(e.only().request, { int32_value: 42, kind: 'LARGE' })
})

t.test('NaN and the infinities are strings both ways', async (t) => {
  const e = lean()
  const r = await e.send('POST', '/v1/scalars', { body: { doubleValue: 'NaN', floatValue: 'Infinity', doubles: ['-Infinity', 1] } })
  t.same(r.json(), { doubleValue: 'NaN', floatValue: 'Infinity', doubles: ['-Infinity', 1] })
})

t.test('an enum number the proto does not define comes back as the number', async (t) => {
  const e = lean()
  const r = await e.send('POST', '/v1/scalars', { body: { kind: 7, kinds: [1, 9] } })
  t.equal(r.status, 200)
  t.same(r.json(), { kind: 7, kinds: ['SMALL', 9] })
})

t.test('maps: string keys, integer keys as strings, message values', async (t) => {
  const e = lean()
  const r = await e.send('POST', '/v1/scalars', { body: { counts: { a: '1', b: 2 }, by_number: { 7: { note: 'seven' }, '-1': { level: 1 } } } })
  t.equal(r.status, 200)
  t.same(r.json(), { counts: { a: '1', b: '2' }, byNumber: { 7: { note: 'seven' }, '-1': { level: 1 } } })
  t.same(e.only().request, { counts: { a: '1', b: '2' }, by_number: { 7: { note: 'seven' }, '-1': { level: 1 } } })
})

t.test('oneof: the member set is emitted, even at its default; the other is absent', async (t) => {
  const e = shared()
  const r = await e.send('POST', '/v1/things', { body: { number: 0 } })
  t.equal(r.json().number, 0)
  t.notOk('text' in r.json())
  t.match(e.only().request, { number: 0, choice: 'number' })
  const both = await e.send('POST', '/v1/things', { body: { number: 1, text: 'x' } })
  t.equal(both.status, 400, 'two members of one oneof → 400')
  t.match(both.json(), { code: 'bad_transcode_request' })
})

t.test('json_name: the custom JSON name out', async (t) => {
  const e = lean()
  t.same((await e.send('POST', '/v1/things', { body: { code: 'x', display_name: 'd' } })).json(), { thingCode: 'x', displayName: 'd' })
})

t.test('Timestamp and Duration: RFC 3339 in UTC, seconds with a suffix', async (t) => {
  const e = lean()
  const r = await e.send('POST', '/v1/wkt', {
    body: { time: '2024-01-02T05:04:05.123+02:00', duration: '-3.000001s', times: ['1970-01-01T00:00:00Z', '2024-02-29T23:59:59.999999999Z'] }
  })
  t.equal(r.status, 200)
  t.same(r.json(), { time: '2024-01-02T03:04:05.123Z', duration: '-3.000001s', times: ['1970-01-01T00:00:00Z', '2024-02-29T23:59:59.999999999Z'] })
  t.same(e.only().request.time, { seconds: '1704164645', nanos: 123000000 })
  t.same(e.only().request.duration, { seconds: '-3', nanos: -1000 })
})

t.test('wrappers: the wrapped value itself; a zero in a wrapper is still there', async (t) => {
  const e = lean()
  const body = {
    doubleWrapper: 1.5,
    floatWrapper: 0,
    int64Wrapper: '-9007199254740993',
    uint64Wrapper: '18446744073709551615',
    int32Wrapper: 0,
    uint32Wrapper: 3,
    boolWrapper: false,
    stringWrapper: '',
    bytesWrapper: 'AQ=='
  }
  const r = await e.send('POST', '/v1/wkt', { body })
  t.same(r.json(), body)
  t.same(e.only().request.int32_wrapper, {}, 'the backend got an Int32Value message holding 0')
})

t.test('Struct, Value and ListValue: arbitrary JSON', async (t) => {
  const e = lean()
  const body = {
    struct: { a: 1, b: 'two', c: [true, null, { d: 'e' }], f: {} },
    value: { nested: [1, 'x'] },
    list: [1, 'a', false, null, [], {}]
  }
  const r = await e.send('POST', '/v1/wkt', { body })
  t.equal(r.status, 200)
  t.same(r.json(), body)
  e.reset()
  t.same((await e.send('POST', '/v1/wkt', { body: { value: null } })).json(), { value: null }, 'a null Value is the JSON null')
})

t.test('FieldMask: comma-separated lowerCamelCase paths both ways', async (t) => {
  const e = lean()
  const r = await e.send('POST', '/v1/wkt', { body: { mask: 'displayName,nested.childNote,tags' } })
  t.same(r.json(), { mask: 'displayName,nested.childNote,tags' })
  t.same(e.only().request, { mask: { paths: ['display_name', 'nested.child_note', 'tags'] } })
})

t.test('Any: "@type" and the packed message\'s fields; a well-known type under "value"', async (t) => {
  const e = lean()
  const book = { '@type': 'type.googleapis.com/echo.v1.Book', name: 'b', title: 'T' }
  t.same((await e.send('POST', '/v1/wkt', { body: { any: book } })).json(), { any: book })
  const dur = { '@type': 'type.googleapis.com/google.protobuf.Duration', value: '2s' }
  t.same((await e.send('POST', '/v1/wkt', { body: { any: dur } })).json(), { any: dur })
  const unknown = await e.send('POST', '/v1/wkt', { body: { any: { '@type': 'type.googleapis.com/no.such.Type', x: 1 } } })
  t.equal(unknown.status, 400, 'an Any of a type the protos do not define → 400')
  t.match(unknown.json(), { code: 'bad_transcode_request' })
})

t.test('Empty as a field and as a whole response is {}', async (t) => {
  const e = lean()
  t.same((await e.send('POST', '/v1/wkt', { body: { empty: {} } })).json(), { empty: {} })
  const del = await e.send('DELETE', '/v1/things/1')
  t.equal(del.status, 200)
  t.match(header(del, 'content-type'), /^application\/json/)
  t.same(del.json(), {})
})

t.test('a bad Timestamp, Duration or FieldMask in the body → 400 naming the field', async (t) => {
  const e = shared()
  for (const [body, field] of [[{ time: '2024-13-01T00:00:00Z' }, /time/], [{ duration: '1h' }, /duration/], [{ mask: 'display_name' }, /mask/]] as const) {
    const r = await e.send('POST', '/v1/wkt', { body })
    t.equal(r.status, 400, JSON.stringify(body))
    t.match(r.json(), { code: 'bad_transcode_request', detail: field })
  }
  t.equal(e.echo.calls.length, 0)
})

t.test('response_body: a repeated field → the JSON array', async (t) => {
  const e = shared()
  const r = await e.send('GET', '/v1/things/7/tags?tags=a&tags=b')
  t.equal(r.status, 200)
  t.match(header(r, 'content-type'), /^application\/json/)
  t.same(r.json(), ['a', 'b'])
  t.equal(e.only().method, 'GetTags')
  t.same((await e.send('GET', '/v1/things/7/tags')).json(), [], 'an empty repeated field → []')
})

t.test('response_body: a message field → that message, defaults emitted inside it', async (t) => {
  const e = shared()
  const r = await e.send('GET', '/v1/things/7/nested?nested.note=x&nested.child.level=1')
  t.same(r.json(), { note: 'x', level: 0, labels: [], child: { note: '', level: 1, labels: [] } })
  t.same((await e.send('GET', '/v1/things/7/nested')).json(), {}, 'an unset message field → {}')
})

t.test('HttpBody response: its bytes with its content type', async (t) => {
  const e = shared()
  const r = await e.send('GET', '/v1/blobs/42')
  t.equal(r.status, 200)
  t.equal(header(r, 'content-type'), 'text/plain; charset=utf-8')
  t.equal(r.text, 'blob 42')
  t.same(e.only().request, { id: '42' })
})

t.test('HttpBody request and response: raw bytes and content type both ways', async (t) => {
  const e = shared()
  const bytes = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 255])
  const r = await undiciRaw(e.g.url + '/v1/blobs', bytes, 'image/png')
  t.equal(r.status, 200)
  t.equal(r.contentType, 'image/png')
  t.same(r.body, bytes)
  t.equal(e.only().method, 'Upload')
  t.same(e.only().request, { content_type: 'image/png', data: bytes.toString('base64') })
})

async function undiciRaw (url: string, body: Buffer, contentType: string): Promise<{ status: number, contentType: string | undefined, body: Buffer }> {
  const r = await request(url, { method: 'POST', body, headers: { 'content-type': contentType } })
  const out = Buffer.from(await r.body.arrayBuffer())
  return { status: r.statusCode, contentType: r.headers['content-type'] as string | undefined, body: out }
}
