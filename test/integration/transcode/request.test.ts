/**
 * REST → gRPC (spec §2.6): how a request becomes the request message. Both body forms,
 * path variables against the body and the query, and the query mapping of every scalar
 * kind, of repeated, nested, enum and well-known-type fields; what is refused with 400.
 */
import t, { type Test } from 'tap'
import { echoGateway, sharedEchoGateway, header, THING_DEFAULTS, type EchoGateway } from './setup.ts'

const shared = sharedEchoGateway(t)

/** A refused request: 400 bad_transcode_request problem+json whose detail names `field`. */
async function refused (t: Test, e: EchoGateway, method: string, path: string, field: string | RegExp, body?: string | object): Promise<void> {
  const r = await e.send(method, path, { body, headers: typeof body === 'string' ? { 'content-type': 'application/json' } : {} })
  t.equal(r.status, 400, `${method} ${path} → 400`)
  t.match(header(r, 'content-type'), /^application\/problem\+json/)
  const p = r.json()
  t.match(p, { type: 'about:blank', status: 400, code: 'bad_transcode_request' })
  t.match(p.detail, field, 'the detail names the field')
  t.equal(e.echo.calls.length, 0, 'nothing reached the backend')
}

t.test('body "*": the whole JSON body is the message; JSON names and proto names both accepted', async (t) => {
  const e = shared()
  const r = await e.send('POST', '/v1/things', { body: { id: '1', displayName: 'camel', nested: { note: 'n', child: { level: 2 } }, labels: { a: 'b' }, code: 'c' } })
  t.equal(r.status, 200)
  t.equal(e.only().method, 'CreateThing')
  t.same(e.only().request, { id: '1', display_name: 'camel', nested: { note: 'n', child: { level: 2 } }, labels: { a: 'b' }, code: 'c' })
  t.same(r.json(), {
    ...THING_DEFAULTS,
    id: '1',
    displayName: 'camel',
    nested: { note: 'n', level: 0, labels: [], child: { note: '', level: 2, labels: [] } },
    labels: { a: 'b' },
    thingCode: 'c'
  })
  e.reset()
  await e.send('POST', '/v1/things', { body: { display_name: 'snake', thingCode: 'json' } })
  t.same(e.only().request, { display_name: 'snake', code: 'json' })
})

t.test('body "*": the query maps nothing', async (t) => {
  const e = shared()
  await e.send('POST', '/v1/things?name=q&tags=a&nested.note=x', { body: { id: '1' } })
  t.same(e.only().request, { id: '1' })
})

t.test('body "*" with a path variable: path and body together', async (t) => {
  const e = shared()
  const r = await e.send('PATCH', '/v1/things/7', { body: { flag: true, tags: ['a', 'b'] } })
  t.equal(r.status, 200)
  t.equal(e.only().method, 'UpdateThing')
  t.same(e.only().request, { id: '7', flag: true, tags: ['a', 'b'] })
})

t.test('body: field — the JSON body is that field; the rest from the path and the query', async (t) => {
  const e = shared()
  const r = await e.send('PUT', '/v1/things/7/nested?tags=a&kind=LARGE&name=n', { body: { note: 'hello', level: 3, labels: ['x'] } })
  t.equal(r.status, 200)
  t.equal(e.only().method, 'UpdateNested')
  t.same(e.only().request, { id: '7', nested: { note: 'hello', level: 3, labels: ['x'] }, tags: ['a'], kind: 'LARGE', name: 'n' })
  t.same(r.json(), { note: 'hello', level: 3, labels: ['x'] }, 'response_body: the field only')
})

t.test('body: field — the query cannot set fields inside the body field', async (t) => {
  const e = shared()
  await e.send('PUT', '/v1/things/7/nested?nested.note=from-query&nested.level=9', { body: { level: 1 } })
  t.same(e.only().request, { id: '7', nested: { level: 1 } })
})

t.test('body: field with a nested path variable inside it: both end up in the message', async (t) => {
  const e = shared()
  const r = await e.send('PATCH', '/v1/shelves/s/books/b', { body: { title: 'T' } })
  t.equal(r.status, 200)
  t.equal(e.only().method, 'GetBook')
  t.same(e.only().request, { book: { name: 'shelves/s/books/b', title: 'T' } })
})

t.test('body "*" with an empty body: the empty message', async (t) => {
  const e = shared()
  const r = await e.send('POST', '/v1/things')
  t.equal(r.status, 200)
  t.same(e.only().request, {})
})

