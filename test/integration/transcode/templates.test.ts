/**
 * REST → gRPC (spec §2.6): which method a request reaches. google.api.http template forms
 * (literal, `{var}`, `{var=a/*}`, nested `{a.b=...}`, `**`, `:verb`, custom kinds),
 * additional_bindings, the most specific binding, 404 and 405, and routes naming a method.
 */
import t from 'tap'
import { echoGateway, sharedEchoGateway, header, THING_DEFAULTS } from './setup.ts'

const shared = sharedEchoGateway(t)

const problem = (code: string, status: number): Record<string, unknown> => ({ type: 'about:blank', status, code })

t.test('a literal template reaches its method; the answer is the message back as JSON', async (t) => {
  const e = shared()
  const r = await e.send('GET', '/v1/echo')
  t.equal(r.status, 200)
  t.match(header(r, 'content-type'), /^application\/json\b/)
  t.same(r.json(), THING_DEFAULTS)
  t.equal(e.only().method, 'Echo')
  t.same(e.only().request, {})
})

t.test('{id} binds one segment to the field', async (t) => {
  const e = shared()
  const r = await e.send('GET', '/v1/things/7')
  t.equal(r.status, 200)
  t.same(r.json(), { ...THING_DEFAULTS, id: '7' })
  t.equal(e.only().method, 'GetThing')
  t.same(e.only().request, { id: '7' })
})

t.test('a single-segment variable is percent-decoded', async (t) => {
  const e = shared()
  const r = await e.send('GET', '/v1/things/a%20b%3Fc%C3%A9')
  t.equal(r.status, 200)
  t.same(e.only().request, { id: 'a b?cé' })
  t.equal(r.json().id, 'a b?cé')
})

t.test('a literal segment beats a variable in the same place', async (t) => {
  const e = shared()
  t.equal((await e.send('GET', '/v1/things/special')).status, 200)
  t.equal(e.only().method, 'GetSpecial')
  e.reset()
  await e.send('GET', '/v1/things/specials')
  t.equal(e.only().method, 'GetThing', 'a segment that only starts like the literal is a variable')
})

t.test('{name=shelves/*} binds a literal and a segment together', async (t) => {
  const e = shared()
  const r = await e.send('GET', '/v1/shelves/s1')
  t.equal(r.status, 200)
  t.equal(e.only().method, 'GetShelf')
  t.same(e.only().request, { name: 'shelves/s1' })
  t.equal(r.json().name, 'shelves/s1')
})

t.test('{book.name=shelves/*/books/*} sets a field of a nested message', async (t) => {
  const e = shared()
  const r = await e.send('GET', '/v1/shelves/s1/books/b2')
  t.equal(r.status, 200)
  t.equal(e.only().method, 'GetBook')
  t.same(e.only().request, { book: { name: 'shelves/s1/books/b2' } })
  t.same(r.json().book, { name: 'shelves/s1/books/b2', title: '' })
})

t.test('{path=**} binds the rest of the path, several segments', async (t) => {
  const e = shared()
  const r = await e.send('GET', '/v1/files/a/b/c.txt')
  t.equal(r.status, 200)
  t.equal(e.only().method, 'GetFile')
  t.same(e.only().request, { path: 'a/b/c.txt' })
})

t.test('a multi-segment variable keeps reserved characters percent-encoded', async (t) => {
  // http.proto: "the default behavior is to not decode RFC 6570 reserved characters in
  // multi segment matches"; unreserved ones are decoded.
  const e = shared()
  t.equal((await e.send('GET', '/v1/files/a%3Fb/c%7Ed')).status, 200)
  t.same(e.only().request, { path: 'a%3Fb/c~d' })
})

t.test('`*` beats `**`: one segment after /v1/files/ goes to the single-segment binding', async (t) => {
  const e = shared()
  await e.send('GET', '/v1/files/readme')
  t.equal(e.only().method, 'StatFile')
  t.same(e.only().request, { name: 'readme' })
})

t.test('a custom verb selects its binding; the variable before it excludes the verb', async (t) => {
  const e = shared()
  const r = await e.send('POST', '/v1/things/7:cancel', { body: { flag: true } })
  t.equal(r.status, 200)
  t.equal(e.only().method, 'CancelThing')
  t.same(e.only().request, { id: '7', flag: true })
  t.same(r.json(), { ...THING_DEFAULTS, id: '7', flag: true })
})

