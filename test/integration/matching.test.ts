import t from 'tap'
import { gatewayWith, req, type TestGateway } from '../helpers/gateway.ts'

async function servedBy (g: TestGateway, path: string, opts: { method?: 'GET' | 'POST' | 'PUT' | 'DELETE', headers?: Record<string, string> } = {}): Promise<string | number> {
  const r = await req(g.url + path, opts)
  return r.status === 200 ? r.json().origin : r.status
}

t.test('a literal segment beats a :param, which beats *, which beats **', async (t) => {
  const { g } = await gatewayWith(t, ['literal', 'param', 'star', 'rest'], [
    '  - { name: rest,    match: { path: /api/** },      to: rest }',
    '  - { name: star,    match: { path: /api/* },       to: star }',
    '  - { name: param,   match: { path: /api/:id },     to: param }',
    '  - { name: literal, match: { path: /api/orders },  to: literal }',
    ''
  ].join('\n'))
  t.equal(await servedBy(g, '/api/orders'), 'literal')
  t.equal(await servedBy(g, '/api/7'), 'param')
  t.equal(await servedBy(g, '/api/orders/7'), 'rest')
})

t.test('more literal segments win over fewer, wherever they are', async (t) => {
  const { g } = await gatewayWith(t, ['two', 'one'], [
    '  - { name: one, match: { path: /api/:kind/:id }, to: one }',
    '  - { name: two, match: { path: /api/:kind/7/** }, to: two }',
    ''
  ].join('\n'))
  t.equal(await servedBy(g, '/api/orders/7'), 'two', '/api/:kind/7/** has two literals, /api/:kind/:id one')
  t.equal(await servedBy(g, '/api/orders/8'), 'one')
})

t.test('* takes exactly one segment; ** takes zero or more', async (t) => {
  const { g } = await gatewayWith(t, ['star', 'rest'], [
    '  - { name: star, match: { path: /s/* },  to: star }',
    '  - { name: rest, match: { path: /r/** }, to: rest }',
    ''
  ].join('\n'))
  t.equal(await servedBy(g, '/s/a'), 'star')
  t.equal(await servedBy(g, '/s'), 404)
  t.equal(await servedBy(g, '/s/a/b'), 404)
  t.equal(await servedBy(g, '/r'), 'rest', 'zero segments')
  t.equal(await servedBy(g, '/r/a'), 'rest')
  t.equal(await servedBy(g, '/r/a/b/c/d'), 'rest')
  t.equal(await servedBy(g, '/rx'), 404, '** does not extend a literal segment')
})

t.test('methods restrict a route; a route without methods takes any', async (t) => {
  const { g } = await gatewayWith(t, ['reader', 'writer', 'other'], [
    '  - { name: read,  match: { path: /orders, methods: [GET, HEAD] }, to: reader }',
    '  - { name: write, match: { path: /orders, methods: [POST] },      to: writer }',
    '  - { name: other, match: { path: /orders },                       to: other }',
    ''
  ].join('\n'))
  t.equal(await servedBy(g, '/orders', { method: 'GET' }), 'reader')
  t.equal(await servedBy(g, '/orders', { method: 'POST' }), 'writer')
  t.equal(await servedBy(g, '/orders', { method: 'DELETE' }), 'other')
})

t.test('a method no route accepts is route_not_found', async (t) => {
  const { g } = await gatewayWith(t, ['reader'], '  - { name: read, match: { path: /orders, methods: [GET] }, to: reader }\n')
  const r = await req(g.url + '/orders', { method: 'PUT' })
  t.equal(r.status, 404)
  t.equal(r.json().code, 'route_not_found')
})