t.test('a body over limits.bodyBytes → 413 request_too_large; nothing sent', async (t) => {
  const e = await echoGateway(t, { gatewayYaml: 'limits: { bodyBytes: 1024 }' })
  const r = await e.send('POST', '/v1/things', { body: { name: 'x'.repeat(2_000) } })
  t.equal(r.status, 413)
  t.match(header(r, 'content-type'), /^application\/problem\+json/)
  t.match(r.json(), { status: 413, code: 'request_too_large' })
  t.equal(e.echo.calls.length, 0)
  t.equal((await e.send('POST', '/v1/things', { body: { name: 'x'.repeat(900) } })).status, 200, 'under the limit it goes through')
})

t.test('an unknown JSON field → 400 naming it', async (t) => {
  const e = shared()
  await refused(t, e, 'POST', '/v1/things', /colour/, { id: '1', colour: 'red' })
})

t.test('an unknown JSON field inside a nested message → 400 naming it', async (t) => {
  const e = shared()
  await refused(t, e, 'POST', '/v1/things', /shade/, { nested: { note: 'n', shade: 1 } })
})

t.test('a JSON value of the wrong type → 400 naming the field', async (t) => {
  const e = shared()
  await refused(t, e, 'POST', '/v1/things', /count/, { count: 'many' })
  await refused(t, e, 'POST', '/v1/things', /kind/, { kind: 'HUGE' })
  await refused(t, e, 'POST', '/v1/things', /tags/, { tags: 'not-a-list' })
})

t.test('a body that is not JSON → 400 bad_transcode_request', async (t) => {
  const e = shared()
  for (const body of ['{"id":', 'not json', '[1,2]']) {
    const r = await e.send('POST', '/v1/things', { body, headers: { 'content-type': 'application/json' } })
    t.equal(r.status, 400, body)
    t.match(r.json(), { code: 'bad_transcode_request' })
  }
  t.equal(e.echo.calls.length, 0)
})

t.test('query: nested fields with dots, several levels deep', async (t) => {
  const e = shared()
  const r = await e.send('GET', '/v1/echo?nested.note=x&nested.child.level=3&nested.child.child.note=deep&book.title=T')
  t.equal(r.status, 200)
  t.same(e.only().request, { nested: { note: 'x', child: { level: 3, child: { note: 'deep' } } }, book: { title: 'T' } })
})

t.test('query: repeated fields by repetition, in order', async (t) => {
  const e = shared()
  const r = await e.send('GET', '/v1/echo?tags=b&tags=a&tags=b&nested.labels=x&nested.labels=y')
  t.same(e.only().request, { tags: ['b', 'a', 'b'], nested: { labels: ['x', 'y'] } })
  t.same(r.json().tags, ['b', 'a', 'b'])
})

t.test('query: enums by name or by number, singular and repeated', async (t) => {
  const e = shared()
  await e.send('GET', '/v1/echo?kind=LARGE&kinds=SMALL&kinds=2&kinds=0')
  t.same(e.only().request, { kind: 'LARGE', kinds: ['SMALL', 'LARGE', 'KIND_UNSPECIFIED'] })
  e.reset()
  const r = await e.send('GET', '/v1/echo?kind=1')
  t.same(e.only().request, { kind: 'SMALL' })
  t.equal(r.json().kind, 'SMALL')
})

t.test('query: an enum value that is neither a name nor a number → 400', async (t) => {
  const e = shared()
  await refused(t, e, 'GET', '/v1/echo?kind=HUGE', /kind/)
  await refused(t, e, 'GET', '/v1/echo?kind=large', /kind/)
})

t.test('query: field names as in the proto, as lowerCamelCase, or as json_name', async (t) => {
  const e = shared()
  await e.send('GET', '/v1/echo?display_name=a&thingCode=c')
  t.same(e.only().request, { display_name: 'a', code: 'c' })
  e.reset()
  await e.send('GET', '/v1/echo?displayName=b')
  t.same(e.only().request, { display_name: 'b' })
})

t.test('query: "+" is a space, percent-escapes are decoded', async (t) => {
  const e = shared()
  await e.send('GET', '/v1/echo?name=a+b%2Bc%26d%3De&tags=%C3%A9t%C3%A9')
  t.same(e.only().request, { name: 'a b+c&d=e', tags: ['été'] })
})