t.test('without a verb in the template, a colon in the last segment is part of the value', async (t) => {
  const e = shared()
  t.equal((await e.send('GET', '/v1/things/7:undo')).status, 200)
  t.equal(e.only().method, 'GetThing')
  t.same(e.only().request, { id: '7:undo' })
})

t.test('additional_bindings: a second template for the same method', async (t) => {
  const e = shared()
  const r = await e.send('GET', '/v1/shelves/s1/things/7')
  t.equal(r.status, 200)
  t.equal(e.only().method, 'GetThing')
  t.same(e.only().request, { shelf: 's1', id: '7' })
})

t.test('additional_bindings: another HTTP method, with a verb and its own body rule', async (t) => {
  const e = shared()
  const r = await e.send('POST', '/v1/things/7:get', { body: { name: 'n', tags: ['x'] } })
  t.equal(r.status, 200)
  t.equal(e.only().method, 'GetThing')
  t.same(e.only().request, { id: '7', name: 'n', tags: ['x'] })
})

t.test('custom: { kind: "HEAD" } binds HEAD', async (t) => {
  const e = shared()
  const r = await e.send('HEAD', '/v1/ping')
  t.equal(r.status, 200)
  t.equal(r.text, '')
  t.equal(e.only().method, 'Ping')
})

t.test('DELETE reaches its binding; google.protobuf.Empty answers {}', async (t) => {
  const e = shared()
  const r = await e.send('DELETE', '/v1/things/7')
  t.equal(r.status, 200)
  t.same(r.json(), {})
  t.equal(e.only().method, 'DeleteThing')
  t.same(e.only().request, { id: '7' })
})

t.test('a path no binding matches → 404 route_not_found; the backend sees nothing', async (t) => {
  const e = shared()
  for (const path of ['/v1/nothing', '/v1/things/7/unknown', '/v2/things/7', '/v1/things:stream']) {
    const r = await e.send('GET', path)
    t.equal(r.status, 404, path)
    t.match(header(r, 'content-type'), /^application\/problem\+json/)
    t.match(r.json(), problem('route_not_found', 404), path)
  }
  t.equal(e.echo.calls.length, 0)
})

t.test('client- and bidirectional-streaming methods are not bound: 404', async (t) => {
  const e = shared()
  for (const path of ['/v1/things:collect', '/v1/things:chat']) {
    const r = await e.send('POST', path, { body: { id: '1' } })
    t.equal(r.status, 404, path)
    t.match(r.json(), problem('route_not_found', 404))
  }
  t.equal(e.echo.calls.length, 0)
})

t.test('loading a service with streaming-client methods logs that they are not bound', async (t) => {
  const e = shared()
  const text = JSON.stringify(e.g.logs)
  t.match(text, /CollectThings/)
  t.match(text, /ChatThings/)
})

t.test('a path bound under other HTTP methods → 405 method_not_allowed with Allow', async (t) => {
  const e = shared()
  const r = await e.send('PUT', '/v1/things/7')
  t.equal(r.status, 405)
  t.match(header(r, 'content-type'), /^application\/problem\+json/)
  t.match(r.json(), problem('method_not_allowed', 405))
  t.same(header(r, 'allow')!.split(/,\s*/).sort(), ['DELETE', 'GET', 'PATCH'])
  t.equal(e.echo.calls.length, 0)
})

t.test('405 on a custom-kind binding lists that kind', async (t) => {
  const e = shared()
  const ping = await e.send('GET', '/v1/ping')
  t.equal(ping.status, 405)
  t.equal(header(ping, 'allow'), 'HEAD')
  const blobs = await e.send('GET', '/v1/blobs')
  t.equal(blobs.status, 405)
  t.equal(header(blobs, 'allow'), 'POST')
  t.equal(e.echo.calls.length, 0)
})

t.test('a route naming a method: path params and query map to fields by name', async (t) => {
  const e = await echoGateway(t, {
    routes: [
      '  - name: one',
      '    match: { path: /internal/:id/:shelf, methods: [GET] }',
      '    to: echo',
      '    grpc: { method: echo.v1.EchoService/Internal }'
    ]
  })
  const r = await e.send('GET', '/internal/7/s1?tags=a&tags=b&kind=LARGE')
  t.equal(r.status, 200)
  t.equal(e.only().method, 'Internal')
  t.same(e.only().request, { id: '7', shelf: 's1', tags: ['a', 'b'], kind: 'LARGE' })
  t.same(r.json(), { ...THING_DEFAULTS, id: '7', shelf: 's1', tags: ['a', 'b'], kind: 'LARGE' })
})

