import t from 'tap'
import { captureParams, compareSpecificity, compilePattern, pathSegments, patternsOverlap, type Pattern } from '../../../src/routing/pattern.ts'

const P = (s: string): Pattern => {
  const p = compilePattern(s)
  if (typeof p === 'string') throw new Error(`${s}: ${p}`)
  return p
}

t.test('patterns compile into literal, :param and * segments with a final **', async (t) => {
  t.same(P('/api/:id/*/x').segments, [{ kind: 'literal', value: 'api' }, { kind: 'param', name: 'id' }, { kind: 'star' }, { kind: 'literal', value: 'x' }])
  t.match(P('/api/**'), { rest: true, literals: 1, params: 0, stars: 0 })
  t.match(P('/**'), { rest: true, segments: [] })
  t.match(P('/'), { rest: false, segments: [] })
  t.same(P('/a/').segments, [{ kind: 'literal', value: 'a' }, { kind: 'literal', value: '' }], 'a trailing slash is part of the pattern')
})

t.test('malformed patterns are refused with a message saying what is wrong', async (t) => {
  t.match(compilePattern('/a/**/b'), /"\*\*" may only be the last segment/)
  t.match(compilePattern('/a/:id/b/:id'), /":id" appears twice/)
  t.match(compilePattern('/a/:1x'), /invalid parameter segment ":1x"/)
  t.match(compilePattern('/a/:'), /invalid parameter segment/)
  t.match(compilePattern('/a/b*'), /"\*" must be a whole segment/)
  t.match(compilePattern('/a/**x'), /"\*" must be a whole segment/)
  t.match(compilePattern('/a//b'), /empty segment/)
  t.match(compilePattern('/a/./b'), /dot segments/)
  t.match(compilePattern('/a/../b'), /dot segments/)
})

t.test('specificity: more literals, then more params, then more stars, then no **', async (t) => {
  const order = ['/a/b/c', '/a/b/:x', '/a/b/*', '/a/b/**', '/a/:x/:y', '/a/:x/*', '/a/:x/**', '/a/*/*', '/a/**', '/:x/**', '/**']
  const sorted = [...order].sort((x, y) => compareSpecificity(P(x), P(y)))
  t.same(sorted, order)
  t.ok(compareSpecificity(P('/a/:x/**'), P('/a/*/*')) < 0, 'params are compared before wildcards, ** included')
  t.equal(compareSpecificity(P('/a/:x'), P('/a/:y')), 0)
  t.equal(compareSpecificity(P('/:x/b'), P('/a/:y')), 0)
})

t.test('params are captured by position', async (t) => {
  t.same(captureParams(P('/users/:user/orders/:order/*'), pathSegments('/users/7/orders/42/x')), { user: '7', order: '42' })
})

t.test('pathSegments keeps the trailing empty segment', async (t) => {
  t.same(pathSegments('/'), [])
  t.same(pathSegments('/a'), ['a'])
  t.same(pathSegments('/a/'), ['a', ''])
})

t.test('patternsOverlap says whether some path matches both, in either order', async (t) => {
  const cases: Array<[string, string, boolean]> = [
    ['/a/:x', '/a/b', true],
    ['/a/b', '/a/c', false],
    ['/a/*/c', '/a/b/:d', true],
    ['/:a/b', '/a/:b', true],
    ['/a/*', '/a/b/c', false],
    ['/a/**', '/a', true],
    ['/a/**', '/a/', true],
    ['/a/**', '/a/b/c/d', true],
    ['/a/**', '/b/**', false],
    ['/a/b/**', '/a/:x/c', true],
    ['/**', '/', true],
    ['/', '/a', false],
    ['/a', '/a/', false],
    ['/a/*', '/a/', false],
    ['/a/:x', '/a/', false],
    ['/a/*/**', '/a/', false],
    ['/a/:x/**', '/a/b', true],
    ['/a/b/c', '/a/b/**', true],
    ['/a/b', '/a/b/c/**', false]
  ]
  for (const [a, b, want] of cases) {
    t.equal(patternsOverlap(P(a), P(b)), want, `${a} vs ${b}`)
    t.equal(patternsOverlap(P(b), P(a)), want, `${b} vs ${a}`)
  }
})
