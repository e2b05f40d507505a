import t from 'tap'
import { loadProtos } from '../../../src/transcode/descriptors.ts'
import { createCodec, findField, getFieldByPath, resolveFieldPath, setFieldByPath, TranscodeError } from '../../../src/transcode/codec.ts'
import { INCLUDE } from './protos.ts'

const { registry } = loadProtos(['library/v1/library.proto'], INCLUDE)
const codec = createCodec(registry)
const BOOK = 'library.v1.Book'

const through = (json: unknown, emitDefaults = false): unknown =>
  codec.decodeResponse(BOOK, codec.encodeRequest(BOOK, json), { emitDefaults })

t.test('requests accept both lowerCamelCase and original field names', async (t) => {
  t.same(through({ page_count: 3, in_print: true }), { pageCount: '3', inPrint: true })
  t.same(through({ pageCount: '3', inPrint: true }), { pageCount: '3', inPrint: true })
  t.same(through({ shelf: 'x' }), { shelf: 'x' }, 'a json_name')
  t.same(through({ shelf_code: 'x' }), { shelf: 'x' }, 'the proto name of a field with json_name')
})

t.test('responses use lowerCamelCase, int64 strings, enum names and base64 bytes', async (t) => {
  t.same(through({ page_count: 42, sales: 1, genre: 1, cover: 'aGk=', genres: [2] }),
    { pageCount: '42', genre: 'FICTION', cover: 'aGk=', sales: '1', genres: ['HISTORY'] })
  t.same(through({ cover: 'aGk' }), { cover: 'aGk=' }, 'unpadded base64 is accepted')
  t.same(through({ cover: '-_8' }), { cover: '+/8=' }, 'URL-safe base64 is accepted, standard emitted')
})

t.test('defaults are emitted unless omitted', async (t) => {
  const full = through({ name: 'n' }, true) as Record<string, unknown>
  t.match(full, { name: 'n', title: '', pageCount: '0', genre: 'GENRE_UNSPECIFIED', cover: '', labels: {}, tags: [], inPrint: false, rating: 0, printRuns: [], shelf: '' })
  t.notOk('author' in full, 'unset messages stay absent')
  t.notOk('subtitle' in full, 'an unset proto3 optional field stays absent')
  t.notOk('isbn' in full, 'unset oneof members stay absent')
  t.same(through({ name: 'n' }, false), { name: 'n' })
  t.same(through({ subtitle: '' }, false), { subtitle: '' }, 'a set proto3 optional field is emitted even when empty')
})

t.test('an unknown JSON field is refused, naming it', async (t) => {
  const err = t.throws(() => codec.encodeRequest(BOOK, { name: 'n', colour: 'red' })) as TranscodeError
  t.ok(err instanceof TranscodeError)
  t.equal(err.code, 'bad_transcode_request')
  t.equal(err.field, 'colour')
  const nested = t.throws(() => codec.encodeRequest(BOOK, { author: { nickname: 'x' } })) as TranscodeError
  t.equal(nested.field, 'author.nickname', 'a nested key is named by its path')
  t.doesNotThrow(() => codec.encodeRequest(BOOK, { colour: 'red' }, { ignoreUnknownFields: true }))
})

t.test('a value of the wrong type is refused, naming the field', async (t) => {
  const cases: Array<[unknown, string]> = [
    [{ page_count: 'many' }, 'page_count'],
    [{ in_print: 'yes' }, 'in_print'],
    [{ genre: 'POETRY' }, 'genre'],
    [{ publishedAt: 'yesterday' }, 'publishedAt'],
    [{ author: { address: { zip: 'x' } } }, 'author.address.zip'],
    [{ tags: 'not-a-list' }, 'tags']
  ]
  for (const [json, field] of cases) {
    const err = t.throws(() => codec.encodeRequest(BOOK, json), JSON.stringify(json)) as TranscodeError
    t.ok(err instanceof TranscodeError)
    t.equal(err.field, field, JSON.stringify(json))
  }
})

t.test('a request that is not a JSON object is refused', async (t) => {
  t.throws(() => codec.encodeRequest(BOOK, [1, 2]), TranscodeError)
  t.throws(() => codec.encodeRequest(BOOK, 'text'), TranscodeError)
})