t.test('a route naming a method with body "*": the JSON body and the path params', async (t) => {
  const e = await echoGateway(t, {
    routes: [
      '  - name: one',
      '    match: { path: /internal/:id, methods: [POST] }',
      '    to: echo',
      '    grpc: { method: echo.v1.EchoService/Internal, body: "*" }'
    ]
  })
  const r = await e.send('POST', '/internal/7?name=ignored', { body: { displayName: 'x', nested: { level: 2 } } })
  t.equal(r.status, 200)
  t.same(e.only().request, { id: '7', display_name: 'x', nested: { level: 2 } })
  t.equal(r.json().name, '', 'with body "*" the query maps nothing')
})

t.test('a route naming a method serves its paths; the bindings serve the other routes', async (t) => {
  const e = await echoGateway(t, {
    routes: [
      '  - name: one',
      '    match: { path: /special/:id }',
      '    to: echo',
      '    grpc: { method: echo.v1.EchoService/GetSpecial }',
      '  - name: api',
      '    match: { path: /v1/** }',
      '    to: echo'
    ]
  })
  await e.send('GET', '/special/9')
  t.equal(e.only().method, 'GetSpecial')
  t.same(e.only().request, { id: '9' })
  e.reset()
  await e.send('GET', '/v1/things/9')
  t.equal(e.only().method, 'GetThing')
})

t.test('bindings match the normalised path: dot-segments and empty segments go first', async (t) => {
  const e = shared()
  for (const path of ['/v1/things/../things/7', '/v1//things/7', '/v1/./things/%2e%2e/things/7']) {
    e.reset()
    t.equal((await e.send('GET', path)).status, 200, path)
    t.same(e.only().request, { id: '7' }, path)
  }
})

t.test('an encoded slash in the path → 400 bad_request_path, before any binding', async (t) => {
  const e = shared()
  const r = await e.send('GET', '/v1/files/a%2Fb')
  t.equal(r.status, 400)
  t.match(r.json(), problem('bad_request_path', 400))
  t.equal(e.echo.calls.length, 0)
})

t.test('a trailing slash is significant: /v1/things/7/ is not /v1/things/7', async (t) => {
  const e = shared()
  const r = await e.send('GET', '/v1/things/7/')
  t.equal(r.status, 404)
  t.match(r.json(), problem('route_not_found', 404))
  t.equal(e.echo.calls.length, 0)
})

t.test('path variables of non-string fields are parsed by type: integers, enums, bools, nested', async (t) => {
  const e = shared()
  t.equal((await e.send('GET', '/v1/counts/9007199254740993')).json().count, '9007199254740993')
  t.equal((await e.send('GET', '/v1/kinds/LARGE')).json().kind, 'LARGE')
  t.equal((await e.send('GET', '/v1/kinds/1')).json().kind, 'SMALL')
  t.same((await e.send('GET', '/v1/flags/true/3')).json().nested, { note: '', level: 3, labels: [] })
  t.same(e.echo.calls.map((c) => [c.method, c.request]), [
    ['FindThing', { count: '9007199254740993' }],
    ['FindThing', { kind: 'LARGE' }],
    ['FindThing', { kind: 'SMALL' }],
    ['FindThing', { flag: true, nested: { level: 3 } }]
  ])
})

t.test('a path variable value its field cannot hold → 400 bad_transcode_request', async (t) => {
  const e = shared()
  for (const path of ['/v1/counts/many', '/v1/kinds/HUGE', '/v1/flags/maybe/1', '/v1/flags/true/1.5']) {
    const r = await e.send('GET', path)
    t.equal(r.status, 400, path)
    t.match(r.json(), problem('bad_transcode_request', 400))
  }
  t.equal(e.echo.calls.length, 0)
})

t.test('"+" in a path segment is a plus, not a space', async (t) => {
  const e = shared()
  await e.send('GET', '/v1/things/a+b')
  t.same(e.only().request, { id: 'a+b' })
})

t.test('HEAD on a path bound for GET uses the GET binding and sends no body', async (t) => {
  const e = shared()
  const r = await e.send('HEAD', '/v1/things/7')
  t.equal(r.status, 200)
  t.equal(r.text, '')
  t.equal(e.only().method, 'GetThing')
  t.same(e.only().request, { id: '7' })
})