t.test('host matches the Host header without its port, case-insensitively', async (t) => {
  const { g } = await gatewayWith(t, ['shop', 'wild', 'any'], [
    // shop.example.com is also under *.example.com: a priority says which wins.
    '  - { name: shop, match: { path: /**, host: shop.example.com },  to: shop, priority: 1 }',
    '  - { name: wild, match: { path: /**, host: "*.example.com" },  to: wild }',
    '  - { name: any,  match: { path: /** },                         to: any }',
    ''
  ].join('\n'))
  t.equal(await servedBy(g, '/x', { headers: { host: 'shop.example.com' } }), 'shop')
  t.equal(await servedBy(g, '/x', { headers: { host: 'shop.example.com:8443' } }), 'shop')
  t.equal(await servedBy(g, '/x', { headers: { host: 'SHOP.Example.com' } }), 'shop')
  t.equal(await servedBy(g, '/x', { headers: { host: 'admin.example.com:80' } }), 'wild')
  t.equal(await servedBy(g, '/x', { headers: { host: 'example.com' } }), 'any')
  t.equal(await servedBy(g, '/x'), 'any')
})

t.test('headers match an exact value or a /regex/', async (t) => {
  const { g } = await gatewayWith(t, ['beta', 'mobile', 'default'], [
    // A request may carry both headers: a priority says which wins.
    '  - { name: beta,    match: { path: /**, headers: { x-beta: "on" } },                 to: beta, priority: 1 }',
    '  - { name: mobile,  match: { path: /**, headers: { user-agent: "/^FigApp\\\\/\\\\d+/" } }, to: mobile }',
    '  - { name: default, match: { path: /** },                                            to: default }',
    ''
  ].join('\n'))
  t.equal(await servedBy(g, '/x', { headers: { 'x-beta': 'on' } }), 'beta')
  t.equal(await servedBy(g, '/x', { headers: { 'X-Beta': 'on' } }), 'beta', 'header names are case-insensitive')
  t.equal(await servedBy(g, '/x', { headers: { 'x-beta': 'ON' } }), 'default', 'exact values are case-sensitive')
  t.equal(await servedBy(g, '/x', { headers: { 'x-beta': 'on, off' } }), 'default')
  t.equal(await servedBy(g, '/x', { headers: { 'user-agent': 'FigApp/3.1 (iOS)' } }), 'mobile')
  t.equal(await servedBy(g, '/x', { headers: { 'user-agent': 'Mozilla/5.0 FigApp/3' } }), 'default')
  t.equal(await servedBy(g, '/x', { headers: { 'x-beta': 'on', 'user-agent': 'FigApp/3' } }), 'beta')
  t.equal(await servedBy(g, '/x'), 'default')
})

t.test('priority breaks a tie between equally specific routes; the higher wins', async (t) => {
  const { g } = await gatewayWith(t, ['low', 'high'], [
    '  - { name: low,  match: { path: /api/:id },   to: low }',
    '  - { name: high, match: { path: /api/:name }, to: high, priority: 10 }',
    ''
  ].join('\n'))
  t.equal(await servedBy(g, '/api/7'), 'high')
})

t.test('a trailing slash is significant: /a and /a/ are different paths', async (t) => {
  const { g } = await gatewayWith(t, ['bare', 'slash'], [
    '  - { name: bare,  match: { path: /a },  to: bare }',
    '  - { name: slash, match: { path: /a/ }, to: slash }',
    ''
  ].join('\n'))
  t.equal(await servedBy(g, '/a'), 'bare')
  t.equal(await servedBy(g, '/a/'), 'slash')
  t.equal(await servedBy(g, '/a//'), 'slash', '/a// is normalised to /a/')
})

t.test('a trailing slash is not matched by a one-segment wildcard', async (t) => {
  const { g } = await gatewayWith(t, ['param', 'star'], [
    '  - { name: param, match: { path: /p/:id }, to: param }',
    '  - { name: star,  match: { path: /s/* },   to: star }',
    ''
  ].join('\n'))
  t.equal(await servedBy(g, '/p/'), 404)
  t.equal(await servedBy(g, '/s/'), 404)
  t.equal(await servedBy(g, '/p/1/'), 404)
})
