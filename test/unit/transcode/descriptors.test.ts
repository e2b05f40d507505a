import t from 'tap'
import path from 'node:path'
import { fromBinary, fromJson, toBinary, toJson, type JsonValue } from '@bufbuild/protobuf'
import { loadProtos, ProtoLoadError, type LoadedProtos } from '../../../src/transcode/descriptors.ts'
import { INCLUDE, PROTOS } from './protos.ts'

const SERVICE = 'library.v1.LibraryService'

const load = (): LoadedProtos => loadProtos(['library/v1/library.proto'], INCLUDE)

/** JSON → message → bytes → message → JSON, defaults emitted. */
function roundTrip (p: LoadedProtos, typeName: string, json: JsonValue): JsonValue {
  const desc = p.registry.getMessage(typeName)
  if (desc === undefined) throw new Error(`no ${typeName}`)
  const bytes = toBinary(desc, fromJson(desc, json, { registry: p.registry }))
  return toJson(desc, fromBinary(desc, bytes), { registry: p.registry })
}

t.test('services are listed by full name with every method', async (t) => {
  const { services } = load()
  t.same([...services.keys()], [SERVICE])
  const methods = services.get(SERVICE)?.methods ?? []
  t.same(methods.map((m) => m.name), ['GetBook', 'ListBooks', 'CreateBook', 'UpdateBook', 'DeleteBook', 'WatchBooks', 'ImportBooks', 'Ping', 'Unbound'])
  const get = methods[0]
  t.equal(get.fullName, 'library.v1.LibraryService/GetBook')
  t.equal(get.inputType, 'library.v1.GetBookRequest')
  t.equal(get.outputType, 'library.v1.Book')
  t.equal(methods[4].outputType, 'google.protobuf.Empty', 'well-known types resolve')
})

t.test('streaming flags follow the rpc declaration', async (t) => {
  const methods = load().services.get(SERVICE)?.methods ?? []
  const byName = new Map(methods.map((m) => [m.name, m]))
  t.match(byName.get('WatchBooks'), { clientStreaming: false, serverStreaming: true })
  t.match(byName.get('ImportBooks'), { clientStreaming: true, serverStreaming: false })
  t.match(byName.get('GetBook'), { clientStreaming: false, serverStreaming: false })
})

t.test('http rules are read as written, additional_bindings always an array', async (t) => {
  const byName = new Map((load().services.get(SERVICE)?.methods ?? []).map((m) => [m.name, m.httpRule]))
  t.same(byName.get('GetBook'), {
    get: '/v1/{name=shelves/*/books/*}',
    additional_bindings: [
      { get: '/v1/books/{name}' },
      { post: '/v1/{name=shelves/*/books/*}:get', body: '*' }
    ]
  })
  t.same(byName.get('ListBooks'), { get: '/v1/{parent=shelves/*}/books', response_body: 'books' })
  t.same(byName.get('UpdateBook'), { patch: '/v1/{book.name=shelves/*/books/*}', body: 'book' })
  t.same(byName.get('Ping'), { custom: { kind: 'HEAD', path: '/v1/ping' } })
  t.equal(byName.get('Unbound'), undefined, 'a method without the option has no rule')
})

t.test('a file can be named by absolute path, or relative to the working directory', async (t) => {
  const abs = loadProtos([path.join(PROTOS, 'library/v1/library.proto')], INCLUDE)
  t.ok(abs.services.has(SERVICE))
  const rel = loadProtos([path.relative(process.cwd(), path.join(PROTOS, 'library/v1/library.proto'))], INCLUDE)
  t.ok(rel.services.has(SERVICE))
})

t.test('the registry holds the messages, enums and services with their JSON names', async (t) => {
  const { registry } = load()
  const book = registry.getMessage('library.v1.Book')
  t.ok(book)
  t.equal(book?.field.pageCount.jsonName, 'pageCount', 'lowerCamelCase computed from the proto name')
  t.equal(book?.fields.find((f) => f.name === 'shelf_code')?.jsonName, 'shelf', 'json_name is kept')
  t.equal(book?.fields.find((f) => f.name === 'subtitle')?.oneof, undefined, 'proto3 optional is not a real oneof')
  t.ok(registry.getMessage('library.v1.Author.Address'), 'nested messages')
  t.ok(registry.getEnum('library.v1.Genre'))
  t.ok(registry.getService(SERVICE))
  t.ok(registry.getMessage('google.protobuf.Timestamp'))
})

t.test('scalars, enums, int64, bytes, maps, oneofs and nested messages round-trip as proto3 JSON', async (t) => {
  const p = load()
  const out = roundTrip(p, 'library.v1.Book', {
    name: 'shelves/1/books/2',
    page_count: '9007199254740993',
    genre: 2,
    cover: 'AQID/w==',
    labels: { lang: 'en' },
    catalogId: 7,
    author: { display_name: 'Ada', address: { city: 'London', zip: 1 } },
    tags: ['a', 'b'],
    sales: '18446744073709551615',
    in_print: true,
    rating: 4.5,
    contributors: { ed: { displayName: 'Ed' } },
    genres: ['FICTION', 'HISTORY'],
    genreByYear: { 1999: 'FICTION' },
    printRuns: [1, '2'],
    shelf: 'A1'
  })
  t.same(out, {
    name: 'shelves/1/books/2',
    pageCount: '9007199254740993',
    genre: 'HISTORY',
    cover: 'AQID/w==',
    labels: { lang: 'en' },
    catalogId: 7,
    author: { displayName: 'Ada', address: { city: 'London', zip: 1 } },
    tags: ['a', 'b'],
    sales: '18446744073709551615',
    inPrint: true,
    rating: 4.5,
    contributors: { ed: { displayName: 'Ed' } },
    genres: ['FICTION', 'HISTORY'],
    genreByYear: { 1999: 'FICTION' },
    printRuns: ['1', '2'],
    shelf: 'A1'
  })
})

