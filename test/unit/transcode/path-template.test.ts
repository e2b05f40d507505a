import t from 'tap'
import { compareTemplates, decodeValue, matchTemplate, parseTemplate, splitPath, type PathTemplate, type PathVars } from '../../../src/transcode/path-template.ts'

const T = (s: string): PathTemplate => {
  const p = parseTemplate(s)
  if (typeof p === 'string') throw new Error(`${s}: ${p}`)
  return p
}
/** Matches a request path against a template; vars copied onto a plain object for comparison. */
const M = (template: string, path: string): PathVars | null => {
  const { segments, verb } = splitPath(path)
  const vars = matchTemplate(T(template), segments, verb)
  return vars === null ? null : { ...vars }
}

t.test('literal segments compile and match only the same path', async (t) => {
  t.same(T('/v1/shelves').segments, [{ kind: 'literal', value: 'v1' }, { kind: 'literal', value: 'shelves' }])
  t.same(M('/v1/shelves', '/v1/shelves'), {})
  t.equal(M('/v1/shelves', '/v1/shelves/1'), null, 'no partial match')
  t.equal(M('/v1/shelves', '/v1'), null)
  t.equal(M('/v1/shelves', '/v1/Shelves'), null, 'literals are case-sensitive')
})

t.test('"/" alone is the root template', async (t) => {
  t.same(T('/').segments, [])
  t.same(M('/', '/'), {})
  t.equal(M('/', '/a'), null)
})

t.test('{x} is {x=*}: one non-empty segment', async (t) => {
  t.same(T('/v1/{id}').segments, T('/v1/{id=*}').segments)
  t.equal(T('/v1/{id}').key, T('/v1/{id=*}').key)
  t.same(T('/v1/{id}').variables, [{ fieldPath: 'id', start: 1, end: 2, multi: false }])
  t.same(M('/v1/books/{id}', '/v1/books/7'), { id: '7' })
  t.equal(M('/v1/books/{id}', '/v1/books/7/x'), null)
  t.equal(M('/v1/books/{id}', '/v1/books/'), null, 'an empty (trailing-slash) segment binds nothing')
})

t.test('bare * and ** match without binding', async (t) => {
  t.same(M('/v1/*/books', '/v1/a/books'), {})
  t.same(M('/v1/**', '/v1/a/b/c'), {})
  t.same(M('/v1/**', '/v1'), {}, '** matches zero segments')
  t.equal(M('/v1/*', '/v1'), null, '* needs one segment')
})

t.test('nested field paths with multi-segment templates', async (t) => {
  t.same(M('/v1/{book.name=shelves/*/books/*}', '/v1/shelves/1/books/2'), { 'book.name': 'shelves/1/books/2' })
  t.same(T('/v1/{book.name=shelves/*/books/*}').variables, [{ fieldPath: 'book.name', start: 1, end: 5, multi: true }])
  t.equal(M('/v1/{book.name=shelves/*/books/*}', '/v1/shelves/1/pages/2'), null)
  t.same(M('/v1/{a.b.c}/x/{d}', '/v1/p/x/q'), { 'a.b.c': 'p', d: 'q' })
  t.same(M('/v1/{parent=shelves/*}/books/{book_id}', '/v1/shelves/s1/books/b2'), { parent: 'shelves/s1', book_id: 'b2' })
})

t.test('{name=**} takes the rest of the path, zero segments included', async (t) => {
  t.same(M('/v1/{name=**}', '/v1/a/b/c'), { name: 'a/b/c' })
  t.same(M('/v1/{name=**}', '/v1'), { name: '' })
  t.same(M('/v1/{name=files/**}', '/v1/files/a/b'), { name: 'files/a/b' })
  t.equal(M('/v1/{name=files/**}', '/v1/docs/a'), null)
  t.ok(T('/v1/{name=**}').deep)
})

