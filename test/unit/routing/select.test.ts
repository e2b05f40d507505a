import t from 'tap'
import { chooseBackend, effectiveTargets, hostOf, matchRoute, stickyKey, upstreamPath } from '../../../src/routing/select.ts'
import { pathSegments } from '../../../src/routing/pattern.ts'
import { routeSeed, stickyBucket } from '../../../src/routing/split.ts'
import { InProcessWeights } from '../../../src/routing/weights.ts'
import { routeIssues, tableOf, writeTree } from '../config-tree.ts'

const ROUTES = [
  'backends:',
  '  old: { url: "http://127.0.0.1:1" }',
  '  new: { url: "http://127.0.0.1:2/base/" }',
  'routes:',
  '  - name: split',
  '    match: { path: /s/** }',
  '    split: { new: 25, old: 75 }',
  '    sticky: { header: x-user-id }',
  '  - name: cookie',
  '    match: { path: /c/** }',
  '    split: { new: 1, old: 1 }',
  '    sticky: { cookie: session_id }',
  '  - name: prefix',
  '    match: { path: /api/v2/orders/** }',
  '    to: new',
  '    rewrite: { prefix: { from: /api/v2/orders, to: /orders } }',
  '  - name: template',
  '    match: { path: /legacy/:id/view }',
  '    to: old',
  '    rewrite: { path: /items/:id }',
  '  - name: host',
  '    match: { path: /h, host: "*.example.com" }',
  '    to: old',
  ''
].join('\n')

t.test('hostOf drops the port and lower-cases, IPv6 literals included', async (t) => {
  t.equal(hostOf('Shop.Example.COM:8080'), 'shop.example.com')
  t.equal(hostOf('shop.example.com'), 'shop.example.com')
  t.equal(hostOf('[::1]:8080'), '[::1]')
  t.equal(hostOf(undefined), '')
})

t.test('a *.suffix host matches subdomains only', async (t) => {
  const table = tableOf(writeTree(t, { 'routes/a.yaml': ROUTES }))
  const m = (host: string): string | undefined => matchRoute(table, 'GET', { host }, pathSegments('/h'))?.name
  t.equal(m('a.example.com:9000'), 'host')
  t.equal(m('example.com'), undefined)
  t.equal(m('badexample.com'), undefined)
})

t.test('the sticky key comes from the header or the cookie; empty counts as none', async (t) => {
  const table = tableOf(writeTree(t, { 'routes/a.yaml': ROUTES }))
  const split = table.routeByName.get('split')!
  const cookie = table.routeByName.get('cookie')!
  t.equal(stickyKey(split, { 'x-user-id': '42' }), '42')
  t.equal(stickyKey(split, { 'x-user-id': '' }), undefined)
  t.equal(stickyKey(split, {}), undefined)
  t.equal(stickyKey(cookie, { cookie: 'a=1; session_id=abc; b=2' }), 'abc')
  t.equal(stickyKey(cookie, { cookie: 'xsession_id=abc' }), undefined)
  t.equal(stickyKey(cookie, { cookie: 'session_id=' }), undefined)
  t.equal(stickyKey(cookie, {}), undefined)
})

t.test('a sticky header written in capitals in the route file still finds the request header', async (t) => {
  const table = tableOf(writeTree(t, {
    'routes/a.yaml': 'backends:\n  a: { url: "http://127.0.0.1:1" }\n  b: { url: "http://127.0.0.1:2" }\nroutes:\n  - name: x\n    match: { path: /** }\n    split: { a: 1, b: 1 }\n    sticky: { header: X-User-Id }\n'
  }))
  t.equal(stickyKey(table.routeByName.get('x')!, { 'x-user-id': '42' }), '42')
})

t.test('a sticky choice follows the bucket of route name and key', async (t) => {
  const table = tableOf(writeTree(t, { 'routes/a.yaml': ROUTES }))
  const split = table.routeByName.get('split')!
  const wrong: string[] = []
  for (let i = 0; i < 200; i++) {
    const key = `user-${i}`
    const bucket = stickyBucket(routeSeed('split'), key)
    const c = chooseBackend(split, { 'x-user-id': key }, undefined)!
    if (c.backend.name !== (bucket < 2_500 ? 'new' : 'old') || c.bucket !== bucket || !c.sticky) wrong.push(key)
  }
  t.same(wrong, [])
})

t.test('runtime weights replace the file weights; backends they leave out get 0', async (t) => {
  const table = tableOf(writeTree(t, { 'routes/a.yaml': ROUTES }))
  const split = table.routeByName.get('split')!
  const w = new InProcessWeights()
  t.equal(effectiveTargets(split, w).from, 'file')
  await w.set('split', { old: 1 })
  const eff = effectiveTargets(split, w)
  t.equal(eff.from, 'runtime')
  t.same(eff.targets.weights, [0, 1], 'in the order the file lists the backends')
  t.equal(chooseBackend(split, { 'x-user-id': 'u' }, w)!.backend.name, 'old')
  await w.clear('split')
  t.equal(effectiveTargets(split, w).from, 'file')
})

t.test('the upstream path is rewritten, then prefixed with the backend’s base path', async (t) => {
  const table = tableOf(writeTree(t, { 'routes/a.yaml': ROUTES }))
  const prefix = table.routeByName.get('prefix')!
  const template = table.routeByName.get('template')!
  const nw = table.backends.get('new')!
  const old = table.backends.get('old')!
  t.equal(upstreamPath(prefix, nw, '/api/v2/orders/7', null), '/base/orders/7')
  t.equal(upstreamPath(prefix, nw, '/api/v2/orders', null), '/base/orders')
  t.equal(upstreamPath(prefix, nw, '/api/v2/orders/', null), '/base/orders/')
  t.equal(upstreamPath(template, old, '/legacy/42/view', null), '/items/42')
  t.equal(upstreamPath(table.routeByName.get('split')!, nw, '/s/x', null), '/base/s/x')
})

t.test('a rewrite template naming a :param the path does not capture is a config error at its line', async (t) => {
  const issues = routeIssues(t, {
    'routes/a.yaml': 'backends:\n  svc: { url: "http://127.0.0.1:1" }\nroutes:\n  - name: bad\n    match: { path: /a/:id }\n    to: svc\n    rewrite: { path: /b/:ident }\n'
  })
  t.match(issues, [{ file: 'routes/a.yaml', line: 7, message: /:ident/ }])
})
