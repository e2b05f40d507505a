import t from 'tap'
import { echo, startOrigin } from '../helpers/origin.ts'
import { gatewayWith, req, startGateway } from '../helpers/gateway.ts'

t.test('a prefix rewrite replaces the matched prefix and keeps the rest and the query', async (t) => {
  const { g } = await gatewayWith(t, ['orders'], [
    '  - name: orders-v2',
    '    match: { path: /api/v2/orders/** }',
    '    to: orders',
    '    rewrite: { prefix: { from: /api/v2/orders, to: /orders } }',
    ''
  ].join('\n'))
  t.equal((await req(`${g.url}/api/v2/orders/7/items?expand=1`)).json().url, '/orders/7/items?expand=1')
  t.equal((await req(`${g.url}/api/v2/orders`)).json().url, '/orders')
  t.equal((await req(`${g.url}/api/v2/orders/`)).json().url, '/orders/')
})

t.test('a prefix rewrite to / strips the prefix', async (t) => {
  const { g } = await gatewayWith(t, ['svc'], '  - name: strip\n    match: { path: /svc/** }\n    to: svc\n    rewrite: { prefix: { from: /svc, to: / } }\n')
  t.equal((await req(`${g.url}/svc/health`)).json().url, '/health')
  t.equal((await req(`${g.url}/svc`)).json().url, '/')
})

t.test('a path template fills in the route’s :params', async (t) => {
  const { g } = await gatewayWith(t, ['svc'], [
    '  - name: legacy-order',
    '    match: { path: /shop/order.php/:id }',
    '    to: svc',
    '    rewrite: { path: /x/:id }',
    '  - name: item',
    '    match: { path: /users/:user/items/:item }',
    '    to: svc',
    '    rewrite: { path: /items/:item/owner/:user }',
    ''
  ].join('\n'))
  t.equal((await req(`${g.url}/shop/order.php/42?ref=mail`)).json().url, '/x/42?ref=mail')
  t.equal((await req(`${g.url}/users/ann/items/9`)).json().url, '/items/9/owner/ann')
})

t.test('a backend URL with a base path prefixes what the backend receives', async (t) => {
  const svc = await startOrigin(t, echo('svc'))
  const g = await startGateway(t, {
    'a.yaml': [
      'backends:',
      `  plain:    { url: "${svc.url}/base" }`,
      `  slashed:  { url: "${svc.url}/base/" }`,
      `  rewritten: { url: "${svc.url}/base" }`,
      'routes:',
      '  - { name: plain,   match: { path: /p/** }, to: plain }',
      '  - { name: slashed, match: { path: /s/** }, to: slashed }',
      '  - name: rewritten',
      '    match: { path: /api/v2/orders/** }',
      '    to: rewritten',
      '    rewrite: { prefix: { from: /api/v2/orders, to: /orders } }',
      ''
    ].join('\n')
  })
  t.equal((await req(`${g.url}/p/x?q=1`)).json().url, '/base/p/x?q=1')
  t.equal((await req(`${g.url}/s/x`)).json().url, '/base/s/x', 'a trailing slash on the base path is not doubled')
  t.equal((await req(`${g.url}/api/v2/orders/7`)).json().url, '/base/orders/7', 'rewrite first, then the base path')
})