t.test('verbs: split off the last segment only when the template has one', async (t) => {
  t.same(T('/v1/{name=operations/*}:cancel').verb, 'cancel')
  t.same(M('/v1/{name=operations/*}:cancel', '/v1/operations/9:cancel'), { name: 'operations/9' })
  t.same(M('/v1/books:batchGet', '/v1/books:batchGet'), {})
  t.equal(M('/v1/books:batchGet', '/v1/books'), null, 'the verb is required')
  t.equal(M('/v1/books:batchGet', '/v1/books:batchget'), null, 'verbs are case-sensitive')
  t.equal(M('/v1/{name}:cancel', '/v1/x:undo'), null)
  t.same(M('/v1/{name=**}:cancel', '/v1/a/b:cancel'), { name: 'a/b' })
  t.same(M('/v1/**:cancel', '/v1:cancel'), {}, '** before a verb may match nothing')
  t.equal(M('/v1/*:cancel', '/v1/x:cancel/'), null, 'a verb belongs to the last segment only')
})

t.test('a colon inside a segment is an ordinary character when the template has no verb', async (t) => {
  t.same(M('/v1/{name}', '/v1/a:b'), { name: 'a:b' })
  t.same(M('/v1/{name=**}', '/v1/x:y/a:b'), { name: 'x:y/a:b' })
  t.same(M('/v1/ns:x/{id}', '/v1/ns:x/7'), { id: '7' }, 'a colon in a middle literal')
  t.same(M('/{a}/{b}:verb', '/some:verb/const:verb'), { a: 'some:verb', b: 'const' }, 'the last colon splits')
  t.same(M('/{a=**}', '/some:verb2/const:verb2'), { a: 'some:verb2/const:verb2' })
  t.equal(M('/person', '/person:other'), null)
})

t.test('single-segment variables are fully percent-decoded (http.proto: the server does the reverse decoding)', async (t) => {
  t.same(M('/a/{x}/c', '/a/p%20q%2Fr/c'), { x: 'p q/r' })
  t.same(M('/a/{x}', '/a/%21%23%24%26%27%28%29%2A%2B%2C%2F%3A%3B%3D%3F%40%5B%5D'), { x: "!#$&'()*+,/:;=?@[]" })
  t.same(M('/a/{x}', '/a/caf%C3%A9'), { x: 'café' }, 'UTF-8 sequences decode to characters')
  t.same(M('/a/{x}', '/a/%2f'), { x: '/' }, 'lower-case hex too')
  t.same(M('/a/{x}', '/a/a+b'), { x: 'a+b' }, '"+" is not a space in a path')
})

t.test('multi-segment variables keep RFC 6570 reserved characters encoded', async (t) => {
  t.same(M('/a/{x=p/*/q/*}/c', '/a/p/foo%20foo/q/bar%2Fbar/c'), { x: 'p/foo foo/q/bar%2Fbar' })
  t.same(M('/a/{x=**}', '/a/b/%21%23%24%26%27%28%29%2A%2B%2C%2F%3A%3B%3D%3F%40%5B%5D'), { x: 'b/%21%23%24%26%27%28%29%2A%2B%2C%2F%3A%3B%3D%3F%40%5B%5D' })
  t.same(M('/a/{x=**}', '/a/%2f%41%7E'), { x: '%2fA~' }, 'the escape is kept as written; unreserved ones decode')
})

t.test('malformed escapes and invalid UTF-8 do not match', async (t) => {
  t.equal(M('/a/{x}', '/a/%zz'), null)
  t.equal(M('/a/{x}', '/a/%4'), null)
  t.equal(M('/a/{x}', '/a/%C3'), null)
  t.equal(decodeValue('plain', false), 'plain')
  t.equal(decodeValue('%E2%82%AC%2F', true), '€%2F')
})

t.test('literals are compared as written, not decoded', async (t) => {
  t.equal(M('/v1/books', '/v1/book%73'), null)
  t.same(M('/v1/a%20b', '/v1/a%20b'), {})
})

