import t from 'tap'
import { normalizePath, splitTarget } from '../../../src/routing/normalize.ts'

t.test('dot segments are removed as RFC 3986 §5.2.4 says', async (t) => {
  const cases: Array<[string, string]> = [
    ['/a/./b/../c', '/a/c'],
    ['/a/b/..', '/a/'],
    ['/a/b/.', '/a/b/'],
    ['/a/b/../', '/a/'],
    ['/..', '/'],
    ['/../a', '/a'],
    ['/a/../../../b', '/b'],
    ['/a/..b/.c', '/a/..b/.c']
  ]
  for (const [raw, want] of cases) t.equal(normalizePath(raw), want, raw)
})

t.test('percent-encoded dots count as dot segments', async (t) => {
  t.equal(normalizePath('/a/%2e%2e/b'), '/b')
  t.equal(normalizePath('/a/%2E%2E/b'), '/b')
  t.equal(normalizePath('/a/.%2e/b'), '/b')
  t.equal(normalizePath('/a/%2e/b'), '/a/b')
  t.equal(normalizePath('/api/orders/%2e%2e/admin'), '/api/admin')
})

t.test('empty segments are merged', async (t) => {
  t.equal(normalizePath('/a//b'), '/a/b')
  t.equal(normalizePath('//a///b'), '/a/b')
  t.equal(normalizePath('//'), '/')
  t.equal(normalizePath('/a//'), '/a/')
})

t.test('a trailing slash is kept', async (t) => {
  t.equal(normalizePath('/a/'), '/a/')
  t.equal(normalizePath('/a'), '/a')
  t.equal(normalizePath('/'), '/')
})

t.test('an encoded slash or backslash, or a raw backslash, is refused', async (t) => {
  for (const raw of ['/a%2Fb', '/a%2fb', '/a%5Cb', '/a%5cb', '/a\\b', '/a/%2e%2e%2fb', '/files/..%5c..%5cwin.ini']) {
    t.equal(normalizePath(raw), undefined, raw)
  }
})

t.test('broken percent-encoding is refused', async (t) => {
  for (const raw of ['/a%zz', '/a%', '/a%2', '/%g0']) t.equal(normalizePath(raw), undefined, raw)
})

t.test('percent-encoded unreserved characters are decoded, others kept with upper-case hex', async (t) => {
  t.equal(normalizePath('/api/ord%65rs'), '/api/orders')
  t.equal(normalizePath('/%7Euser/a%2Db%5F%2E'), '/~user/a-b_.')
  t.equal(normalizePath('/a%20b'), '/a%20b')
  t.equal(normalizePath('/a%3ab'), '/a%3Ab')
  t.equal(normalizePath('/a/%252F'), '/a/%252F', 'a double-encoded slash is decoded once only, to %25 which stays encoded')
})

t.test('a request target that is not origin-form is refused', async (t) => {
  t.equal(normalizePath('*'), undefined)
  t.equal(normalizePath('http://example.com/a'), undefined)
  t.equal(normalizePath(''), undefined)
})

t.test('an already normal path comes back as the same string', async (t) => {
  const p = '/api/orders/7/items'
  t.equal(normalizePath(p), p)
})

t.test('the query is split off with its "?" and left untouched', async (t) => {
  t.same(splitTarget('/a/../b?x=%2F..&y'), { path: '/a/../b', query: '?x=%2F..&y' })
  t.same(splitTarget('/a'), { path: '/a', query: '' })
  t.same(splitTarget('/a?'), { path: '/a', query: '?' })
  t.same(splitTarget('/a?b?c'), { path: '/a', query: '?b?c' })
})
