import t, { type Test } from 'tap'
import { loadProtos } from '../../../src/transcode/descriptors.ts'
import { createCodec, TranscodeError } from '../../../src/transcode/codec.ts'
import { mapQuery, resolveQueryPath } from '../../../src/transcode/query.ts'
import { INCLUDE } from './protos.ts'

const codec = createCodec(loadProtos(['library/v1/library.proto'], INCLUDE).registry)
const LIST = 'library.v1.ListBooksRequest'
const desc = codec.schema(LIST)

const q = (query: string, target: Record<string, unknown> = {}, excluded?: Set<string>): Record<string, unknown> =>
  mapQuery(desc, query, target, excluded)

/** The error a query raises; fails the test when it raises none. */
function refused (t: Test, query: string): TranscodeError {
  const err = t.throws(() => q(query), query) as TranscodeError
  t.ok(err instanceof TranscodeError, `${query}: a TranscodeError`)
  return err
}

t.test('scalars are parsed by their field type', async (t) => {
  t.same(q('parent=shelves/1&page_size=25&min_rating=4.5&weight=-0.25&in_print=true&limit=7'),
    { parent: 'shelves/1', pageSize: 25, minRating: 4.5, weight: -0.25, inPrint: true, limit: 7 })
})

t.test('both proto names and JSON names select a field', async (t) => {
  t.same(q('pageSize=3&page_token=x'), { pageSize: 3, pageToken: 'x' })
})

t.test('dotted paths reach into nested messages', async (t) => {
  t.same(q('filter.author=ada&filter.pages.min=10&filter.pages.max=20'),
    { filter: { author: 'ada', pages: { min: 10, max: 20 } } })
})

t.test('repeated fields take every repetition, in order', async (t) => {
  t.same(q('tags=a&tags=b&years=1999&years=2001&filter.keywords=x&filter.keywords=y'),
    { tags: ['a', 'b'], years: [1999, 2001], filter: { keywords: ['x', 'y'] } })
})

t.test('enums are given by name or number', async (t) => {
  t.same(q('genre=HISTORY'), { genre: 'HISTORY' })
  t.same(q('genre=1'), { genre: 'FICTION' })
  t.same(q('genres=FICTION&genres=2'), { genres: ['FICTION', 'HISTORY'] })
  t.same(q('genre=42'), { genre: 42 }, 'proto3 enums are open: an unknown number is kept')
  t.equal(refused(t, 'genre=POETRY').field, 'genre')
  t.equal(refused(t, 'genres=FICTION&genres=fiction').field, 'genres', 'names are case-sensitive')
})

t.test('booleans accept true/false and 1/0', async (t) => {
  t.same(q('in_print=false'), { inPrint: false })
  t.same(q('in_print=1'), { inPrint: true })
  t.same(q('in_print=TRUE'), { inPrint: true })
  t.equal(refused(t, 'in_print=yes').field, 'in_print')
})

t.test('bad numbers are refused, naming the field', async (t) => {
  t.equal(refused(t, 'page_size=ten').field, 'page_size')
  t.equal(refused(t, 'page_size=1.5').field, 'page_size', 'no fractions in integers')
  t.equal(refused(t, 'page_size=2147483648').field, 'page_size', 'int32 range')
  t.equal(refused(t, 'limit=-1').field, 'limit', 'uint32 is unsigned')
  t.equal(refused(t, 'max_pages=9223372036854775808').field, 'max_pages', 'int64 range')
  t.equal(refused(t, 'min_rating=abc').field, 'min_rating')
  t.equal(refused(t, 'min_rating=').field, 'min_rating', 'empty is not a number')
  t.equal(refused(t, 'filter.pages.min=x').field, 'filter.pages.min', 'named by the key as given')
})

t.test('64-bit integers and special floats keep their proto3 JSON string forms', async (t) => {
  t.same(q('max_pages=9223372036854775807'), { maxPages: '9223372036854775807' })
  t.same(q('min_rating=NaN&weight=-Infinity'), { minRating: 'NaN', weight: '-Infinity' })
})

t.test('bytes are base64 in either alphabet', async (t) => {
  t.same(q('token=AQID'), { token: 'AQID' })
  t.same(q('token=-_8'), { token: '-_8' })
  t.equal(refused(t, 'token=not%20base64!').field, 'token')
})