t.test('well-known types round-trip in their JSON forms', async (t) => {
  const p = load()
  const wkt = {
    publishedAt: '2024-02-29T23:59:59.123456789Z',
    readTime: '-1.500s', // output always has 0, 3, 6 or 9 fractional digits
    edition: 3,
    metadata: { a: [1, 'x', null, { b: true }] },
    extra: 'anything',
    awards: [1, 'two', false],
    mask: 'title,author.displayName',
    attachment: { '@type': 'type.googleapis.com/library.v1.Author', displayName: 'Ann' },
    note: ''
  }
  t.same(roundTrip(p, 'library.v1.Book', wkt), wkt)
  t.same(roundTrip(p, 'library.v1.Book', { attachment: { '@type': 'type.googleapis.com/google.protobuf.Duration', value: '2s' } }),
    { attachment: { '@type': 'type.googleapis.com/google.protobuf.Duration', value: '2s' } }, 'an Any holding a WKT uses "value"')
  t.same(roundTrip(p, 'library.v1.Book', { publishedAt: '2024-01-01T01:00:00+01:00' }), { publishedAt: '2024-01-01T00:00:00Z' }, 'offsets normalise to Z')
})

t.test('a syntax error is located by file and line', async (t) => {
  const err = t.throws(() => loadProtos(['broken/broken.proto'], INCLUDE)) as ProtoLoadError
  t.ok(err instanceof ProtoLoadError)
  t.equal(path.basename(err.file), 'broken.proto')
  t.equal(err.line, 8)
  t.match(err.message, /broken\.proto:8: illegal token 'bool'/)
})

t.test('an unknown type is located at the line that uses it', async (t) => {
  const err = t.throws(() => loadProtos(['broken/missing_type.proto'], INCLUDE)) as ProtoLoadError
  t.equal(path.basename(err.file), 'missing_type.proto')
  t.equal(err.line, 6)
  t.match(err.message, /NoSuchType/)
})

t.test('a missing file or import names the file', async (t) => {
  const err = t.throws(() => loadProtos(['nowhere/none.proto'], INCLUDE)) as ProtoLoadError
  t.ok(err instanceof ProtoLoadError)
  t.match(err.file, /none\.proto$/)
  t.equal(err.line, undefined)
  const noImports = t.throws(() => loadProtos([path.join(PROTOS, 'library/v1/library.proto')], [])) as ProtoLoadError
  t.match(noImports.file, /annotations\.proto$/, 'an import not found under the include dirs')
})

t.test('types from other packages resolve whatever order the files load in', async (t) => {
  const p = loadProtos(['shop/v1/shop.proto'], INCLUDE)
  const quote = p.services.get('shop.v1.ShopService')?.methods[0]
  t.equal(quote?.outputType, 'shop.common.Money')
  t.same(quote?.httpRule, { post: '/v1/quotes', body: '*', additional_bindings: [{ get: '/v1/quotes/{sku}' }] }, 'a single additional binding is an array too')
  t.same(roundTrip(p, 'shop.v1.QuoteRequest', { sku: 'a', budget: { currency: 1, units: 5 }, currency: 'USD', extras: { tip: { units: '1' } } }),
    { sku: 'a', budget: { currency: 'EUR', units: '5' }, currency: 'USD', extras: { tip: { units: '1' } } })
})

t.test('several files load together, including one without a package', async (t) => {
  const p = loadProtos(['library/v1/library.proto', 'shop/v1/shop.proto', 'rootless.proto'], INCLUDE)
  t.same([...p.services.keys()].sort(), ['Echo', SERVICE, 'shop.v1.ShopService'])
  t.equal(p.services.get('Echo')?.methods[0].fullName, 'Echo/Say')
  t.same(roundTrip(p, 'Ping', { text: 'hi' }), { text: 'hi' })
  t.ok(p.registry.getMessage('library.v1.Book'))
})

t.test('a proto2 package keeps required fields, defaults, packing and presence', async (t) => {
  const p = loadProtos(['legacy/v1/legacy.proto'], INCLUDE)
  const reading = p.registry.getMessage('legacy.v1.Reading')
  t.equal(reading?.fields.find((f) => f.name === 'sensor')?.presence, 3, 'required (LEGACY_REQUIRED)')
  const desc = reading!
  const bytes = toBinary(desc, fromJson(desc, { sensor: 's', samples: [1, 2], loose: [3, 4] }))
  t.equal(Buffer.from(bytes).toString('hex'), '0a0173' + '22020102' + '2803' + '2804', '[packed = true] packs; plain proto2 repeated does not')
  t.equal((fromBinary(desc, bytes) as unknown as { value: number }).value, 7, '[default = 7] applies when unset')
  t.same(roundTrip(p, 'legacy.v1.Reading', { sensor: 's', value: 0, samples: [1, 2] }), { sensor: 's', value: 0, samples: [1, 2] },
    'an explicitly set zero is kept: proto2 fields have presence')
  t.throws(() => toBinary(desc, fromJson(desc, { value: 1 })), /sensor/, 'a missing required field is refused on encode')
})