t.test('malformed templates are refused with a message', async (t) => {
  const bad: Array<[string, RegExp]> = [
    ['v1/x', /must start with "\/"/],
    ['', /must start with "\/"/],
    ['/v1/{x', /unbalanced "{"/],
    ['/v1/{x=a/*', /unbalanced "{"/],
    ['/v1/x}', /unbalanced "}"/],
    ['/v1/{x}}', /unbalanced "}"/],
    ['/v1/{x=a/{y}}', /nested variable/],
    ['/v1/{x={y}}', /nested variable/],
    ['/a/**/b', /"\*\*" may only be the last/],
    ['/a/{x=**}/b', /"\*\*" may only be the last/],
    ['/a/**/**', /"\*\*" may only be the last/],
    ['/a//b', /empty segment/],
    ['/a/', /empty segment/],
    ['/v1/{x=}', /empty segment/],
    ['/v1/:cancel', /empty segment/],
    ['/{1x}', /invalid field path "1x"/],
    ['/{a..b}', /invalid field path/],
    ['/{a-b}', /invalid field path/],
    ['/{}', /invalid field path ""/],
    ['/a/b*', /"\*" must be a whole segment/],
    ['/a/***', /"\*" must be a whole segment/],
    ['/a{x}', /a variable must be a whole segment/],
    ['/a/b c', /invalid literal segment/],
    ['/a/b?c', /invalid literal segment/],
    ['/v1/{x}:', /invalid verb/],
    ['/v1/x:a:b', /invalid verb/],
    ['/v1/{x}/{x}', /"x" is bound twice/],
    ['/v1/{a}/{a.b}', /"a" and "a.b" overlap/]
  ]
  for (const [s, re] of bad) t.match(parseTemplate(s), re, s)
})

t.test('specificity: literal beats variable segment by segment, * beats **', async (t) => {
  const order = ['/v1/a/b', '/v1/a/{x}', '/v1/a/{x=**}', '/v1/{y}/b', '/v1/{y}/{x}', '/v1/{x=*/**}', '/v1/**', '/{x=**}']
  const shuffled = [...order].reverse()
  t.same(shuffled.sort((a, b) => compareTemplates(T(a), T(b))), order)
  t.ok(compareTemplates(T('/v1/a'), T('/v1/a/**')) < 0, 'the exact template beats one whose ** matches nothing')
  t.ok(compareTemplates(T('/v1/{x}:cancel'), T('/v1/{x}')) < 0, 'a verb beats no verb')
  t.equal(compareTemplates(T('/v1/{x}'), T('/v1/{y=*}')), 0)
})

t.test('equivalent templates share a key; a verb is never mistaken for a segment', async (t) => {
  t.equal(T('/v1/{x=shelves/*}').key, T('/v1/shelves/{y}').key)
  t.equal(T('/v1/{x=**}').key, T('/v1/**').key)
  t.not(T('/v1/{x=a:b}').key, T('/v1/a:b').key)
  t.not(T('/v1/{x}').key, T('/v1/{x=**}').key)
})

t.test('splitPath: raw segments, verb after the last colon of the last segment, query dropped', async (t) => {
  t.same(splitPath('/'), { segments: [], verb: '' })
  t.same(splitPath('/a/b:c?x=1:2'), { segments: ['a', 'b'], verb: 'c' })
  t.same(splitPath('/a:x/b'), { segments: ['a:x', 'b'], verb: '' })
  t.same(splitPath('/a/b:'), { segments: ['a', 'b:'], verb: '' }, 'a trailing colon is no verb')
  t.same(splitPath('/a/'), { segments: ['a', ''], verb: '' })
})

t.test('compiled templates are frozen', async (t) => {
  const p = T('/v1/{name=shelves/*}')
  t.ok(Object.isFrozen(p) && Object.isFrozen(p.segments) && Object.isFrozen(p.variables[0]))
})
