import t from 'tap'
import { Matcher, type Matchable } from '../../../src/routing/matcher.ts'
import { compareSpecificity, compilePattern, pathSegments, type Pattern } from '../../../src/routing/pattern.ts'

interface R extends Matchable { name: string, method?: string }

/** Builds a matcher the way the table does: routes ranked by specificity, then as written. */
function matcher (defs: Array<[string, string, string?]>): Matcher<R> {
  const compiled = defs.map(([name, src, method], i) => ({ name, method, p: compilePattern(src) as Pattern, i }))
  compiled.sort((a, b) => compareSpecificity(a.p, b.p) || (a.method !== undefined ? 0 : 1) - (b.method !== undefined ? 0 : 1) || a.i - b.i)
  return new Matcher(compiled.map((c, order) => ({ name: c.name, method: c.method, order, segments: c.p.segments, rest: c.p.rest })))
}

const find = (m: Matcher<R>, path: string, method = 'GET'): string | undefined =>
  m.find(pathSegments(path), (r) => r.method === undefined || r.method === method)?.name

t.test('the most specific matching route wins', async (t) => {
  const m = matcher([
    ['all', '/**'],
    ['api', '/api/**'],
    ['any-one', '/api/*'],
    ['by-id', '/api/:id'],
    ['literal', '/api/orders'],
    ['nested', '/api/:id/items'],
    ['deep', '/api/orders/**']
  ])
  t.equal(find(m, '/api/orders'), 'literal')
  t.equal(find(m, '/api/7'), 'by-id')
  t.equal(find(m, '/api/7/items'), 'nested')
  t.equal(find(m, '/api/orders/x/y'), 'deep', 'two literals beat one')
  t.equal(find(m, '/api/orders/items'), 'nested', 'equal literals (api, items vs api, orders): the :param beats the **')
  t.equal(find(m, '/api/7/other'), 'api')
  t.equal(find(m, '/api'), 'api', '** matches zero segments')
  t.equal(find(m, '/api/'), 'api', 'a trailing slash is an empty last segment, which only ** takes')
  t.equal(find(m, '/'), 'all')
  t.equal(find(m, '/elsewhere/x/y'), 'all')
})

t.test('without a catch-all, an unmatched path finds nothing', async (t) => {
  const m = matcher([['a', '/a'], ['b', '/b/:x']])
  t.equal(find(m, '/a/'), undefined)
  t.equal(find(m, '/b'), undefined)
  t.equal(find(m, '/b/'), undefined)
  t.equal(find(m, '/b/1/2'), undefined)
  t.equal(find(m, '/c'), undefined)
})

t.test('when the best path match refuses the request, the next best is tried', async (t) => {
  const m = matcher([['get-one', '/api/orders/:id', 'GET'], ['post-any', '/api/*/:id', 'POST'], ['rest', '/api/**']])
  t.equal(find(m, '/api/orders/7', 'GET'), 'get-one')
  t.equal(find(m, '/api/orders/7', 'POST'), 'post-any')
  t.equal(find(m, '/api/orders/7', 'PUT'), 'rest')
})

t.test('between equally specific routes the one ranked first wins', async (t) => {
  const m = matcher([['first', '/x/:a'], ['second', '/x/:b']])
  t.equal(find(m, '/x/1'), 'first')
})

t.test('candidates lists every route whose path matches, best first', async (t) => {
  const m = matcher([['all', '/**'], ['api', '/api/**'], ['by-id', '/api/:id'], ['other', '/other']])
  t.same(m.candidates(pathSegments('/api/7')).map((r) => r.name), ['by-id', 'api', 'all'])
  t.same(m.candidates(pathSegments('/nowhere')).map((r) => r.name), ['all'])
})