t.test('well-known types are given in their JSON forms', async (t) => {
  t.same(q('since=2024-05-01T10:00:00Z&max_age=90s&read_mask=title,author.display_name'),
    { since: '2024-05-01T10:00:00Z', maxAge: '90s', readMask: 'title,author.displayName' })
  t.equal(refused(t, 'since=2024-05-01').field, 'since', 'a Timestamp wants RFC 3339')
  t.equal(refused(t, 'max_age=90').field, 'max_age', 'a Duration wants its "s"')
})

t.test('wrappers take their wrapped scalar', async (t) => {
  t.same(q('min_pages=12&reviewed=false'), { minPages: '12', reviewed: false })
  t.equal(refused(t, 'min_pages=lots').field, 'min_pages')
  t.equal(refused(t, 'reviewed=perhaps').field, 'reviewed')
})

t.test('"+" is a space and %2B a plus', async (t) => {
  t.same(q('filter.author=Ada+Lovelace&page_token=a%2Bb'), { filter: { author: 'Ada Lovelace' }, pageToken: 'a+b' })
})

t.test('parameters that name no settable field are ignored', async (t) => {
  t.same(q('colour=red&filter.colour=x&parent.x=1&filter=1&attrs.k=v&options.a=1&since.seconds=5&page_size=1'), { pageSize: 1 })
  t.equal(resolveQueryPath(desc, 'filter'), undefined, 'a message is not a leaf')
  t.equal(resolveQueryPath(desc, 'attrs'), undefined, 'maps are not mapped from the query')
  t.same(resolveQueryPath(desc, 'filter.pages.min')?.map((f) => f.name), ['filter', 'pages', 'min'])
})

t.test('a singular field given twice is refused; a repeated one is not', async (t) => {
  const err = refused(t, 'page_size=1&page_size=2')
  t.equal(err.field, 'page_size')
  t.match(err.message, /more than once/)
  t.equal(refused(t, 'page_size=1&pageSize=2').field, 'pageSize', 'the two spellings are one field')
  t.same(q('tags=a&tags=a'), { tags: ['a', 'a'] })
})

t.test('fields bound by the path are not overwritten', async (t) => {
  t.same(q('parent=shelves/evil&page_size=2', { parent: 'shelves/1' }, new Set(['parent'])), { parent: 'shelves/1', pageSize: 2 })
  t.same(q('parent=a&parent=b', { parent: 'shelves/1' }), { parent: 'shelves/1' }, 'a value already present wins, even given twice')
  t.same(q('filter.author=x', { filter: { author: 'path' } }), { filter: { author: 'path' } })
  t.same(q('filter.pages.min=1&filter.author=x', {}, new Set(['filter.author'])), { filter: { pages: { min: 1 } } })
})

t.test('a field bound by body excludes everything under it', async (t) => {
  t.same(q('filter.author=x&filter.pages.min=1&page_size=3', {}, new Set(['filter'])), { pageSize: 3 })
  t.same(q('filter_x=1&page_size=3', {}, new Set(['filter'])), { pageSize: 3 }, 'a prefix of a name is not a path prefix')
})

t.test('"*" in the excluded set maps nothing (body: "*")', async (t) => {
  t.same(q('page_size=3&tags=a', {}, new Set(['*'])), {})
})

t.test('the query is taken as a string, URLSearchParams or pairs', async (t) => {
  t.same(q('?page_size=3'), { pageSize: 3 }, 'a leading "?" is dropped')
  t.same(mapQuery(desc, new URLSearchParams('tags=a&tags=b'), {}), { tags: ['a', 'b'] })
  t.same(mapQuery(desc, [['genre', 'FICTION'], ['filter.author', 'a b']], {}), { genre: 'FICTION', filter: { author: 'a b' } })
})

t.test('the mapped request encodes and decodes as the same message', async (t) => {
  const target = { parent: 'shelves/1' }
  const json = mapQuery(desc, 'page_size=5&filter.pages.max=9&tags=x&genre=2&since=2024-01-01T00:00:00Z&max_pages=9007199254740993&read_mask=page_token', target, new Set(['parent']))
  const bytes = codec.encodeRequest(LIST, json)
  t.same(codec.decodeResponse(LIST, bytes, { emitDefaults: false }), {
    parent: 'shelves/1',
    pageSize: 5,
    filter: { pages: { max: 9 } },
    tags: ['x'],
    genre: 'HISTORY',
    since: '2024-01-01T00:00:00Z',
    maxPages: '9007199254740993',
    readMask: 'pageToken'
  })
})