t.test('query: names that map to no field are ignored', async (t) => {
  const e = shared()
  const r = await e.send('GET', '/v1/echo?colour=red&name=n&nested.nope=1&utm_source=x')
  t.equal(r.status, 200)
  t.same(e.only().request, { name: 'n' })
})

t.test('query: a singular field given twice → 400', async (t) => {
  const e = shared()
  await refused(t, e, 'GET', '/v1/echo?name=a&name=b', /name/)
  await refused(t, e, 'GET', '/v1/echo?nested.level=1&nested.level=2', /nested\.level/)
})

t.test('query: a field bound by the path keeps the path value', async (t) => {
  const e = shared()
  const r = await e.send('GET', '/v1/things/7?id=8&name=n')
  t.same(e.only().request, { id: '7', name: 'n' })
  t.equal(r.json().id, '7')
  e.reset()
  await e.send('GET', '/v1/shelves/s/books/b?book.name=other&book.title=T')
  t.same(e.only().request, { book: { name: 'shelves/s/books/b', title: 'T' } })
})

t.test('query: booleans, a oneof member and a 64-bit integer beyond 2^53', async (t) => {
  const e = shared()
  const r = await e.send('GET', '/v1/echo?flag=true&number=42&count=9007199254740993')
  t.same(e.only().request, { flag: true, number: 42, choice: 'number', count: '9007199254740993' })
  t.match(r.json(), { flag: true, number: 42, count: '9007199254740993' })
  t.notOk('text' in r.json(), 'the other oneof member is absent')
})

t.test('query: every scalar kind', async (t) => {
  const e = shared()
  const q = new URLSearchParams({
    doubleValue: '1.5',
    floatValue: '-2.25',
    int32Value: '-2147483648',
    int64Value: '-9223372036854775808',
    uint32Value: '4294967295',
    uint64Value: '18446744073709551615',
    sint32Value: '-5',
    sint64Value: '-6',
    fixed32Value: '7',
    fixed64Value: '8',
    sfixed32Value: '-9',
    sfixed64Value: '-10',
    boolValue: 'true',
    stringValue: 'ünï',
    bytesValue: Buffer.from('hi?>').toString('base64'),
    kind: 'LARGE'
  })
  const r = await e.send('GET', `/v1/scalars?${q.toString()}`)
  t.equal(r.status, 200)
  t.equal(e.only().method, 'EchoScalars')
  t.same(e.only().request, {
    double_value: 1.5,
    float_value: -2.25,
    int32_value: -2147483648,
    int64_value: '-9223372036854775808',
    uint32_value: 4294967295,
    uint64_value: '18446744073709551615',
    sint32_value: -5,
    sint64_value: '-6',
    fixed32_value: 7,
    fixed64_value: '8',
    sfixed32_value: -9,
    sfixed64_value: '-10',
    bool_value: true,
    string_value: 'ünï',
    bytes_value: Buffer.from('hi?>').toString('base64'),
    kind: 'LARGE'
  })
  t.match(r.json(), {
    doubleValue: 1.5,
    floatValue: -2.25,
    int32Value: -2147483648,
    int64Value: '-9223372036854775808',
    uint32Value: 4294967295,
    uint64Value: '18446744073709551615',
    sint64Value: '-6',
    fixed64Value: '8',
    sfixed64Value: '-10',
    boolValue: true,
    stringValue: 'ünï',
    bytesValue: 'aGk/Pg=='
  })
})

t.test('query: repeated scalars of every kind by repetition', async (t) => {
  const e = shared()
  const pairs: Array<[string, string]> = [
    ['doubles', '1.5'], ['doubles', '-0.5'], ['floats', '2'], ['int32s', '-1'], ['int32s', '2'],
    ['int64s', '9007199254740993'], ['uint32s', '3'], ['uint64s', '4'], ['sint32s', '-5'], ['sint64s', '-6'],
    ['fixed32s', '7'], ['fixed64s', '8'], ['sfixed32s', '-9'], ['sfixed64s', '-10'], ['bools', 'true'],
    ['bools', 'false'], ['strings', 'a'], ['strings', ''], ['bytes_list', 'AAE='], ['kinds', 'SMALL']
  ]
  await e.send('GET', `/v1/scalars?${new URLSearchParams(pairs).toString()}`)
  t.same(e.only().request, {
    doubles: [1.5, -0.5],
    floats: [2],
    int32s: [-1, 2],
    int64s: ['9007199254740993'],
    uint32s: [3],
    uint64s: ['4'],
    sint32s: [-5],
    sint64s: ['-6'],
    fixed32s: [7],
    fixed64s: ['8'],
    sfixed32s: [-9],
    sfixed64s: ['-10'],
    bools: [true, false],
    strings: ['a', ''],
    bytes_list: ['AAE='],
    kinds: ['SMALL']
  })
})

