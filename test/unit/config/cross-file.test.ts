import t from 'tap'
import { formatIssue } from '../../../src/errors.ts'
import { routeIssues, tableOf, writeTree } from '../config-tree.ts'

const MONOLITH = 'backends:\n  monolith: { url: "http://127.0.0.1:1" }\nroutes:\n  - name: monolith\n    match: { path: /** }\n    to: monolith\n'

t.test('a backend defined in one file can be used by a route in another', async (t) => {
  const dir = writeTree(t, {
    'routes/00-backends.yaml': 'backends:\n  orders: { url: "http://127.0.0.1:2" }\n',
    'routes/monolith.yaml': MONOLITH,
    'routes/orders.yaml': 'routes:\n  - name: orders\n    match: { path: /api/orders/** }\n    split: { orders: 1, monolith: 9 }\n'
  })
  const table = tableOf(dir)
  t.same(table.routeByName.get('orders')!.targets.backends.map((b) => b.name), ['orders', 'monolith'])
  t.same(table.files, ['routes/00-backends.yaml', 'routes/monolith.yaml', 'routes/orders.yaml'])
})

t.test('a route naming an unknown backend is an error at that route’s file and line', async (t) => {
  const issues = routeIssues(t, {
    'routes/monolith.yaml': MONOLITH,
    'routes/orders.yaml': 'routes:\n  - name: orders\n    match: { path: /api/orders/** }\n    split: { orders-svc: 1, monolith: 9 }\n    fallback: monolit\n'
  })
  t.equal(issues.length, 2)
  t.match(issues[0], { file: 'routes/orders.yaml', line: 4, message: /unknown backend "orders-svc"/ })
  t.match(issues[1], { file: 'routes/orders.yaml', line: 5, message: /unknown backend "monolit"/ })
})

t.test('a backend defined in two files is an error naming both places', async (t) => {
  const issues = routeIssues(t, {
    'routes/a.yaml': MONOLITH,
    'routes/b.yaml': '# the orders team copied it\nbackends:\n  monolith: { url: "http://127.0.0.1:3" }\n'
  })
  t.equal(issues.length, 1)
  t.match(issues[0], { file: 'routes/b.yaml', line: 3, message: /"monolith".*routes\/a\.yaml:2/ })
})

t.test('two routes with the same name are an error naming both places', async (t) => {
  const issues = routeIssues(t, {
    'routes/a.yaml': MONOLITH + '  - name: orders\n    match: { path: /api/orders }\n    to: monolith\n',
    'routes/b.yaml': 'routes:\n  - name: orders\n    match: { path: /api/v2/orders }\n    to: monolith\n'
  })
  t.equal(issues.length, 1)
  t.match(issues[0], { file: 'routes/b.yaml', line: 2, message: /"orders".*routes\/a\.yaml:7/ })
})

t.test('overlapping routes of equal specificity without priority are an error naming both files and lines', async (t) => {
  const issues = routeIssues(t, {
    'routes/a.yaml': MONOLITH + '  - name: orders-by-id\n    match: { path: /api/orders/:id }\n    to: monolith\n',
    'routes/b.yaml': 'routes:\n  - name: orders-by-number\n    match: { path: /api/orders/:number }\n    to: monolith\n'
  })
  t.equal(issues.length, 1)
  const text = formatIssue(issues[0]!)
  t.match(text, /^routes\/b\.yaml:2:/)
  t.match(text, /orders-by-number/)
  t.match(text, /orders-by-id/)
  t.match(text, /routes\/a\.yaml:7/)
})

t.test('a * and a :param at the same place do not conflict: the :param is more specific', async (t) => {
  const dir = writeTree(t, {
    'routes/a.yaml': MONOLITH + '  - name: star\n    match: { path: /api/* }\n    to: monolith\n  - name: param\n    match: { path: /api/:id }\n    to: monolith\n'
  })
  const table = tableOf(dir)
  t.same(table.routes.map((r) => r.name), ['param', 'star', 'monolith'])
})

t.test('the same overlap is accepted when either route sets a priority, and the higher priority ranks first', async (t) => {
  for (const [a, b, first] of [['priority: 10', '', 'orders-by-id'], ['', 'priority: 10', 'orders-by-number'], ['priority: -1', '', 'orders-by-number']] as const) {
    const dir = writeTree(t, {
      'routes/a.yaml': MONOLITH + `  - name: orders-by-id\n    match: { path: /api/orders/:id }\n    to: monolith\n    ${a}\n`,
      'routes/b.yaml': `routes:\n  - name: orders-by-number\n    match: { path: /api/orders/:number }\n    to: monolith\n    ${b}\n`
    })
    const table = tableOf(dir)
    t.equal(table.routes[0]!.name, first, `${a || 'none'} vs ${b || 'none'}`)
  }
})

t.test('routes on the same path with disjoint methods or different hosts do not overlap', async (t) => {
  const dir = writeTree(t, {
    'routes/a.yaml': MONOLITH + [
      '  - name: read',
      '    match: { path: /api/orders, methods: [GET, HEAD] }',
      '    to: monolith',
      '  - name: write',
      '    match: { path: /api/orders, methods: [POST] }',
      '    to: monolith',
      '  - name: shop',
      '    match: { path: /cart, host: shop.example.com }',
      '    to: monolith',
      '  - name: admin',
      '    match: { path: /cart, host: admin.example.com }',
      '    to: monolith',
      ''
    ].join('\n')
  })
  t.equal(tableOf(dir).routes.length, 5)
})

t.test('routes whose methods intersect do overlap', async (t) => {
  const issues = routeIssues(t, {
    'routes/a.yaml': MONOLITH + '  - name: a\n    match: { path: /x, methods: [GET, POST] }\n    to: monolith\n  - name: b\n    match: { path: /x, methods: [POST, PUT] }\n    to: monolith\n'
  })
  t.match(issues, [{ file: 'routes/a.yaml', line: 10, message: /"b".*"a"/ }])
})