t.test('two members of one oneof are refused', async (t) => {
  t.throws(() => codec.encodeRequest(BOOK, { isbn: 'x', catalogId: 1 }), TranscodeError)
  t.same(through({ catalog_id: 9 }), { catalogId: 9 })
})

t.test('an unknown message type is a programming error, not a client error', async (t) => {
  const err = t.throws(() => codec.encodeRequest('library.v1.Nope', {})) as Error
  t.notOk(err instanceof TranscodeError)
  t.match(err.message, /library\.v1\.Nope/)
})

t.test('responses decode from bytes and google.protobuf.Empty is {}', async (t) => {
  t.same(codec.decodeResponse('google.protobuf.Empty', new Uint8Array(), { emitDefaults: true }), {})
  const bytes = codec.encodeRequest('library.v1.ListBooksResponse', { books: [{ name: 'a' }, { name: 'b' }], next_page_token: 't' })
  t.same(codec.decodeResponse('library.v1.ListBooksResponse', bytes, { emitDefaults: false }), { books: [{ name: 'a' }, { name: 'b' }], nextPageToken: 't' })
  t.throws(() => codec.decodeResponse(BOOK, new Uint8Array([0xff, 0xff, 0xff]), { emitDefaults: false }), 'malformed bytes throw')
})

t.test('field paths resolve by proto name and read or write JSON names', async (t) => {
  const desc = codec.schema('library.v1.UpdateBookRequest')
  const path = resolveFieldPath(desc, 'book.name')
  t.same(path.map((f) => f.name), ['book', 'name'])
  t.throws(() => resolveFieldPath(desc, 'book.colour'), /book\.colour/)
  t.throws(() => resolveFieldPath(desc, 'update_mask.paths.x'), 'no stepping past a scalar')

  const json: Record<string, unknown> = { book: { title: 'T' } }
  setFieldByPath(json, path, 'shelves/1/books/2')
  t.same(json, { book: { title: 'T', name: 'shelves/1/books/2' } })
  t.equal(getFieldByPath(json, path), 'shelves/1/books/2')

  const empty: Record<string, unknown> = {}
  setFieldByPath(empty, resolveFieldPath(codec.schema(BOOK), 'author.display_name'), 'Ada')
  t.same(empty, { author: { displayName: 'Ada' } }, 'objects are created on the way, keys are JSON names')

  const snake: Record<string, unknown> = { update_mask: 'a' }
  setFieldByPath(snake, resolveFieldPath(desc, 'update_mask'), 'b')
  t.same(snake, { updateMask: 'b' }, 'one spelling of a key is kept')
  t.equal(getFieldByPath({ update_mask: 'x' }, resolveFieldPath(desc, 'update_mask')), 'x', 'reads the proto name too')
  t.equal(getFieldByPath({}, path), undefined)
})

t.test('body: field and response_body use the same paths', async (t) => {
  const create = codec.schema('library.v1.CreateBookRequest')
  const request: Record<string, unknown> = { parent: 'shelves/1' }
  setFieldByPath(request, resolveFieldPath(create, 'book'), { title: 'T', page_count: 10 })
  const bytes = codec.encodeRequest('library.v1.CreateBookRequest', request)
  t.same(codec.decodeResponse('library.v1.CreateBookRequest', bytes, { emitDefaults: false }), { parent: 'shelves/1', book: { title: 'T', pageCount: '10' } })

  const list = codec.schema('library.v1.ListBooksResponse')
  const response = codec.decodeResponse('library.v1.ListBooksResponse',
    codec.encodeRequest('library.v1.ListBooksResponse', { books: [{ name: 'a' }] }), { emitDefaults: true })
  t.same(getFieldByPath(response, resolveFieldPath(list, 'books')), [{ name: 'a', title: '', pageCount: '0', genre: 'GENRE_UNSPECIFIED', cover: '', labels: {}, tags: [], sales: '0', inPrint: false, rating: 0, contributors: {}, shelf: '', genres: [], genreByYear: {}, printRuns: [] }])
  t.equal(findField(list, 'next_page_token')?.jsonName, 'nextPageToken')
  t.equal(findField(list, 'nextPageToken')?.name, 'next_page_token')
})