t.test('query: special floats and bools spelled as numbers', async (t) => {
  const e = shared()
  const r = await e.send('GET', '/v1/scalars?doubleValue=NaN&floatValue=-Infinity&doubles=Infinity&boolValue=1&bools=0')
  t.equal(r.status, 200)
  t.same(e.only().request, { double_value: 'NaN', float_value: '-Infinity', doubles: ['Infinity'], bool_value: true, bools: [false] })
  t.match(r.json(), { doubleValue: 'NaN', floatValue: '-Infinity', doubles: ['Infinity'], boolValue: true })
})

t.test('query: numbers out of range or malformed → 400 naming the parameter', async (t) => {
  const e = shared()
  await refused(t, e, 'GET', '/v1/scalars?int32Value=2147483648', /int32Value/)
  await refused(t, e, 'GET', '/v1/scalars?uint32Value=-1', /uint32Value/)
  await refused(t, e, 'GET', '/v1/scalars?uint64Value=18446744073709551616', /uint64Value/)
  await refused(t, e, 'GET', '/v1/scalars?int64s=1&int64s=x', /int64s/)
  await refused(t, e, 'GET', '/v1/scalars?doubleValue=abc', /doubleValue/)
  await refused(t, e, 'GET', '/v1/scalars?boolValue=yes', /boolValue/)
  await refused(t, e, 'GET', '/v1/scalars?int32Value=1.5', /int32Value/)
})

t.test('query: well-known types in their JSON string forms', async (t) => {
  const e = shared()
  const q = new URLSearchParams({
    time: '2024-01-02T03:04:05.5Z',
    duration: '1.5s',
    doubleWrapper: '2.5',
    int64Wrapper: '-9007199254740993',
    uint32Wrapper: '7',
    boolWrapper: 'false',
    stringWrapper: 'w',
    bytesWrapper: 'AQI=',
    mask: 'display_name,nested.note',
    value: 'hello'
  })
  q.append('times', '1970-01-01T00:00:01Z')
  q.append('times', '2000-01-01T00:00:00+01:00')
  const r = await e.send('GET', `/v1/wkt?${q.toString()}`)
  t.equal(r.status, 200)
  t.equal(e.only().method, 'EchoWellKnown')
  t.same(e.only().request, {
    time: { seconds: '1704164645', nanos: 500000000 },
    duration: { seconds: '1', nanos: 500000000 },
    double_wrapper: { value: 2.5 },
    int64_wrapper: { value: '-9007199254740993' },
    uint32_wrapper: { value: 7 },
    bool_wrapper: {},
    string_wrapper: { value: 'w' },
    bytes_wrapper: { value: 'AQI=' },
    mask: { paths: ['display_name', 'nested.note'] },
    value: { stringValue: 'hello', kind: 'stringValue' }, // protobufjs's bundled struct.proto is camelCase
    times: [{ seconds: '1' }, { seconds: '946681200' }]
  })
  t.match(r.json(), {
    time: '2024-01-02T03:04:05.500Z',
    duration: '1.500s',
    doubleWrapper: 2.5,
    int64Wrapper: '-9007199254740993',
    uint32Wrapper: 7,
    boolWrapper: false,
    stringWrapper: 'w',
    bytesWrapper: 'AQI=',
    mask: 'displayName,nested.note',
    value: 'hello',
    times: ['1970-01-01T00:00:01Z', '1999-12-31T23:00:00Z']
  })
})

t.test('query: a malformed well-known-type value → 400 naming the parameter', async (t) => {
  const e = shared()
  await refused(t, e, 'GET', '/v1/wkt?time=yesterday', /time/)
  await refused(t, e, 'GET', '/v1/wkt?duration=5', /duration/)
  await refused(t, e, 'GET', '/v1/wkt?int32Wrapper=x', /int32Wrapper/)
})

t.test('query: maps and messages that are not well-known types are not set from the query', async (t) => {
  const e = shared()
  const r = await e.send('GET', '/v1/echo?labels=a&nested=x&book=y&name=n')
  t.equal(r.status, 200)
  t.same(e.only().request, { name: 'n' })
})
